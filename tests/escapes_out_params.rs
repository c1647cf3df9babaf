//! Out-parameters (SPEC, second revision, "Soundness"): the checker never
//! reads a pointee C writes. `#[escapes(out)]` says so; an unmarked `*mut`
//! (or `NonNull`, or an alias of one) is not read either, because C's `T *`
//! does not say whether C reads it and reading an uninitialised pointee is
//! undefined behaviour. `#[escapes(inout)]` promises an initialised pointee
//! and is checked like a `*const` one.
//!
//! Every test runs in checked mode (`CheckMode::Args`, the debug default)
//! and passes an uninitialised slot where the rule says it is not read:
//! under Miri (scripts/miri.sh) a read of it would be reported as undefined
//! behaviour.

use pointer_escapes::{is_pinned, pointer_escapes, set_check_mode, CheckMode, Pinner};
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

static PRODUCED: u8 = 42;

fn checked() {
    set_check_mode(CheckMode::Args);
}

/// Writes a pointer into `*out`, as C's out-parameters do; reports whether
/// the slot was pinned while it ran.
#[pointer_escapes]
unsafe fn produce(#[escapes(out)] out: *mut *const u8) -> bool {
    let pinned = is_pinned(out);
    // SAFETY: the caller passes a writable slot.
    unsafe { out.write(&PRODUCED) };
    pinned
}

/// The same without a marker: an unmarked `*mut` (this one warns at
/// compile time that its pointee is not checked).
#[pointer_escapes]
#[allow(deprecated)]
unsafe fn produce_unmarked(out: *mut *const u8) -> bool {
    let pinned = is_pinned(out);
    // SAFETY: the caller passes a writable slot.
    unsafe { out.write(&PRODUCED) };
    pinned
}

#[pointer_escapes]
#[allow(deprecated)]
unsafe fn produce_non_null(out: NonNull<*const u8>) -> bool {
    let pinned = is_pinned(out.as_ptr());
    // SAFETY: the caller passes a writable slot.
    unsafe { out.as_ptr().write(&PRODUCED) };
    pinned
}

type OutSlot = *mut *const u8;

#[pointer_escapes]
unsafe fn produce_through_alias(#[escapes(len = 2)] out: OutSlot) -> bool {
    let pinned = is_pinned(out);
    // SAFETY: the caller passes two writable slots.
    unsafe {
        out.write(&PRODUCED);
        out.add(1).write(&PRODUCED);
    }
    pinned
}

#[pointer_escapes]
unsafe fn read_back(#[escapes(inout)] slot: *mut *const u8) -> u8 {
    // SAFETY: the caller passes an initialised slot pointing at a byte.
    unsafe { **slot }
}

#[test]
fn out_parameter_pointee_is_never_read() {
    checked();
    let mut slot = MaybeUninit::<*const u8>::uninit();
    // SAFETY: `slot` is writable; `produce` only writes it.
    let pinned = unsafe { produce(slot.as_mut_ptr()) };
    assert!(pinned, "the out-parameter is pinned for the call");
    // SAFETY: `produce` initialised it.
    assert_eq!(unsafe { *slot.assume_init() }, 42);
    assert!(!is_pinned(slot.as_ptr()), "released when the call returned");
}

#[test]
fn unmarked_mut_parameter_pointee_is_never_read() {
    checked();
    let mut slot = MaybeUninit::<*const u8>::uninit();
    // SAFETY: `slot` is writable.
    assert!(unsafe { produce_unmarked(slot.as_mut_ptr()) });
    // SAFETY: initialised by the call.
    assert_eq!(unsafe { *slot.assume_init() }, 42);
    let mut slot = MaybeUninit::<*const u8>::uninit();
    let out = NonNull::new(slot.as_mut_ptr()).expect("a stack address");
    // SAFETY: `slot` is writable.
    assert!(unsafe { produce_non_null(out) });
    // SAFETY: initialised by the call.
    assert_eq!(unsafe { *slot.assume_init() }, 42);
}

#[test]
fn mut_alias_pointee_is_never_read() {
    checked();
    let mut slots = [MaybeUninit::<*const u8>::uninit(); 2];
    // SAFETY: two writable slots.
    assert!(unsafe { produce_through_alias(slots.as_mut_ptr().cast()) });
    // SAFETY: both initialised by the call.
    assert_eq!(unsafe { *slots[1].assume_init() }, 42);
}

#[test]
fn unmarked_mut_pointee_is_pinned_but_not_checked() {
    checked();
    // An initialised pointee holding a pointer to unpinned heap memory: a
    // check would refuse it; an unmarked `*mut` is not checked.
    let heap = Box::new(7u8);
    let mut slot: *const u8 = &*heap;
    // SAFETY: `slot` is writable.
    assert!(unsafe { produce_unmarked(&mut slot) });
}

#[test]
fn inout_parameter_pointee_is_checked_like_a_const_pointee() {
    checked();
    let heap = Box::new(7u8);
    let mut slot: *const u8 = &*heap;
    let message = match catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `slot` is initialised and points at a byte.
        unsafe { read_back(&mut slot) }
    })) {
        Ok(value) => panic!("the check let an unpinned referent through (read {value})"),
        Err(payload) => payload.downcast::<String>().map(|s| *s).unwrap_or_default(),
    };
    assert!(message.contains("`read_back`"), "{message}");
    assert!(message.contains("`slot`"), "{message}");
    assert!(!is_pinned(&slot), "no pin outlives the failed call");
    // With the byte pinned, the same call passes.
    let mut pinner = Pinner::new();
    pinner.pin(&*heap);
    // SAFETY: initialised and points at a byte.
    assert_eq!(unsafe { read_back(&mut slot) }, 7);
    pinner.unpin();
}
