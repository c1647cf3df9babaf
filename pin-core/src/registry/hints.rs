//! Lock-free hints: "could a pin cover or overlap this memory?" answered
//! without the registry's lock, so the common negative answer (the
//! allocator freeing an unpinned block while other pins are live, or
//! `is_pinned` on unpinned memory) costs a few loads.
//!
//! A counting filter over the table's buckets: one counter per hash slot of
//! `(level, granule)`, incremented when an entry is filed under a bucket
//! hashing there and decremented when it leaves, and a bitmap of the
//! non-zero counters. Both are written only under a shard's lock, and,
//! since the shards' tables file into the same filter, under the stripe
//! lock of the slot too (plain load + store); the bitmap is read without
//! either. A clear bit proves no entry
//! is filed under any bucket hashing to that slot; a set one sends the
//! caller to the exact, locked lookup. The levels ever in
//! use are mirrored in `LEVEL_MASK` (bits are only added: clearing one
//! would race with another shard adding the same level; a level no longer
//! in use costs a reader two bit tests that answer "no"). The hints are kept only when
//! `PinAwareAlloc` is installed (decided at the first pin); otherwise every
//! answer here is "maybe" and callers take the lock.

use super::lock::SpinLock;
use super::table::{bucket_hash, granule};
use crate::region::Region;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

const HINT_BITS: u32 = 17;
const HINT_SLOTS: usize = 1 << HINT_BITS;
/// A range wider than this many granules in one level is not probed
/// granule by granule: the caller asks the table instead.
const MAX_PROBES_PER_LEVEL: usize = 16;

/// Entries filed per slot: written and read under the registry lock only.
static COUNTS: [AtomicU32; HINT_SLOTS] = [const { AtomicU32::new(0) }; HINT_SLOTS];
/// One bit per slot, set while its count is non-zero: what lock-free readers
/// probe. 16 KiB, so it stays in cache where the counts (512 KiB) would not.
static OCCUPIED: [AtomicU64; HINT_SLOTS / 64] = [const { AtomicU64::new(0) }; HINT_SLOTS / 64];
static LEVEL_MASK: AtomicU32 = AtomicU32::new(0);
/// Whether the registry keeps the hints (see `Table::hints`); until then
/// every answer is "maybe".
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Stripe locks over the slots: a slot's count and its bit change together
/// under its stripe's lock, so two shards filing into one slot cannot
/// leave the bit clear under a non-zero count. Taken only under a shard's
/// lock (so `fork`'s handlers, which hold every shard's, exclude them too),
/// never nested; each on its own line.
const STRIPES: usize = 16;
#[repr(align(128))]
struct Stripe(SpinLock<()>);
static STRIPE_LOCKS: [Stripe; STRIPES] = [const { Stripe(SpinLock::new(())) }; STRIPES];

fn stripe(i: usize) -> &'static SpinLock<()> {
    // Neighbouring words of `OCCUPIED` go to different stripes.
    &STRIPE_LOCKS[(i / 64) % STRIPES].0
}

/// The registry keeps the hints from now on. Lock held, before any entry.
pub(super) fn enable() {
    ENABLED.store(true, Ordering::Release);
}

fn slot(hash: u64) -> usize {
    (hash >> (64 - HINT_BITS)) as usize
}

/// Sets or clears slot `i`'s bit. Stripe lock held (every slot of one word
/// is in one stripe), so no other writer races this read-modify-write;
/// readers see the old or the new word.
fn set_occupied(i: usize, on: bool) {
    let word = &OCCUPIED[i / 64];
    let bit = 1u64 << (i % 64);
    let old = word.load(Ordering::Relaxed);
    word.store(if on { old | bit } else { old & !bit }, Ordering::Release);
}

/// An entry was filed under the bucket with this hash. A shard's lock held.
pub(super) fn filed(hash: u64) {
    let i = slot(hash);
    let _stripe = stripe(i).lock();
    let n = COUNTS[i].load(Ordering::Relaxed).saturating_add(1);
    COUNTS[i].store(n, Ordering::Relaxed);
    if n == 1 {
        set_occupied(i, true);
    }
}

/// An entry left the bucket with this hash. A shard's lock held.
pub(super) fn unfiled(hash: u64) {
    let i = slot(hash);
    let _stripe = stripe(i).lock();
    let n = COUNTS[i].load(Ordering::Relaxed).saturating_sub(1);
    COUNTS[i].store(n, Ordering::Relaxed);
    if n == 0 {
        set_occupied(i, false);
    }
}

/// A shard's table uses the levels of `mask`: they join the levels readers
/// probe (see the module's comment for why none ever leaves).
pub(super) fn publish_levels(mask: u32) {
    if LEVEL_MASK.load(Ordering::Relaxed) & mask != mask {
        LEVEL_MASK.fetch_or(mask, Ordering::Release);
    }
}

fn occupied(level: u8, g: usize) -> bool {
    let i = slot(bucket_hash(level, g));
    OCCUPIED[i / 64].load(Ordering::Acquire) & (1 << (i % 64)) != 0
}

/// False when no pin can cover `addr`.
#[inline]
pub(super) fn may_cover(addr: usize) -> bool {
    if !ENABLED.load(Ordering::Acquire) {
        return true;
    }
    let mut mask = LEVEL_MASK.load(Ordering::Acquire);
    while mask != 0 {
        let level = mask.trailing_zeros() as u8;
        mask &= mask - 1;
        let g = granule(level, addr);
        if occupied(level, g) || (g > 0 && occupied(level, g - 1)) {
            return true;
        }
    }
    false
}

/// False when no pin can share a byte with `block`.
#[inline]
pub(super) fn may_overlap(block: Region) -> bool {
    if !ENABLED.load(Ordering::Acquire) {
        return true;
    }
    let last = block.end().saturating_sub(1).max(block.addr());
    let mut mask = LEVEL_MASK.load(Ordering::Acquire);
    while mask != 0 {
        let level = mask.trailing_zeros() as u8;
        mask &= mask - 1;
        let first_g = granule(level, block.addr()).saturating_sub(1);
        let last_g = granule(level, last);
        if last_g - first_g >= MAX_PROBES_PER_LEVEL {
            return true;
        }
        for g in first_g..=last_g {
            if occupied(level, g) {
                return true;
            }
        }
    }
    false
}
