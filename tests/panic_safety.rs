//! Panic safety: a panic anywhere pins are being made, held, checked or
//! released leaks no pin, leaves the registry answering exactly, and never
//! aborts.
//!
//! One test per place a panic can start: inside `scope` and `with_pinned`,
//! in a user `Referents` impl while `Pinner::pin_referents` collects and
//! while `check_referents` walks, in a `Drop` that runs while a pinner
//! unwinds, in a failed check, and, through `#[pointer_escapes]`, in the
//! annotated body, in a `len` expression, in a `#[flow_through]` argument's
//! `Referents` impl and in a failed argument check. After each, the test
//! pins the same memory again and checks that the counts are exact.
//!
//! Tests of one binary share the registry and run in parallel, so each only
//! asks about heap buffers it owns.

#![deny(unsafe_op_in_unsafe_fn)]

use pointer_escapes::referents::{Referents, Via, Visitor};
use pointer_escapes::{
    check_referents, check_referents_through_raw, is_pinned, is_region_pinned, pin_count,
    pointer_escapes, scope, set_check_mode, snapshot, try_check_referents_through_raw, with_pinned,
    CheckMode, OwnedPin, PinKind, Pinner, Region,
};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`, which must panic, and returns the panic's message.
#[track_caller]
fn panic_text<R>(f: impl FnOnce() -> R) -> String {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic, but the closure returned"),
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default(),
    }
}

/// Nothing pins any byte of `buf`.
#[track_caller]
fn assert_unpinned(buf: &[u8]) {
    for (i, b) in buf.iter().enumerate() {
        assert_eq!(pin_count(b), 0, "byte {i} of the buffer is still pinned");
    }
    assert!(!is_pinned(buf.as_ptr()));
}

/// The registry still counts exactly: two pins of `buf`, then none.
#[track_caller]
fn assert_counts_exact(buf: &[u8]) {
    let mut a = Pinner::new();
    let mut b = Pinner::new();
    a.pin_slice(buf);
    b.pin_slice(buf);
    assert_eq!(pin_count(buf.as_ptr()), 2);
    assert!(is_region_pinned(buf.as_ptr(), buf.len()));
    drop(a);
    assert_eq!(pin_count(buf.as_ptr()), 1);
    drop(b);
    assert_unpinned(buf);
}

// ----------------------------------------------------------- scope, with_pinned

#[test]
fn panic_inside_scope_releases_its_pins() {
    let buf = vec![1u8; 100];
    let x = Box::new(7u64);
    let msg = panic_text(|| {
        scope(|pinner| {
            pinner.pin_slice(&buf);
            pinner.pin(&*x);
            assert!(is_region_pinned(buf.as_ptr(), 100) && is_pinned(&*x));
            panic!("boom inside scope");
        })
    });
    assert_eq!(msg, "boom inside scope");
    assert_unpinned(&buf);
    assert_eq!(pin_count(&*x), 0);
    assert_counts_exact(&buf);
}

#[test]
fn panic_inside_with_pinned_releases_its_pins() {
    let buf = vec![2u8; 64];
    let regions = [Region::of_slice(&buf[..32]), Region::of_slice(&buf[16..])];
    let msg = panic_text(|| {
        with_pinned(&regions, || {
            assert_eq!(pin_count(&buf[20]), 2);
            panic!("boom inside with_pinned");
        })
    });
    assert_eq!(msg, "boom inside with_pinned");
    assert_unpinned(&buf);
    assert_counts_exact(&buf);
}

#[test]
fn panic_in_an_inner_scope_keeps_the_outer_pins() {
    let buf = vec![3u8; 48];
    let mut outer = Pinner::new();
    outer.pin_slice(&buf);
    let _ = panic_text(|| {
        scope(|inner| {
            inner.pin_slice(&buf[8..16]);
            with_pinned(&[Region::of_slice(&buf[..4])], || {
                assert_eq!(pin_count(&buf[10]), 2);
                assert_eq!(pin_count(&buf[2]), 2);
                panic!("inner");
            })
        })
    });
    // Only the outer pin is left, exactly once.
    for b in &buf {
        assert_eq!(pin_count(b), 1);
    }
    drop(outer);
    assert_unpinned(&buf);
    assert_counts_exact(&buf);
}

// ----------------------------------------------------------- user Referents impls

thread_local! {
    /// Arms `Bomb::visit_referents` to panic on this thread only.
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

/// Points at a buffer; its `Referents` impl panics while armed.
struct Bomb {
    target: *const u8,
    len: usize,
}

// SAFETY: `target` points at `len` bytes that outlive every `Bomb` here.
unsafe impl Referents for Bomb {
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        if ARMED.with(Cell::get) {
            panic!("Referents impl panicked");
        }
        visitor.bytes(self.target, self.len, Via::Field("target"));
    }
}

/// Holds a `Bomb`'s address, so a check reaches the `Bomb` only by following
/// a pinned pointer.
struct Holder {
    bomb: *const Bomb,
}

// SAFETY: `bomb` points at one live `Bomb`.
unsafe impl Referents for Holder {
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.pointer(self.bomb, 1, Via::Field("bomb"));
    }
}

/// Disarms on drop, also while unwinding.
struct Armed;

impl Armed {
    fn new() -> Armed {
        ARMED.with(|a| a.set(true));
        Armed
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        ARMED.with(|a| a.set(false));
    }
}

#[test]
fn panic_in_referents_during_pin_referents_pins_nothing_and_keeps_earlier_pins() {
    let data = vec![4u8; 32];
    let bombs = vec![Bomb {
        target: data.as_ptr(),
        len: data.len(),
    }];
    let mut pinner = Pinner::new();
    pinner.pin_slice(&data[..8]);
    let msg = panic_text(|| {
        let _armed = Armed::new();
        pinner.pin_referents(&bombs);
    });
    assert_eq!(msg, "Referents impl panicked");
    // The earlier pin is intact; neither the slice of bombs nor their
    // target was pinned.
    assert_eq!(pinner.len(), 1);
    assert_eq!(pin_count(&data[0]), 1);
    assert_eq!(pin_count(&data[8]), 0);
    assert_eq!(pin_count(bombs.as_ptr()), 0);
    // The pinner still works: the same call, disarmed, pins both.
    pinner.pin_referents(&bombs);
    assert_eq!(pinner.len(), 3);
    assert!(is_region_pinned(data.as_ptr(), 32));
    drop(pinner);
    assert_unpinned(&data);
    assert_eq!(pin_count(bombs.as_ptr()), 0);
    assert_counts_exact(&data);
}

#[test]
fn panic_in_referents_during_pin_referents_in_a_dropped_pinner() {
    let data = vec![5u8; 16];
    let bombs = [Bomb {
        target: data.as_ptr(),
        len: 16,
    }];
    let _ = panic_text(|| {
        let mut pinner = Pinner::new();
        pinner.pin_slice(&data);
        let _armed = Armed::new();
        pinner.pin_referents(&bombs);
    });
    assert_unpinned(&data);
    assert_counts_exact(&data);
}

#[test]
fn panic_in_referents_during_check_referents() {
    let data = vec![6u8; 24];
    let bomb = Box::new(Bomb {
        target: data.as_ptr(),
        len: data.len(),
    });
    let holder = Holder { bomb: &*bomb };
    let mut pinner = Pinner::new();
    pinner.pin(&*bomb);
    pinner.pin_slice(&data);
    // SAFETY (here and below): `holder.bomb` points at `bomb`, live for
    // the whole test.
    unsafe { check_referents_through_raw(&holder) };

    // The walk reads the pinned `Bomb` and its impl panics half way.
    let msg = panic_text(|| {
        let _armed = Armed::new();
        // SAFETY: as above.
        unsafe { check_referents_through_raw(&holder) };
    });
    assert_eq!(msg, "Referents impl panicked");
    assert_eq!(pin_count(&*bomb), 1);
    assert_eq!(pin_count(data.as_ptr()), 1);

    // The checker's per-thread scratch is usable again on this thread: it
    // passes what is pinned and still names what is not.
    // SAFETY: as above.
    unsafe { check_referents_through_raw(&holder) };
    pinner.unpin();
    pinner.pin(&*bomb);
    // SAFETY: as above.
    let failure = unsafe { try_check_referents_through_raw(&holder) }.unwrap_err();
    assert_eq!(failure.path, "value.bomb.target");
    assert_eq!(failure.region, Region::of_slice(&data));
    drop(pinner);
    assert_unpinned(&data);
    assert_eq!(pin_count(&*bomb), 0);
    assert_counts_exact(&data);
}

#[test]
fn failed_checks_inside_pinning_scopes_release_the_pins() {
    let pinned = vec![7u8; 16];
    let unpinned = vec![8u8; 16];
    let msg = panic_text(|| {
        scope(|pinner| {
            pinner.pin_slice(&pinned);
            pointer_escapes::assert_pinned(unpinned.as_ptr(), 16);
        })
    });
    assert!(msg.contains("is not pinned"), "{msg}");
    let msg = panic_text(|| {
        with_pinned(&[Region::of_slice(&pinned)], || {
            check_referents(&[&unpinned[..]][..]);
        })
    });
    assert!(msg.contains("points to unpinned memory"), "{msg}");
    assert_unpinned(&pinned);
    assert_unpinned(&unpinned);
    assert_counts_exact(&pinned);
}

// ----------------------------------------------------------- Drop during unwinding

/// On drop (normally during unwinding) records what the registry says about
/// `buf` and uses the registry: pins, checks and unpins other memory.
struct Witness<'a> {
    buf: &'a [u8],
    scratch: &'a [u8],
    seen: &'a Cell<Option<(bool, usize)>>,
}

impl Drop for Witness<'_> {
    fn drop(&mut self) {
        self.seen.set(Some((
            is_pinned(self.buf.as_ptr()),
            pin_count(self.buf.as_ptr()),
        )));
        let mut p = Pinner::new();
        p.pin_slice(self.scratch);
        assert!(is_region_pinned(self.scratch.as_ptr(), self.scratch.len()));
        check_referents(&[self.scratch][..]);
    }
}

#[test]
fn drop_during_unwinding_sees_pins_in_drop_order_and_can_use_the_registry() {
    let buf = vec![9u8; 40];
    let scratch = vec![10u8; 8];
    let before_pinner = Cell::new(None);
    let after_pinner = Cell::new(None);
    let _ = panic_text(|| {
        // Dropped last: the pinner is gone by then.
        let _late = Witness {
            buf: &buf,
            scratch: &scratch,
            seen: &after_pinner,
        };
        let mut pinner = Pinner::new();
        pinner.pin_slice(&buf);
        pinner.pin_slice(&buf);
        // Dropped first: the pins are still live.
        let _early = Witness {
            buf: &buf,
            scratch: &scratch,
            seen: &before_pinner,
        };
        panic!("unwind through witnesses");
    });
    assert_eq!(before_pinner.get(), Some((true, 2)));
    assert_eq!(after_pinner.get(), Some((false, 0)));
    assert_unpinned(&buf);
    assert_unpinned(&scratch);
    assert_counts_exact(&buf);
}

/// Panics when dropped (not while already unwinding: that would abort).
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("Drop panicked");
        }
    }
}

#[test]
fn panic_in_a_drop_unwinds_the_pinners_of_its_frame() {
    let buf = vec![11u8; 32];
    let msg = panic_text(|| {
        let mut pinner = Pinner::new();
        pinner.pin_slice(&buf);
        // Dropped before the pinner; its panic unwinds through the
        // pinner's drop.
        let _bomb = PanicOnDrop;
    });
    assert_eq!(msg, "Drop panicked");
    assert_unpinned(&buf);
    assert_counts_exact(&buf);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "leaks its buffer by design, which Miri's leak check reports"
)]
fn panic_with_an_owned_pin_in_flight_keeps_its_pin_as_documented() {
    // Dropping an OwnedPin (here: by unwinding past it) is the bug the
    // report exists to catch: the pin stays and the buffer is leaked, so C
    // never writes into reused memory. This binary has no PinAwareAlloc.
    let mut addr = 0;
    let _ = panic_text(|| {
        let pin = OwnedPin::new(vec![12u8; 64]);
        addr = pin.as_ptr() as usize;
        panic!("lost track of the completion");
    });
    assert_eq!(pin_count(addr as *const u8), 1);
    let snap = snapshot();
    let entry = snap
        .pins
        .iter()
        .find(|p| p.region.addr() == addr)
        .expect("the report lists the OwnedPin");
    assert_eq!((entry.kind, entry.region.len()), (PinKind::Owned, 64));
    assert_eq!(entry.site.file(), file!());
}

// ----------------------------------------------------------- #[pointer_escapes]

fn checked() {
    set_check_mode(CheckMode::Args);
}

#[pointer_escapes]
unsafe fn body_panics(#[escapes(len = n)] p: *const u8, n: usize, q: *const u64) {
    assert!(is_region_pinned(p, n) && is_region_pinned(q, 8));
    panic!("the annotated body panicked");
}

#[test]
fn panic_in_an_annotated_body_releases_the_call_pins() {
    checked();
    let buf = vec![13u8; 50];
    let word = Box::new(0u64);
    // SAFETY: both pointers are valid for the extents given.
    let msg = panic_text(|| unsafe { body_panics(buf.as_ptr(), 50, &*word) });
    assert_eq!(msg, "the annotated body panicked");
    assert_unpinned(&buf);
    assert_eq!(pin_count(&*word), 0);
    assert_counts_exact(&buf);
}

fn len_or_panic(n: usize) -> usize {
    if n > 1000 {
        panic!("len expression panicked for {n}");
    }
    n
}

#[pointer_escapes]
unsafe fn len_panics(
    first: *const u64,
    #[escapes(len = len_or_panic(n))] p: *const u8,
    n: usize,
) -> bool {
    is_pinned(first) && is_region_pinned(p, len_or_panic(n))
}

#[test]
fn panic_in_a_len_expression_pins_nothing() {
    checked();
    let buf = vec![14u8; 20];
    let word = Box::new(1u64);
    // SAFETY: valid pointers; the length is refused before any use.
    let msg = panic_text(|| unsafe { len_panics(&*word, buf.as_ptr(), 5000) });
    assert_eq!(msg, "len expression panicked for 5000");
    assert_unpinned(&buf);
    assert_eq!(pin_count(&*word), 0);
    // The same function with a good length pins both, then releases them.
    // SAFETY: valid pointers and length.
    assert!(unsafe { len_panics(&*word, buf.as_ptr(), 20) });
    assert_unpinned(&buf);
    assert_counts_exact(&buf);
}

#[pointer_escapes]
fn flows(#[flow_through] bombs: &[Bomb], other: *const u8) -> bool {
    is_pinned(other)
}

#[test]
fn panic_in_a_flow_through_referents_impl_pins_nothing() {
    checked();
    let data = vec![15u8; 30];
    let other = vec![16u8; 4];
    let bombs = [Bomb {
        target: data.as_ptr(),
        len: 30,
    }];
    let msg = panic_text(|| {
        let _armed = Armed::new();
        flows(&bombs, other.as_ptr())
    });
    assert_eq!(msg, "Referents impl panicked");
    assert_unpinned(&data);
    assert_unpinned(&other);
    assert_eq!(pin_count(bombs.as_ptr()), 0);
    assert!(flows(&bombs, other.as_ptr()));
    assert_unpinned(&data);
    assert_counts_exact(&data);
}

#[pointer_escapes]
unsafe fn takes_holders(#[escapes(len = n)] holders: *const Holder, n: usize, extra: *const u8) {
    let _ = (holders, n, extra);
}

#[test]
fn a_failed_argument_check_releases_every_argument_pin() {
    checked();
    let data = [17u8; 12];
    let extra = vec![18u8; 3];
    let bomb = Box::new(Bomb {
        target: data.as_ptr(),
        len: 12,
    });
    let holders = [Holder { bomb: &*bomb }];
    // The Bomb the holder points at is not pinned: the check fails.
    // SAFETY: valid pointers and length.
    let msg = panic_text(|| unsafe { takes_holders(holders.as_ptr(), 1, extra.as_ptr()) });
    assert!(
        msg.contains("takes_holders") && msg.contains("holders") && msg.contains("unpinned"),
        "{msg}"
    );
    assert_eq!(pin_count(holders.as_ptr()), 0);
    assert_unpinned(&extra);
    assert_counts_exact(&extra);
}

#[pointer_escapes]
unsafe fn outer_call(#[escapes(len = n)] p: *const u8, n: usize) -> usize {
    // SAFETY: the same valid buffer, a prefix of it.
    let inner = catch_unwind(|| unsafe { body_panics(p, n / 2, &0u64) });
    assert!(inner.is_err());
    // The inner call's pins are gone; this call's own pin is intact.
    pin_count(p)
}

#[test]
fn a_panicking_inner_call_leaves_the_outer_call_pinned() {
    checked();
    let buf = vec![19u8; 64];
    // SAFETY: valid pointer and length.
    assert_eq!(unsafe { outer_call(buf.as_ptr(), 64) }, 1);
    assert_unpinned(&buf);
    assert_counts_exact(&buf);
}
