//! A lock-free summary of where the quarantine's blocks are, so that the
//! release of a pin far from every quarantined block costs a few loads: no
//! lock (a call pin's release) and no search of the quarantine (a
//! `Pinner`'s unpin, which holds the lock already). Issue 15: with 10 000
//! blocks in quarantine, a `Pinner` pin + unpin of an unrelated value took
//! 4x the time of one with none, the binary search of the sorted quarantine
//! missing the cache under the lock.
//!
//! The summary is a second set of the pin hints' extents (`hints`): every
//! quarantined block is filed under each granule of its level it touches,
//! with the extent of its bytes there, and taken out when it leaves the
//! quarantine. Quarantined blocks are distinct live allocations, so the
//! extents of one granule (the tail of one block, the head of the next)
//! stay exact about the memory between them.
//!
//! # Ordering against the allocator (see `calls`, "Against the allocator")
//! Written under the registry lock only. A `dealloc` quarantining a block
//! files it *before* its `fence(SeqCst)` (with the quarantine count); a
//! call pin's release reads it *after* its own `fence(SeqCst)`. If the
//! release's fence comes first, the `dealloc`'s scan sees the pin gone and
//! frees the block itself; if the `dealloc`'s fence comes first, the
//! release's loads see the block's extent (stores before the one fence,
//! loads after the other) and it takes the lock to free the block. So the
//! summary may only err towards "maybe": a block leaves it after it has
//! left the quarantine, under the lock.

use super::hints::Hints;
use crate::region::Region;

/// The quarantine's blocks, always kept.
static QUARANTINE: Hints = Hints::new(true);

/// `block` entered the quarantine. Lock held; before the `SeqCst` fence
/// that precedes the scan for pins.
pub(super) fn quarantined(block: Region) {
    QUARANTINE.file(block);
}

/// `block` left the quarantine. Lock held.
pub(super) fn left(block: Region) {
    QUARANTINE.unfile(block);
}

/// False when no quarantined block can share a byte with `released` (the
/// span of the pins just released): lock-free, a few loads.
#[inline]
pub(super) fn may_hold(released: Region) -> bool {
    QUARANTINE.may_overlap(released)
}
