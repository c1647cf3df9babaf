//! `PinAwareAlloc::new` around an inner allocator that watches one address:
//! proves that a pinned block's free never reaches the inner allocator while
//! any pin overlaps it, and reaches it exactly once, with its layout, when
//! the last overlapping pin is released.

use pointer_escapes::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The system allocator, counting frees (and reallocs, which release the
/// old block) of the block at `WATCHED`.
struct Watch;

static WATCHED: AtomicUsize = AtomicUsize::new(0);
static RELEASES: AtomicUsize = AtomicUsize::new(0);
static RELEASED_SIZE: AtomicUsize = AtomicUsize::new(0);

impl Watch {
    fn note(ptr: *mut u8, layout: Layout) {
        if ptr as usize == WATCHED.load(Ordering::SeqCst) {
            RELEASED_SIZE.store(layout.size(), Ordering::SeqCst);
            RELEASES.fetch_add(1, Ordering::SeqCst);
        }
    }
}

// SAFETY: forwards every call to `System` unchanged; the bookkeeping is two
// atomic stores that neither allocate nor unwind.
unsafe impl GlobalAlloc for Watch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Watch::note(ptr, layout);
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Watch::note(ptr, layout);
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: PinAwareAlloc<Watch> = PinAwareAlloc::new(Watch);

static SERIAL: Mutex<()> = Mutex::new(());

/// One test at a time: `WATCHED` is a single address.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts watching `addr`.
fn watch(addr: *const u8) {
    RELEASES.store(0, Ordering::SeqCst);
    RELEASED_SIZE.store(0, Ordering::SeqCst);
    WATCHED.store(addr as usize, Ordering::SeqCst);
}

/// How many times the inner allocator was handed the watched block back,
/// and the size of the last one; stops watching when `stop`.
fn releases(stop: bool) -> (usize, usize) {
    let seen = (
        RELEASES.load(Ordering::SeqCst),
        RELEASED_SIZE.load(Ordering::SeqCst),
    );
    if stop {
        WATCHED.store(0, Ordering::SeqCst);
    }
    seen
}

/// Allocation traffic, so a block that was wrongly freed would be reused and
/// freed again.
fn churn(size: usize) {
    let blocks: Vec<Vec<u8>> = (0..256).map(|_| vec![1u8; size]).collect();
    drop(blocks);
}

/// Control: with nothing pinned, the free reaches the inner allocator at
/// once (so the counter below means something).
#[test]
fn unpinned_free_reaches_the_inner_allocator_at_once() {
    let _serial = serial();
    let v = vec![0u8; 200];
    watch(v.as_ptr());
    drop(v);
    assert_eq!(releases(true), (1, 200));
}

/// A pinned block's free is held back until the unpin, then done once.
#[test]
fn pinned_free_reaches_the_inner_allocator_after_unpin() {
    let _serial = serial();
    let v = vec![0u8; 200];
    watch(v.as_ptr());
    let mut pinner = Pinner::new();
    // SAFETY: the block is quarantined when `v` drops.
    unsafe { pinner.pin_raw(v.as_ptr(), v.len()) };
    drop(v);
    churn(200);
    assert_eq!(releases(false), (0, 0), "freed while pinned");
    pinner.unpin();
    assert_eq!(releases(true), (1, 200));
}

/// Two overlapping pins: the block waits for the last one.
#[test]
fn the_last_overlapping_pin_releases_the_block() {
    let _serial = serial();
    let v = vec![0u8; 1000];
    watch(v.as_ptr());
    let mut first = Pinner::new();
    let mut second = Pinner::new();
    // SAFETY: the block is quarantined when `v` drops.
    unsafe {
        first.pin_raw(v.as_ptr(), 600);
        second.pin_raw(v[400..].as_ptr(), 600);
    }
    drop(v);
    first.unpin();
    churn(1000);
    assert_eq!(releases(false), (0, 0), "freed with one pin still live");
    second.unpin();
    assert_eq!(releases(true), (1, 1000));
}

/// A pinned Vec that grows: its old block is not released (neither by
/// `realloc` nor `dealloc`) until the unpin.
#[test]
fn moved_block_reaches_the_inner_allocator_after_unpin() {
    let _serial = serial();
    let mut v: Vec<u64> = Vec::with_capacity(4);
    v.extend([1, 2, 3, 4]);
    watch(v.as_ptr().cast());
    let mut pinner = Pinner::new();
    // SAFETY: the old block is quarantined when `push` moves the Vec.
    unsafe { pinner.pin_raw(v.as_ptr(), 32) };
    v.push(5);
    churn(32);
    assert_eq!(
        releases(false),
        (0, 0),
        "the old block was released while pinned"
    );
    assert_eq!(v, [1, 2, 3, 4, 5]);
    pinner.unpin();
    assert_eq!(releases(true), (1, 32));
}

/// An OwnedPin dropped while C may hold its pointer: nothing is ever
/// returned to the inner allocator.
#[test]
fn dropped_owned_pin_never_reaches_the_inner_allocator() {
    let _serial = serial();
    let owned = OwnedPin::new(vec![0u8; 300]);
    watch(owned.as_ptr());
    drop(owned);
    churn(300);
    assert_eq!(
        releases(true),
        (0, 0),
        "a dropped OwnedPin's buffer was freed"
    );
}

/// `inner()` is the wrapped allocator.
#[test]
fn inner_is_the_wrapped_allocator() {
    let inner: &Watch = ALLOC.inner();
    let layout = Layout::from_size_align(16, 8).unwrap();
    // SAFETY: a fresh allocation from the inner allocator, freed once with
    // its layout.
    unsafe {
        let p = inner.alloc(layout);
        assert!(!p.is_null());
        inner.dealloc(p, layout);
    }
}
