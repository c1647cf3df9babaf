//! `OwnedPin` with `PinAwareAlloc` as the process's `#[global_allocator]`:
//! a block freed under the pin is quarantined, `into_inner` never returns an
//! owner of it (no double free), a dropped, still-pinned `OwnedPin` hands
//! its storage to the quarantine, and a `StableBuf` whose drop does not free
//! through the global allocator is named. Tests that leave pins behind run
//! in a child process (`common/child.rs`); the others also run under Miri
//! (`scripts/miri.sh`).

mod common;

use common::child::{is_child, run_child_ok};
use common::panics::{assert_mentions, panic_message};
use pointer_escapes::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[global_allocator]
static ALLOC: PinAwareAlloc = PinAwareAlloc::system();

/// Tests of this binary that look at quarantine totals run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A callback's user data: owns heap memory of its own and counts its drops.
#[allow(dead_code)] // `name` is there to own memory, not to be read.
struct UserData {
    name: String,
    drops: &'static AtomicUsize,
}

impl Drop for UserData {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// What a C callback's trampoline does on its error path: takes ownership
/// back from the `void *user_data` and drops it.
///
/// # Safety
/// `user_data` came from an `OwnedPin<Box<UserData>>`'s `as_mut_ptr`.
unsafe fn trampoline_error_path(user_data: *mut UserData) {
    // SAFETY: the caller's promise; this is the bug under test (two owners),
    // which the quarantine makes survivable.
    drop(unsafe { Box::from_raw(user_data) });
}

/// `PinAwareAlloc` as the `#[global_allocator]` is known to be global.
#[test]
fn the_global_pin_aware_alloc_is_known_as_global() {
    assert!(snapshot().allocator_installed);
}

/// A `Box` freed under its `OwnedPin` (a trampoline rebuilt it with
/// `Box::from_raw`) has had its destructor run: `try_into_inner` returns no
/// owner of it, releases the pin, and the quarantine frees the block
/// exactly once. On the old code this was a double free (glibc aborts with
/// "free(): double free detected").
#[test]
fn into_inner_never_returns_an_owner_of_a_block_freed_while_pinned() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    let _serial = serial();
    let before = snapshot();
    let line = line!() + 1;
    let mut owned = OwnedPin::new(Box::new(UserData {
        name: "request 7".to_string(),
        drops: &DROPS,
    }));
    let region = owned.region();
    let user_data = owned.as_mut_ptr();
    // SAFETY: `user_data` came from the OwnedPin, as the trampoline expects.
    unsafe { trampoline_error_path(user_data) };
    assert_eq!(DROPS.load(Ordering::SeqCst), 1);
    let held = snapshot();
    assert_eq!(held.quarantined_blocks, before.quarantined_blocks + 1);

    let Err(freed) = owned.try_into_inner() else {
        panic!("into_inner returned an owner of a freed block");
    };
    assert_eq!(freed.region, region);
    assert_eq!((freed.site.file(), freed.site.line()), (file!(), line));
    assert_eq!(DROPS.load(Ordering::SeqCst), 1, "the destructor ran twice");
    assert!(!is_pinned(region.addr() as *const u8), "the pin leaked");
    let after = snapshot();
    assert_eq!(
        after.quarantined_blocks, before.quarantined_blocks,
        "the quarantined block was not freed"
    );
    assert_eq!(after.quarantined_bytes, before.quarantined_bytes);
    // The allocator is still sound: reuse the size class a few times.
    let again: Vec<Box<[u8; 40]>> = (0..16).map(|_| Box::new([7u8; 40])).collect();
    assert!(again.iter().all(|b| b.iter().all(|&x| x == 7)));
}

/// `into_inner` on an `OwnedPin` whose block was freed under it panics at
/// the caller's line with a message naming the region, the pin's site and
/// that the destructor already ran; the pin is released before the panic.
#[test]
fn into_inner_panics_naming_a_block_freed_while_pinned() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    let _serial = serial();
    let line = line!() + 1;
    let mut owned = OwnedPin::new(Box::new(UserData {
        name: String::new(),
        drops: &DROPS,
    }));
    let region = owned.region();
    // SAFETY: the pointer came from the OwnedPin.
    unsafe { trampoline_error_path(owned.as_mut_ptr()) };
    let msg = panic_message(move || owned.into_inner());
    assert_mentions(
        &msg,
        &[
            &format!("OwnedPin of {region} made at {}:{line}:", file!()),
            "freed while pinned",
            "destructor already ran, so memory it owned is gone",
            "returns no owner of it",
        ],
    );
    assert_eq!(DROPS.load(Ordering::SeqCst), 1);
    assert!(!is_pinned(region.addr() as *const u8), "the pin leaked");
}

/// The allocator's "freed while pinned" event says the value's destructor
/// already ran, so memory it owned is gone (the String inside is freed for
/// real: it was never pinned).
#[test]
fn the_freed_while_pinned_event_says_the_destructor_ran() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    let _serial = serial();
    let mut owned = OwnedPin::new(Box::new(UserData {
        name: "owned elsewhere".repeat(4),
        drops: &DROPS,
    }));
    let region = owned.region();
    // SAFETY: the pointer came from the OwnedPin.
    unsafe { trampoline_error_path(owned.as_mut_ptr()) };
    let snap = snapshot();
    let event = snap
        .events
        .iter()
        .rev()
        .find(|e| e.block.addr() == region.addr())
        .expect("the free was recorded");
    assert_eq!(event.kind, AllocEventKind::FreedWhilePinned);
    assert_mentions(
        &event.to_string(),
        &[
            "freed while pinned",
            "the value's destructor already ran, so memory it owned is gone",
        ],
    );
    assert!(owned.try_into_inner().is_err());
}

/// Giving back a buffer nothing freed still works with the quarantine in
/// play: `try_into_inner` is `Ok` and the buffer is intact.
#[test]
fn into_inner_gives_back_a_buffer_nothing_freed() {
    let _serial = serial();
    let mut owned = OwnedPin::new(Box::new(41u64));
    // SAFETY: the box's own value, written through the pinned pointer.
    unsafe { *owned.as_mut_ptr() += 1 };
    assert_eq!(*owned.try_into_inner().unwrap(), 42);
}

/// Child: a block freed under its OwnedPin, then the OwnedPin dropped.
fn free_under_the_pin_then_drop() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    let line = line!() + 1;
    let mut owned = OwnedPin::new(Box::new(UserData {
        name: "twice?".repeat(8),
        drops: &DROPS,
    }));
    println!("SITE {}:{line}:", file!());
    // SAFETY: the pointer came from the OwnedPin.
    unsafe { trampoline_error_path(owned.as_mut_ptr()) };
    drop(owned);
    assert_eq!(DROPS.load(Ordering::SeqCst), 1, "the destructor ran twice");
    // The block stays quarantined under the pin that stays.
    assert_eq!(snapshot().quarantined_blocks, 1);
}

/// Dropping an `OwnedPin` whose block was already freed under it does not
/// drop the buffer again (no second destructor, no second free), and says
/// so.
#[test]
fn a_buffer_freed_while_pinned_is_never_dropped_again() {
    const TEST: &str = "a_buffer_freed_while_pinned_is_never_dropped_again";
    if is_child("freed-then-dropped") {
        free_under_the_pin_then_drop();
        return;
    }
    let (stderr, site) = run_child_ok(TEST, "freed-then-dropped", &[("PINCHECK", "1")]);
    assert_mentions(
        &stderr,
        &[
            &format!("made at {site}"),
            "not dropped again: it was freed while pinned",
        ],
    );
}

/// Child: an OwnedPin dropped while pinned; C writes through its pointer.
fn drop_a_pinned_owned_pin() {
    let line = line!() + 1;
    let owned = OwnedPin::new(vec![0x11u8; 256]);
    println!("SITE {}:{line}:", file!());
    let c_holds = owned.as_ptr() as usize;
    drop(owned);
    let snap = snapshot();
    assert_eq!(snap.quarantined_blocks, 1);
    let victims: Vec<Vec<u8>> = (0..64).map(|_| vec![0xAAu8; 256]).collect();
    assert!(victims.iter().all(|v| v.as_ptr() as usize != c_holds));
    let c_view = std::hint::black_box(c_holds) as *mut u8;
    // SAFETY: the block is quarantined (allocated, owned by nobody) for as
    // long as the pin lives, which is the rest of the process.
    unsafe { c_view.write_bytes(0x5A, 256) };
    assert!(victims.iter().all(|v| v.iter().all(|&b| b == 0xAA)));
}

/// With `PinAwareAlloc` as the global allocator, a dropped, still-pinned
/// `OwnedPin` gives its storage to the quarantine (not back to the heap)
/// and says so, naming the pin's site.
#[test]
fn owned_pin_dropped_while_pinned_is_quarantined_by_the_global_pin_aware_alloc() {
    const TEST: &str =
        "owned_pin_dropped_while_pinned_is_quarantined_by_the_global_pin_aware_alloc";
    if is_child("global-drop") {
        drop_a_pinned_owned_pin();
        return;
    }
    let (stderr, site) = run_child_ok(TEST, "global-drop", &[("PINCHECK", "1")]);
    assert_mentions(
        &stderr,
        &[
            &format!("made at {site}"),
            "dropped while pinned; its pin stays live and the buffer is quarantined by PinAwareAlloc",
            "the value's destructor already ran",
        ],
    );
}

/// A deliberately broken `StableBuf`: its drop returns the `Vec` to a pool
/// instead of freeing it through the global allocator.
struct PooledBuf(Option<Vec<u8>>);

static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

impl Drop for PooledBuf {
    fn drop(&mut self) {
        if let Some(v) = self.0.take() {
            POOL.lock().unwrap().push(v);
        }
    }
}

// SAFETY: deliberately broken (the test shows what happens): the storage
// stays put while the value lives, but its drop hands it to the pool.
unsafe impl StableBuf for PooledBuf {
    type Elem = u8;
    fn stable_ptr(&self) -> *const u8 {
        self.0.as_ref().map_or(std::ptr::null(), |v| v.as_ptr())
    }
    fn stable_len(&self) -> usize {
        self.0.as_ref().map_or(0, Vec::len)
    }
}

/// Child: drops a pinned OwnedPin of a pool-backed buffer; the pool's next
/// user gets the storage C still holds.
fn drop_a_pinned_pool_buffer() {
    let line = line!() + 1;
    let owned = OwnedPin::new(PooledBuf(Some(vec![0u8; 128])));
    println!("SITE {}:{line}:", file!());
    let c_holds = owned.as_ptr() as usize;
    drop(owned);
    let next = POOL.lock().unwrap().pop().expect("the pool got it back");
    assert_eq!(next.as_ptr() as usize, c_holds, "the pool's next user");
    assert_eq!(snapshot().quarantined_blocks, 0, "nothing was quarantined");
    std::mem::forget(next);
}

/// `StableBuf` promises the storage goes back only through the global
/// allocator. A pool-backed buffer breaks it: the quarantine never sees the
/// storage, the pool's next user gets it while C holds it, and the dropped
/// `OwnedPin` says so (naming the buffer type and the contract).
#[test]
fn a_stable_buf_whose_drop_does_not_free_through_the_global_allocator_is_named() {
    const TEST: &str =
        "a_stable_buf_whose_drop_does_not_free_through_the_global_allocator_is_named";
    if is_child("pool-drop") {
        drop_a_pinned_pool_buffer();
        return;
    }
    let (stderr, site) = run_child_ok(TEST, "pool-drop", &[("PINCHECK", "1")]);
    assert_mentions(
        &stderr,
        &[
            &format!("made at {site}"),
            "PooledBuf did not free the storage through the global allocator",
            "C's writes land in the pool's next user",
            "StableBuf's contract forbids that",
        ],
    );
}
