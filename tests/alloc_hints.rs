//! The allocator's lock-free hints (`pin-core/src/registry/hints.rs`) with
//! `PinAwareAlloc` as the global allocator, so that they are kept:
//!
//! - a free of an unpinned block between pinned buffers is cleared by the
//!   hints alone (issue 15: every such free took the registry's lock, 2x the
//!   instructions of `System` with 10k pins live). Counted in frees that
//!   took the lock, never timed;
//! - the hints never hide a pin: a pin is seen from every byte it covers
//!   and by the free of every block it overlaps, whichever granules the pin
//!   and the block straddle, at every level.
//!
//! One test binary of its own: the lock counter is process-wide, so no other
//! test may free pinned blocks while the first one counts.

#[global_allocator]
static ALLOC: PinAwareAlloc = PinAwareAlloc::system();

use pointer_escapes::__private::frees_looked_up_under_lock;
use pointer_escapes::{is_pinned, snapshot, PinAwareAlloc, Pinner};
use std::sync::Mutex;

/// The tests take turns: each counts process-wide work or quarantined blocks.
static TURN: Mutex<()> = Mutex::new(());

#[test]
fn a_free_beside_a_pinned_buffer_takes_no_lock() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    const BUFFERS: usize = if cfg!(miri) { 8 } else { 1000 };
    // 4 KiB buffers with 64-byte blocks allocated between them: every block
    // shares a 4 KiB granule with a pinned buffer, or lies in the granule
    // after one that a buffer starts in.
    let mut bufs = Vec::with_capacity(BUFFERS);
    let mut boxes = Vec::with_capacity(BUFFERS);
    for i in 0..BUFFERS {
        bufs.push(vec![i as u8; 4096]);
        boxes.push(Box::new([i as u64; 8]));
    }
    let mut pinner = Pinner::new();
    for b in &bufs {
        // SAFETY: `PinAwareAlloc` keeps a buffer freed under its pin
        // allocated (one is, below) until `unpin`.
        unsafe { pinner.pin_raw(b.as_ptr(), b.len()) };
    }
    let near = boxes
        .iter()
        .filter(|b| {
            let a = b.as_ptr() as usize;
            bufs.iter().any(|buf| {
                let s = buf.as_ptr() as usize;
                a.abs_diff(s) < 8192
            })
        })
        .count();
    let before = frees_looked_up_under_lock();
    drop(boxes);
    assert_eq!(
        frees_looked_up_under_lock() - before,
        0,
        "frees of {BUFFERS} unpinned blocks ({near} within 8 KiB of a pinned buffer) took the lock"
    );
    // A pinned one still does, and is kept.
    let quarantined = snapshot().quarantined_blocks;
    let before = frees_looked_up_under_lock();
    drop(bufs.pop());
    assert_eq!(frees_looked_up_under_lock() - before, 1);
    assert_eq!(snapshot().quarantined_blocks, quarantined + 1);
    pinner.unpin();
    assert_eq!(snapshot().quarantined_blocks, quarantined);
}

/// Offsets and lengths around the granules of the first levels (64 B,
/// 512 B, 4 KiB, 32 KiB): a pin starting just before a granule's end and
/// reaching into the next one, exactly one granule long, and so on. Under
/// Miri, the first two levels.
const EDGES: &[usize] = if cfg!(miri) {
    &[0, 63, 64, 511, 513]
} else {
    &[0, 1, 7, 56, 63, 64, 65, 511, 513, 4095, 4097, 32769]
};
/// The alignment of the arena the offsets are taken from.
const ARENA_ALIGN: usize = if cfg!(miri) { 1 << 10 } else { 1 << 16 };

#[test]
fn hints_never_hide_a_pin_from_a_byte_it_covers() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    // A heap arena aligned to `ARENA_ALIGN`, so offsets name granule
    // positions.
    let arena = vec![0u8; 3 * ARENA_ALIGN];
    let base = (arena.as_ptr() as usize).next_multiple_of(ARENA_ALIGN);
    let lens: &[usize] = if cfg!(miri) {
        &[0, 65]
    } else {
        &[0, 1, 9, 64, 65, 100, 4096, 4097, 32768]
    };
    for &off in EDGES {
        for &len in lens {
            let start = base + off;
            let mut pinner = Pinner::new();
            // SAFETY: the arena outlives the pin; nothing is freed under it.
            unsafe { pinner.pin_raw(start as *const u8, len) };
            let end = start + len.max(1);
            for probe in [start, end - 1, start + len / 2] {
                assert!(
                    is_pinned(probe as *const u8),
                    "pin [+{off}, +{len}) not seen at +{}",
                    probe - base
                );
            }
            for outside in [start - 1, end] {
                assert!(
                    !is_pinned(outside as *const u8),
                    "pin [+{off}, +{len}) seen at +{}",
                    outside - base
                );
            }
            pinner.unpin();
        }
    }
}

#[test]
fn hints_never_hide_a_pin_from_the_free_of_a_block_it_overlaps() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let sizes: &[usize] = if cfg!(miri) {
        &[48, 200]
    } else {
        &[16, 48, 64, 200, 600, 5000, 40000]
    };
    for &size in sizes {
        for &off in EDGES.iter().filter(|&&o| o < size) {
            for len in [0, 1, 64, 4096] {
                let len = len.min(size - off);
                let block = vec![1u8; size];
                let quarantined = snapshot().quarantined_blocks;
                let mut pinner = Pinner::new();
                // SAFETY: `PinAwareAlloc` keeps the block allocated while
                // the pin lives (that is what this test checks).
                unsafe { pinner.pin_raw(block.as_ptr().add(off), len) };
                drop(block);
                assert_eq!(
                    snapshot().quarantined_blocks,
                    quarantined + 1,
                    "a {size}-byte block freed under a pin of [+{off}, +{len}) was not kept"
                );
                pinner.unpin();
                assert_eq!(snapshot().quarantined_blocks, quarantined);
            }
        }
    }
}

/// Rule: the allocator's shortcut for one thread's lasting pins (ask only
/// the hints of the one shard that ever held a pin) never hides a pin made
/// in another shard, nor a call pin published in a thread's record. Each of
/// nine threads (threads land in 8 shards by number, so at least two shards
/// are used one after the other) frees a block under a pin of its own while
/// the first thread's pin lives; every such block must be kept.
#[test]
fn a_free_sees_pins_of_every_shard_after_one_shard_held_them_all() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let first = vec![0u8; 256];
    let mut lasting = Pinner::new();
    lasting.pin_slice(&first);
    for thread in 0..9 {
        std::thread::spawn(move || {
            let block = vec![1u8; 96];
            let quarantined = snapshot().quarantined_blocks;
            let mut pinner = Pinner::new();
            // SAFETY: `PinAwareAlloc` keeps the block allocated while the
            // pin lives (what this test checks).
            unsafe { pinner.pin_raw(block.as_ptr(), block.len()) };
            drop(block);
            assert_eq!(
                snapshot().quarantined_blocks,
                quarantined + 1,
                "thread {thread}: a block freed under its pin was not kept"
            );
            pinner.unpin();
        })
        .join()
        .unwrap();
    }
    drop(lasting);
}
