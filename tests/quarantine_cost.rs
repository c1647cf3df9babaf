//! The quarantine is looked at only where a release happened (issue 15's
//! cliff: every unpin rescanned the whole quarantine). Counted in blocks
//! examined, never timed.

#[global_allocator]
static ALLOC: PinAwareAlloc = PinAwareAlloc::system();

use pointer_escapes::__private::{
    quarantine_blocks_examined, quarantine_lookups, CallPins, Extent,
};
use pointer_escapes::{snapshot, PinAwareAlloc, Pinner};
use std::sync::Mutex;

/// The tests take turns: each counts process-wide work.
static TURN: Mutex<()> = Mutex::new(());

/// Puts `blocks` 48-byte boxes in the quarantine: each pinned by the
/// returned pinner, then dropped. Returns the pinner (dropping it frees
/// them) and how many blocks were quarantined before.
fn quarantine_behind_a_pinner(blocks: usize) -> (Pinner<'static>, usize) {
    let before = snapshot().quarantined_blocks;
    let boxes: Vec<Box<[u8; 48]>> = (0..blocks).map(|_| Box::new([7u8; 48])).collect();
    let mut holder = Pinner::new();
    for b in &boxes {
        // SAFETY: PinAwareAlloc is the global allocator, so the block stays
        // allocated (quarantined) after the drop below, until unpinned.
        unsafe { holder.pin_raw(b.as_ptr(), b.len()) };
    }
    drop(boxes);
    assert_eq!(snapshot().quarantined_blocks, before + blocks);
    (holder, before)
}

#[test]
fn releasing_an_unrelated_pin_does_not_scan_the_quarantine() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    const BLOCKS: usize = 1000;
    let (holder, before) = quarantine_behind_a_pinner(BLOCKS);

    let examined = quarantine_blocks_examined();
    let unrelated = vec![0u8; 256];
    for _ in 0..100 {
        let mut pinner = Pinner::new();
        pinner.pin_slice(&unrelated);
        pinner.unpin();
    }
    assert_eq!(
        quarantine_blocks_examined() - examined,
        0,
        "releasing a pin far from every quarantined block looked at the quarantine"
    );

    // Releasing the pins that hold them frees every block, once.
    let examined = quarantine_blocks_examined();
    drop(holder);
    assert_eq!(snapshot().quarantined_blocks, before);
    let work = quarantine_blocks_examined() - examined;
    assert!(
        (BLOCKS..=2 * BLOCKS).contains(&work),
        "{work} blocks examined to free {BLOCKS}"
    );
}

/// A release far from every quarantined block neither takes the lock to
/// look for blocks to free (a call's pins) nor searches the quarantine (a
/// `Pinner`'s, which holds the lock already): the quarantine's lock-free
/// summary clears it. Counted in lookups, never timed.
#[test]
fn a_release_far_from_every_quarantined_block_looks_nothing_up() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    const BLOCKS: usize = 1000;
    let (holder, before) = quarantine_behind_a_pinner(BLOCKS);

    // Allocated after the quarantined blocks: beside the last of them, as
    // the heap hands it out.
    let unrelated = vec![0u8; 256];
    let lookups = quarantine_lookups();
    for _ in 0..100 {
        let mut pinner = Pinner::new();
        pinner.pin_slice(&unrelated);
        pinner.unpin();
        let call = CallPins::new("quarantine_cost_call", |call| {
            let ptr = unrelated.as_ptr();
            // SAFETY: with no check function nothing is read through `ptr`.
            unsafe { call.pointer("buf", &ptr, Extent::bytes(unrelated.len()), None) };
        });
        assert!(
            call.is_active(),
            "debug builds check arguments, so calls pin"
        );
        drop(call);
    }
    assert_eq!(
        quarantine_lookups() - lookups,
        0,
        "releases far from every quarantined block looked for blocks to free"
    );

    // Releasing the pins that hold them still finds and frees every block.
    let lookups = quarantine_lookups();
    drop(holder);
    assert_eq!(snapshot().quarantined_blocks, before);
    assert!(quarantine_lookups() > lookups);
}
