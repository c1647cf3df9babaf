//! Adversarial review of the soundness rule (SPEC, second revision,
//! "Soundness: nothing safe makes the library read memory"): each test is
//! an input written without `unsafe` (bar `unsafe impl Referents` that
//! honours the trait's documented contract) that makes the checker read
//! memory no borrow and no `unsafe` promise vouches for, or that makes a
//! check give a wrong answer.
//!
//! The tests fail until the library is fixed; under Miri
//! (`MIRIFLAGS=-Zmiri-permissive-provenance cargo +nightly miri test --test
//! review_findings`) the reads are reported as undefined behaviour.

use pointer_escapes::__private::{CheckFn, FlowRoot, HasReferents, Probe};
use pointer_escapes::{
    pointer_escapes, set_check_mode, try_check_referents, with_pinned, CheckMode, Pinner,
    Referents, Region, Via, Visitor,
};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard};

/// One test at a time: `everything_pinned` pins every address, which would
/// make the other tests' unpinned memory look pinned.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A `Copy` value whose impl reports one of its own fields through
/// `borrowed`. This honours `Referents`' contract: a field of `self` stays
/// live and unchanged for as long as `self` is borrowed shared (no interior
/// mutability between `self` and it), and the impl mutates nothing.
#[derive(Clone, Copy)]
struct Holder {
    item: &'static Vec<u8>,
}

// SAFETY: `item` is a field of `self`: live and unchanged while `self` is
// borrowed shared; nothing is mutated.
unsafe impl Referents for Holder {
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.borrowed(core::slice::from_ref(&self.item), Via::Field("item"));
    }
}

/// A packed struct: the derive visits each field through a copy
/// (`&{ self.field }`), a temporary.
#[derive(Referents, Clone, Copy)]
#[repr(C, packed)]
struct PackedHolder {
    tag: u8,
    holder: Holder,
}

fn leaked_vec() -> &'static Vec<u8> {
    Box::leak(Box::new(vec![7u8; 8]))
}

/// Pins what a correct walk needs below a `Holder` (whose own memory the
/// caller pins): the `Vec` header and its buffer.
fn pin_holder_graph(pinner: &mut Pinner<'_>, item: &'static Vec<u8>) {
    pinner.pin(item);
    pinner.pin_slice(&item[..]);
}

/// Rule (Referents' Safety contract, which the walk relies on to read a
/// `borrowed` slice later): each slice given to `Visitor::borrowed` stays
/// live for as long as `self` is borrowed. The shipped `Cell<T: Copy>` impl
/// visits a temporary copy (`self.get().visit_referents(..)`), so slices
/// into that copy are reported as borrowed although they die when the impl
/// returns. With everything a correct walk needs pinned, the check fails
/// on an address that is neither the cell nor anything it reaches: the
/// dead temporary on the impl's stack frame.
#[test]
fn borrowed_slices_reported_by_a_shipped_impl_live_as_long_as_the_value() {
    let _serial = serial();
    let item = leaked_vec();
    let cell = Cell::new(Holder { item });
    let mut pinner = Pinner::new();
    pinner.pin(&cell);
    pin_holder_graph(&mut pinner, item);
    if let Err(err) = try_check_referents(&cell) {
        let cell_addr = &cell as *const _ as usize;
        panic!(
            "the cell (at {cell_addr:#x}) and everything it reaches are pinned, yet the check \
             failed on {:#x}, a temporary copy the Cell impl reported as borrowed: {err}",
            err.region.addr()
        );
    }
}

/// Rule: as above, for `#[derive(Referents)]` on a `#[repr(packed)]`
/// struct: each field is visited through `&{ self.field }`, a temporary,
/// and slices the field's impl reports as borrowed point into it.
#[test]
fn borrowed_slices_reported_by_a_derived_packed_struct_live_as_long_as_the_value() {
    let _serial = serial();
    let item = leaked_vec();
    let packed = PackedHolder {
        tag: 1,
        holder: Holder { item },
    };
    let mut pinner = Pinner::new();
    pinner.pin(&packed);
    pin_holder_graph(&mut pinner, item);
    if let Err(err) = try_check_referents(&packed) {
        let addr = &packed as *const _ as usize;
        panic!(
            "the packed struct (at {addr:#x}) and everything it reaches are pinned, yet the \
             check failed on {:#x}, a temporary copy of a field: {err}",
            err.region.addr()
        );
    }
}

/// Every address but null pinned from safe code: a pin proves nothing, so
/// this must not let the checker read anything it could not read before.
fn everything_pinned<R>(f: impl FnOnce() -> R) -> R {
    let all =
        Region::new(std::ptr::dangling::<u8>(), usize::MAX - 1).expect("fits the address space");
    with_pinned(&[all], f)
}

/// Rule (SPEC: no safe API may make the checker read through a pointer not
/// vouched for by a borrow or an `unsafe` promise; a pin is not such a
/// promise). With every address pinned (`with_pinned`, safe), the walk
/// follows the `Cell` impl's temporary into a frame that has returned and
/// reads a `&Vec<u8>` out of dead stack memory. Miri: "dangling pointer" /
/// use of a dead allocation.
#[test]
fn a_safe_check_never_reads_a_dead_temporary_reported_as_borrowed() {
    let _serial = serial();
    let item = leaked_vec();
    let cell = Cell::new(Holder { item });
    let packed = PackedHolder {
        tag: 2,
        holder: Holder { item },
    };
    everything_pinned(|| {
        // Natively the stale bytes are usually still there, so these pass;
        // under Miri the read of the dead temporary is reported as UB.
        try_check_referents(&cell).expect("everything is pinned");
        try_check_referents(&packed).expect("everything is pinned");
    });
}

/// A slice-tailed type: `&Lying<[u8; 4]>` coerces to `&Lying<[u8]>` in safe
/// code, and an unsized type escapes `FlowRoot`'s blanket impl for sized
/// `T: Referents`.
struct Lying<T: ?Sized> {
    _head: u8,
    _tail: T,
}

// SAFETY: reports nothing, for any value (so `HOLDS_POINTERS` may be false).
unsafe impl Referents for Lying<[u8]> {
    const HOLDS_POINTERS: bool = false;
    fn visit_referents<V: Visitor>(&self, _visitor: &mut V) {}
}

/// Three words that are not a `Vec<u8>` (a `Vec` whose fields are all 16
/// would point at address 0x10).
static NOT_A_VEC: [usize; 3] = [16, 16, 16];

/// `FlowRoot` is a safe trait: an impl may say anything, and the run-time
/// believes it. This one names `NOT_A_VEC` as one `Vec<u8>` to check.
impl FlowRoot for Lying<[u8]> {
    fn elements(&self) -> (usize, usize, Option<CheckFn>) {
        let as_vec: *const Vec<u8> = NOT_A_VEC.as_ptr().cast();
        (as_vec as usize, 1, Probe::of(&as_vec).check_fn())
    }
}

#[pointer_escapes]
fn take_lying(#[flow_through] value: &Lying<[u8]>) {
    let _ = value;
}

/// Rule (SPEC: no expansion of `#[pointer_escapes]` on a safe fn may cause
/// the checker to read through a pointer not vouched for by a borrow or an
/// `unsafe` promise). `#[flow_through]` on a reference in a safe fn trusts
/// `FlowRoot::elements` for the address, count and type to read; a safe
/// impl of it (reachable as `pointer_escapes::__private::FlowRoot`) hands
/// the checker three arbitrary words to read as a `Vec<u8>`, and the check
/// then reports "unpinned" memory at 0x10, an address it could only have
/// found by reading them. Miri: a dangling reference built from 0x10.
#[test]
fn a_safe_flow_through_reads_only_the_borrowed_argument() {
    let _serial = serial();
    set_check_mode(CheckMode::Args);
    let value: &Lying<[u8]> = &Lying {
        _head: 0,
        _tail: [0u8; 4],
    };
    let result = catch_unwind(AssertUnwindSafe(|| take_lying(value)));
    if let Err(panic) = result {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| "(not a string)".into());
        panic!(
            "the check read memory the argument does not borrow (a safe FlowRoot impl named \
             it): {msg}"
        );
    }
}
