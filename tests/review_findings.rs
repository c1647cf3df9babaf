//! Adversarial review of the soundness rule (SPEC, second revision,
//! "Soundness: nothing safe makes the library read memory"): each test is
//! an input written without `unsafe` (bar `unsafe impl Referents` that
//! honours the trait's documented contract) that makes the checker read
//! memory no borrow and no `unsafe` promise vouches for, or that makes a
//! check give a wrong answer.
//!
//! Each failed on the first soundness fix and passes now; they run under
//! Miri (`scripts/miri.sh`), which reported the reads as undefined
//! behaviour before the fix. The `FlowRoot` attack no longer compiles (the
//! trait is sealed): see ui-tests `flow_root_is_sealed`.

use pointer_escapes::{
    try_check_referents, with_pinned, CheckFailure, FailureCause, Pinner, Referents, Region, Via,
    Visitor,
};
use std::cell::Cell;
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

/// A `Vec` that lives for the whole process (a static, so Miri's leak
/// check does not count it).
fn leaked_vec() -> &'static Vec<u8> {
    static ITEM: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| vec![7u8; 8]);
    &ITEM
}

/// Pins what a correct walk needs below a `Holder` (whose own memory the
/// caller pins): the `Vec` header and its buffer.
fn pin_holder_graph(pinner: &mut Pinner<'_>, item: &'static Vec<u8>) {
    pinner.pin(item);
    pinner.pin_slice(&item[..]);
}

/// What a copy reports about its own bytes is re-reported at the real
/// value's place, as a raw pointer: the safe check refuses to read it
/// (NotVouched) and names the real address, never the dead temporary's.
#[track_caller]
fn assert_names_the_real_place(result: Result<(), CheckFailure>, real: usize) {
    let err = result.expect_err("the re-reported field is a raw pointer to a value with pointers");
    assert_eq!(err.cause, FailureCause::NotVouched, "{err}");
    assert_eq!(err.region.addr(), real, "{err}");
}

/// Rule (Referents' Safety contract, which the walk relies on to read a
/// `borrowed` slice later): a slice the walk reads as borrowed lives as
/// long as the value. The `Cell<T: Copy>` impl visits a temporary copy;
/// what the copy reports about itself is moved to the cell's own content,
/// as a raw pointer.
#[test]
fn borrowed_slices_reported_by_a_shipped_impl_live_as_long_as_the_value() {
    let _serial = serial();
    let item = leaked_vec();
    let cell = Cell::new(Holder { item });
    let mut pinner = Pinner::new();
    pinner.pin(&cell);
    pin_holder_graph(&mut pinner, item);
    assert_names_the_real_place(try_check_referents(&cell), cell.as_ptr() as usize);
}

/// Rule: as above, for `#[derive(Referents)]` on a `#[repr(packed)]`
/// struct, whose fields are visited through copies.
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
    let real = std::ptr::addr_of!(packed.holder) as usize;
    assert_names_the_real_place(try_check_referents(&packed), real);
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
/// used to follow the `Cell` impl's temporary into a frame that had
/// returned (Miri: use-after-free). Now nothing there is read.
#[test]
fn a_safe_check_never_reads_a_dead_temporary_reported_as_borrowed() {
    let _serial = serial();
    let item = leaked_vec();
    let cell = Cell::new(Holder { item });
    let packed = PackedHolder {
        tag: 2,
        holder: Holder { item },
    };
    let real_field = std::ptr::addr_of!(packed.holder) as usize;
    everything_pinned(|| {
        assert_names_the_real_place(try_check_referents(&cell), cell.as_ptr() as usize);
        assert_names_the_real_place(try_check_referents(&packed), real_field);
    });
}
