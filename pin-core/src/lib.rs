//! The run-time of `pointer-escapes`: regions, the process-wide pin
//! registry, [`Pinner`], [`OwnedPin`], [`Referents`], the checker, the
//! report and the pin-aware allocator.
//!
//! Users depend on the `pointer-escapes` crate, which re-exports everything
//! here together with the `#[pointer_escapes]` and `#[derive(Referents)]`
//! macros; see its documentation for the guide.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

// The registry, the memory kinds and the allocator use Linux's libc and
// /proc: say so once, rather than with a page of "cannot find in libc".
#[cfg(not(target_os = "linux"))]
compile_error!(
    "pointer-escapes supports Linux only (it reads /proc and uses Linux's libc); \
     build for a `*-linux-*` target"
);

mod alloc;
mod call;
mod call_lints;
mod check;
mod diag;
mod memory;
mod origin;
mod owned;
mod pinner;
pub mod referents;
mod region;
mod registry;
mod report;
mod settings;
mod statics;
mod sys_vec;
#[cfg(test)]
mod test_rng;

pub use alloc::PinAwareAlloc;
pub use check::{
    assert_pinned, check_mode, check_referents, check_referents_through_raw, set_check_mode,
    store_pointer, try_check_referents, try_check_referents_through_raw, CheckFailure, CheckMode,
    FailureCause, StorablePointer,
};
pub use memory::{memory_kind, register_thread, MemoryKind};
pub use origin::{PinKind, Site, ThreadNumber};
pub use owned::{FreedWhilePinned, OwnedPin, StableBuf, StableBufMut};
pub use pinner::{scope, with_pinned, Pinner, ScopedPinner};
pub use referents::{Referents, Via, Visitor};
pub use region::{Region, RegionError};
pub use registry::{is_pinned, is_region_pinned, pin_count, AllocEvent, AllocEventKind};
pub use report::{assert_no_pins, snapshot, LivePin, Snapshot};

/// Support for macro-generated code. Not public API: it changes without
/// notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::call::{
        referent_count, CallPins, CallRecorder, CheckFn, EscapeLen, EscapingPointer, Extent,
        FlowRoot, HasReferents, NoReferents, Probe,
    };
    pub use crate::call_lints::{
        pointee_as, ConstPointee, ConstProbe, LintProbe, PointeeHasReferents,
        PointeeHoldsNoPointers, PointeeUnknown, PointerFree, Quiet, WritablePointee,
    };
    pub use crate::check::retained::check_returned;
    pub use crate::referents::cstr::{cstr_extent, CChar};
    pub use crate::referents::{Referents, Via, Visitor};
    pub use crate::registry::{
        frees_looked_up_under_lock, quarantine_blocks_examined, quarantine_lookups,
    };
}
