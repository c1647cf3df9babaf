//! The checker, Go's `cgocheck` for Rust: every pointer reachable from what
//! is handed to C must lead to pinned memory.
//!
//! Automatic checks (at `#[pointer_escapes]` calls and `store_pointer`)
//! follow [`CheckMode`]; the explicit ones here always run. A failed check
//! panics with a [`CheckFailure`] message; the panic is an ordinary unwind
//! and the registry is left exactly as it was.

mod failure;
mod mode;
pub(crate) mod retained;
pub(crate) mod walk;

pub(crate) use failure::RootKind;
pub use failure::{CheckFailure, FailureCause};
pub(crate) use mode::{args_checked, call_pins_wanted, note_allocator};
pub use mode::{check_mode, set_check_mode, CheckMode};

use crate::referents::Referents;
use crate::region::Region;
use crate::registry;
use core::panic::Location;

/// Checks that every pointer reachable from `value` leads to pinned memory,
/// following pinned memory further (a pinned `iovec` array whose entries
/// point at unpinned buffers fails). `value` itself need not be pinned.
///
/// # What it reads
/// Only what the borrow of `value` proves live: `value` itself and what it
/// owns or borrows (`Box`, `Vec`, `String`, `&T`), to any depth. A raw
/// pointer (`*const T`, `NonNull<T>`, a C struct's pointer field) is
/// checked for being pinned but never read: a pin does not prove that the
/// memory is live or holds a valid `T`. Where the pointee of a pinned raw
/// pointer can hold pointers itself, the check fails with
/// [`FailureCause::NotVouched`] instead of skipping the rest: use
/// [`check_referents_through_raw`] to vouch for raw pointers. Pointees
/// that hold no pointers (`u8`, `c_void`, see
/// [`Referents::HOLDS_POINTERS`]) need no reading: their extent being
/// pinned is the whole check.
///
/// Go's rule: cgo's "Go pointer to unpinned Go pointer" check
/// (`cgocheck=1`), which follows pointers through pinned memory.
///
/// # Panics
/// With a message naming the value's type, the path to the pointer
/// (`value[3].iov_base`), the element index, the address and size, and the
/// fix. Use [`try_check_referents`] to get the failure as a value.
///
/// ```
/// use pointer_escapes::{check_referents, Pinner};
///
/// let bufs = vec![vec![0u8; 64]; 4];
/// let mut pinner = Pinner::new();
/// pinner.pin_slice(&bufs);          // the outer buffer of four Vec<u8>
/// for b in &bufs {
///     pinner.pin_slice(b);          // and each inner buffer
/// }
/// check_referents(&bufs);
/// ```
///
/// ```should_panic
/// use pointer_escapes::check_referents;
/// let bufs = vec![vec![0u8; 64]; 4];
/// check_referents(&bufs); // nothing is pinned
/// ```
#[track_caller]
pub fn check_referents<T: Referents + ?Sized>(value: &T) {
    let site = Location::caller();
    if let Err(failure) = check_value_at(value, site) {
        panic!("{failure}");
    }
}

/// [`check_referents`] returning the failure instead of panicking.
///
/// # Errors
/// The first pointer found leading to unpinned memory, or to a pinned raw
/// pointee that the check may not read ([`FailureCause::NotVouched`]).
///
/// ```
/// use pointer_escapes::try_check_referents;
/// let s = String::from("not pinned");
/// let err = try_check_referents(&s).unwrap_err();
/// assert_eq!(err.region.addr(), s.as_ptr() as usize);
/// assert_eq!(err.region.len(), s.len());
/// ```
#[track_caller]
pub fn try_check_referents<T: Referents + ?Sized>(value: &T) -> Result<(), CheckFailure> {
    check_value_at(value, Location::caller()).map_err(|b| *b)
}

/// [`check_referents`] that also reads through the raw pointers it reaches,
/// on the caller's promise that they are valid: the whole graph is checked,
/// as Go's cgocheck does (Go can, because its runtime knows every object).
///
/// # Safety
/// Every raw pointer reachable from `value` through `Referents` (a
/// `*const T`, a `NonNull<T>`, a field with `#[referents(len = ..)]`) that
/// leads to pinned memory must, for the duration of the call, point at as
/// many initialised, valid values of its pointee type as its `Referents`
/// impl reports (one, or the `len`). A pin does not make this true: a
/// `Pinner` that was `mem::forget`-ed, `with_pinned` of a stale region, or
/// a pointer cast to the wrong type all break it.
///
/// # Panics
/// As [`check_referents`].
///
/// ```
/// use pointer_escapes::{check_referents_through_raw, Pinner};
///
/// #[repr(C)]
/// struct Request { buf: *const Vec<u8> }
/// // SAFETY: `buf` points at one Vec<u8> whenever it is valid.
/// unsafe impl pointer_escapes::Referents for Request {
///     fn visit_referents<V: pointer_escapes::Visitor>(&self, v: &mut V) {
///         v.pointer(self.buf, 1, pointer_escapes::Via::Field("buf"));
///     }
/// }
///
/// let data = vec![0u8; 16];
/// let mut pinner = Pinner::new();
/// let req = Request { buf: pinner.pin(&data) };
/// pinner.pin_slice(&data);
/// // SAFETY: `req.buf` points at `data`, which outlives this call.
/// unsafe { check_referents_through_raw(&req) };
/// ```
#[track_caller]
pub unsafe fn check_referents_through_raw<T: Referents + ?Sized>(value: &T) {
    // SAFETY: forwarded from the caller.
    if let Err(failure) = unsafe { try_check_referents_through_raw(value) } {
        panic!("{failure}");
    }
}

/// [`check_referents_through_raw`] returning the failure instead of
/// panicking.
///
/// # Safety
/// As [`check_referents_through_raw`].
///
/// # Errors
/// The first pointer found leading to unpinned memory.
#[track_caller]
pub unsafe fn try_check_referents_through_raw<T: Referents + ?Sized>(
    value: &T,
) -> Result<(), CheckFailure> {
    let site = Location::caller();
    let context = || {
        format!(
            "check_referents_through_raw::<{}> at {site}",
            core::any::type_name::<T>()
        )
    };
    let root = walk::Root {
        name: "value",
        kind: RootKind::Value,
        context: &context,
    };
    // SAFETY: the caller vouches for every raw pointer reachable from
    // `value`.
    unsafe { walk::check_value_trusted(&root, value) }.map_err(|b| *b)
}

fn check_value_at<T: Referents + ?Sized>(
    value: &T,
    site: &'static Location<'static>,
) -> Result<(), Box<CheckFailure>> {
    let context = || {
        format!(
            "check_referents::<{}> at {site}",
            core::any::type_name::<T>()
        )
    };
    walk::check_value(
        &walk::Root {
            name: "value",
            kind: RootKind::Value,
            context: &context,
        },
        value,
    )
}

/// Panics unless every byte of `[ptr, ptr + len)` is pinned (or static).
///
/// ```
/// use pointer_escapes::{assert_pinned, Pinner};
/// let buf = [0u8; 32];
/// let mut pinner = Pinner::new();
/// let p = pinner.pin(&buf);
/// assert_pinned(p, 32);
/// ```
#[track_caller]
pub fn assert_pinned<T: ?Sized>(ptr: *const T, len: usize) {
    let addr = ptr.cast::<u8>() as usize;
    let region = match Region::new(ptr, len) {
        Ok(r) => r,
        Err(e) => panic!("pointer-escapes: assert_pinned: {e}"),
    };
    if !registry::region_covered(region) {
        panic!(
            "pointer-escapes: assert_pinned at {}: {addr:#x} ({}) is not pinned{}; \
             pin it with a Pinner (or OwnedPin) before handing it to C",
            Location::caller(),
            crate::region::ByteCount(len),
            if registry::overlaps_pin(region) {
                " (only part of it is)"
            } else {
                ""
            }
        );
    }
}

/// A raw pointer that can be stored into C memory.
pub trait StorablePointer: Copy {
    /// The address it holds (0 for null).
    fn address(self) -> usize;
}

impl<T: ?Sized> StorablePointer for *const T {
    fn address(self) -> usize {
        self.cast::<u8>() as usize
    }
}

impl<T: ?Sized> StorablePointer for *mut T {
    fn address(self) -> usize {
        self.cast::<u8>() as usize
    }
}

impl<T: ?Sized> StorablePointer for core::ptr::NonNull<T> {
    fn address(self) -> usize {
        self.as_ptr().cast::<u8>() as usize
    }
}

impl<T: ?Sized> StorablePointer for Option<core::ptr::NonNull<T>> {
    fn address(self) -> usize {
        self.map_or(0, |p| p.as_ptr().cast::<u8>() as usize)
    }
}

/// Writes `ptr` into `slot`, C memory that will keep it (ptrguard's `Poke`,
/// Go's `cgocheck=2` write barrier). In [`CheckMode::Args`] and
/// [`CheckMode::Deep`] (it is an explicit call, so both check), first
/// checks that C may keep `ptr` after the current call returns: the address
/// must be covered by a pin that outlives the call (`Pinner`, `OwnedPin`,
/// `with_pinned`; not a `#[pointer_escapes]` call's own pins) or be static,
/// and must not lie in any registered thread's stack or thread-local
/// storage, which no pin keeps alive. Null passes. Only the address is
/// checked (the pointee's size is not known here) and nothing is read
/// through `ptr`. In [`CheckMode::Off`] nothing is checked.
///
/// # Safety
/// `slot` must be valid for a write of `P` and suitably aligned.
///
/// # Panics
/// At the caller's line: if `slot` is null (nothing is written), or, when
/// checking, if `ptr` fails the check (nothing is written either); the
/// message names the address, the memory's kind (the stack of which
/// thread, pinned only for a call, not pinned) and the fix.
///
/// ```
/// use pointer_escapes::{store_pointer, set_check_mode, CheckMode, OwnedPin};
///
/// #[repr(C)]
/// struct Request { buf: *mut u8 }
///
/// let mut data = OwnedPin::new(vec![0u8; 16]);
/// let mut req = Request { buf: std::ptr::null_mut() };
/// set_check_mode(CheckMode::Args);
/// // SAFETY: `req.buf` is a valid, aligned slot.
/// unsafe { store_pointer(&mut req.buf, data.as_mut_ptr()) };
/// assert_eq!(req.buf, data.as_mut_ptr());
/// # let _ = data.into_inner();
/// ```
///
/// ```should_panic
/// use pointer_escapes::{store_pointer, set_check_mode, CheckMode};
///
/// let mut context = 0u64;              // a stack local: gone when this frame returns
/// let mut slot: *mut u64 = std::ptr::null_mut();
/// set_check_mode(CheckMode::Args);
/// // SAFETY: `slot` is a valid, aligned slot.
/// unsafe { store_pointer(&mut slot, &mut context as *mut u64) };
/// ```
#[track_caller]
pub unsafe fn store_pointer<P: StorablePointer>(slot: *mut P, ptr: P) {
    if slot.is_null() {
        panic!(
            "pointer-escapes: store_pointer at {}: the slot is null; nothing was written",
            Location::caller()
        );
    }
    let addr = ptr.address();
    if args_checked() && addr != 0 {
        retained::check_stored(addr, slot as usize);
    }
    // SAFETY: the caller guarantees `slot` is valid and aligned for `P`.
    unsafe { slot.write(ptr) };
}
