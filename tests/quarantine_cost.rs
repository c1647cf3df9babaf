//! The quarantine is looked at only where a release happened (issue 15's
//! cliff: every unpin rescanned the whole quarantine). Counted in blocks
//! examined, never timed.

#[global_allocator]
static ALLOC: PinAwareAlloc = PinAwareAlloc::system();

use pointer_escapes::__private::quarantine_blocks_examined;
use pointer_escapes::{snapshot, PinAwareAlloc, Pinner};

#[test]
fn releasing_an_unrelated_pin_does_not_scan_the_quarantine() {
    const BLOCKS: usize = 1000;
    let before = snapshot().quarantined_blocks;
    let boxes: Vec<Box<[u8; 48]>> = (0..BLOCKS).map(|_| Box::new([7u8; 48])).collect();
    let mut holder = Pinner::new();
    for b in &boxes {
        // SAFETY: PinAwareAlloc is the global allocator, so the block stays
        // allocated (quarantined) after the drop below, until unpinned.
        unsafe { holder.pin_raw(b.as_ptr(), b.len()) };
    }
    drop(boxes);
    assert_eq!(snapshot().quarantined_blocks, before + BLOCKS);

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
