//! An extent the checker reads on an `unsafe` promise ends where its memory
//! ends (issue 15): a stale or uninitialised length that makes an array of
//! 4 one of millions is refused before any element is read when the array
//! starts in memory whose end is known (static memory, a thread's stack),
//! instead of a walk of millions of elements past that end. Counted in
//! elements visited, never timed.
//!
//! Not under Miri: there no memory is static and no stack is known
//! (`pthread_getattr_np` and `dl_iterate_phdr` are foreign), so no bound
//! exists and the deliberately wrong lengths below would be read.

#![deny(unsafe_op_in_unsafe_fn)]

use pointer_escapes::referents::{Referents, Via, Visitor};
use pointer_escapes::{
    pin_count, pointer_escapes, set_check_mode, try_check_referents_through_raw, CheckMode,
    FailureCause, MemoryKind,
};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    /// Elements of `Counted` the checker has read on this thread.
    static VISITS: Cell<usize> = const { Cell::new(0) };
}

/// Taken by every test here: a wrong length makes a call pin 128 MiB from
/// its thread's stack, which covers the other test threads' stacks for the
/// length of the call, so a concurrent test's `pin_count` would see it.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn visits() -> usize {
    VISITS.with(Cell::get)
}

/// A value the checker must read to check (it may hold pointers, as far as
/// the checker knows), that counts each read.
struct Counted(#[allow(dead_code)] u64);

// SAFETY: it holds no pointers and reports none; `HOLDS_POINTERS` stays
// true (the default) so that the checker reads every element.
unsafe impl Referents for Counted {
    fn visit_referents<V: Visitor>(&self, _visitor: &mut V) {
        VISITS.with(|v| v.set(v.get() + 1));
    }
}

/// Stands in for a C function taking `n` elements at `p`: reads none.
///
/// # Safety
/// `p` points at `n` initialised `Counted`.
#[pointer_escapes]
#[inline(never)]
unsafe fn take(#[escapes(len = n)] p: *const Counted, n: usize) -> usize {
    n
}

/// Four elements reported as 16M (128 MiB): far past any thread's stack.
const WRONG_LEN: usize = 1 << 24;

/// As `take`, but C also follows each element's pointers during the call
/// (`#[flow_through]`), so the call pins what the elements point to.
///
/// # Safety
/// `p` points at `n` initialised `Counted`.
#[pointer_escapes]
#[inline(never)]
unsafe fn take_through(
    #[flow_through]
    #[escapes(len = n)]
    p: *const Counted,
    n: usize,
) -> usize {
    n
}

/// The rule, for a `#[flow_through]` argument: pinning its referents reads
/// each element too, and an extent past its memory is refused before that
/// read as well (not only before the check's).
#[test]
#[cfg_attr(miri, ignore = "stack and static ranges come from FFI")]
fn a_flow_through_extent_past_the_end_of_its_stack_is_refused_before_any_element_is_read() {
    let _serial = serial();
    set_check_mode(CheckMode::Args);
    let on_stack = [Counted(1), Counted(2), Counted(3), Counted(4)];
    let before = visits();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: deliberately wrong length, refused before any read.
        unsafe { take_through(on_stack.as_ptr(), WRONG_LEN) }
    }));
    let message = match outcome {
        Ok(_) => panic!("a 16M-element flow-through extent on a 4-element stack array passed"),
        Err(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default(),
    };
    assert_eq!(visits() - before, 0, "elements were read: {message}");
    assert!(message.contains("the stack of thread"), "{message}");
    assert_eq!(pin_count(on_stack.as_ptr()), 0);
    // Within its memory, every element is read: to pin its referents, then
    // to check them.
    let before = visits();
    // SAFETY: `on_stack` holds 4 initialised elements.
    assert_eq!(unsafe { take_through(on_stack.as_ptr(), 4) }, 4);
    assert!(visits() - before >= 4);
}

#[test]
#[cfg_attr(miri, ignore = "stack and static ranges come from FFI")]
fn an_argument_extent_past_the_end_of_its_stack_is_refused_before_any_element_is_read() {
    let _serial = serial();
    set_check_mode(CheckMode::Args);
    let on_stack = [Counted(1), Counted(2), Counted(3), Counted(4)];
    let before = visits();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: deliberately wrong length: the check refuses it before
        // reading an element (what this test shows), and `take` reads
        // nothing.
        unsafe { take(on_stack.as_ptr(), WRONG_LEN) }
    }));
    let message = match outcome {
        Ok(_) => panic!("a 16M-element extent on a 4-element stack array passed the check"),
        Err(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default(),
    };
    assert_eq!(visits() - before, 0, "elements were read: {message}");
    for part in [
        "`p` reports 16777216",
        "(134217728 bytes)",
        "the stack of thread",
        "no value is that long",
        "#[escapes(len = ..)]",
    ] {
        assert!(message.contains(part), "missing {part:?} in: {message}");
    }
    // The call's pins went with the failed check.
    assert_eq!(pin_count(on_stack.as_ptr()), 0);
}

#[test]
#[cfg_attr(miri, ignore = "stack and static ranges come from FFI")]
fn an_extent_within_its_stack_is_read_in_full() {
    let _serial = serial();
    set_check_mode(CheckMode::Args);
    // 1024 elements, 8 KiB: long enough to be bounded, and within bounds.
    let on_stack: [Counted; 1024] = std::array::from_fn(|i| Counted(i as u64));
    let before = visits();
    // SAFETY: `on_stack` holds 1024 initialised elements.
    let n = unsafe { take(on_stack.as_ptr(), on_stack.len()) };
    assert_eq!(n, 1024);
    assert_eq!(visits() - before, 1024);
}

/// A table in static memory.
static TABLE: [Counted; 4] = [Counted(1), Counted(2), Counted(3), Counted(4)];

/// Holds a raw pointer to `len` elements: a header whose length can go
/// stale.
struct Header {
    at: *const Counted,
    len: usize,
}

// SAFETY: reports exactly the pointer and length it holds.
unsafe impl Referents for Header {
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.pointer(self.at, self.len, Via::Field("at"));
    }
}

#[test]
#[cfg_attr(miri, ignore = "stack and static ranges come from FFI")]
fn a_raw_pointer_extent_past_the_end_of_static_memory_is_refused_before_any_element_is_read() {
    let _serial = serial();
    let header = Header {
        at: TABLE.as_ptr(),
        len: 1 << 28,
    };
    let before = visits();
    // SAFETY: deliberately wrong length: the check refuses it before
    // reading an element (what this test shows).
    let failure = unsafe { try_check_referents_through_raw(&header) }
        .expect_err("a 256M-element extent on a 4-element static table passed the check");
    assert_eq!(visits() - before, 0, "elements were read: {failure}");
    match failure.cause {
        FailureCause::ExtentPastItsMemory {
            memory,
            element_size,
            ..
        } => {
            assert_eq!(memory, MemoryKind::Static);
            assert_eq!(element_size, 8);
        }
        other => panic!("expected ExtentPastItsMemory, got {other:?}: {failure}"),
    }
    assert_eq!(failure.path, "value.at");
    assert_eq!(failure.region.len(), 8 << 28);
    let text = failure.to_string();
    assert!(text.contains("reports 268435456 `"), "{text}");
    assert!(
        text.contains("static memory and runs past its end"),
        "{text}"
    );
}
