//! Lock-free hints: "could a pin cover or overlap this memory?" answered
//! without any of the registry's locks, so the common negative answer (the
//! allocator freeing an unpinned block while other pins are live, or
//! `is_pinned` on unpinned memory) costs a few loads.
//!
//! # Extents
//! A table of slots, one per granule of each level modulo the table's size
//! (direct-mapped by the granule's low bits, salted by level, so that the
//! neighbouring granules of one heap never share a slot). Each entry of the
//! shared table is filed under *every* granule of its level that it
//! touches (one or two: a region of level `k` is at most one granule
//! long), and each slot keeps the *extent* of what is filed there, as
//! offsets from the base of the granule:
//!
//! - heads, the entries that start in the granule: `[lowest start, highest
//!   end)`, the end clamped to the granule;
//! - tails, the entries that come from the granule before: they cover
//!   `[0, highest end)`.
//!
//! A block can only share a byte with an entry filed under a granule the
//! block touches, so a reader probes those slots alone and tests the block
//! against each extent. That is sound whatever else maps to a slot: every
//! entry filed under the probed granule lies inside the slot's extent
//! (entries of other granules only widen it). A granule holding the tail of
//! one pinned buffer and the head of the next is exact about the gap
//! between them, where the heap puts small blocks: a free there costs a few
//! loads and no lock (issue 15: with 10k 4 KiB buffers pinned, every such
//! free took the lock, 2x the instructions of `System`).
//!
//! The three fields take 21 bits each of one `u64`. Offsets are bytes for
//! granules up to 1 MiB and coarser units above (rounded outwards). An
//! extent only grows while entries are filed in its slot (a count per slot,
//! kept under the lock) and is reset when the count drops to zero:
//! narrowing it would mean finding the slot's other entries. The huge level
//! (regions past half the address space) has no extents: "maybe".
//!
//! The levels in use are mirrored in `LEVEL_MASK`, and the one level when
//! only one is (the usual case) in `SOLE_LEVEL`, which the fast path reads.
//! The hints are kept only when `PinAwareAlloc` is installed (decided at
//! the first pin); otherwise every answer here is "maybe" and callers take
//! the lock.
//!
//! # Ordering against the allocator
//! Writers hold the lock of the one table that files into a set (a
//! shard's, or the quarantine's); readers hold none, and each reads single words
//! (`SOLE_LEVEL` or `LEVEL_MASK`, then one extent per probed granule). A pin
//! a `dealloc` must see is one that happens-before it (a pin made
//! concurrently with the free of the memory it pins is the program's own
//! race, decided either way, as the lock's order decided it before); by
//! that happens-before the `dealloc` reads the words the pin stored
//! (Release stores, Acquire loads) or later ones. Later stores never hide
//! it: an extent only widens while the pin keeps its slot's count above
//! zero, and the level words name its level while it lives. Call pins are
//! not in these hints (they are published per thread, `calls`).

use super::table::granule;
use crate::region::Region;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// 2^17 slots natively. Under Miri 2^5: Stacked Borrows retags a
/// reference to a `Hints` by visiting each of its atomics (each an
/// `UnsafeCell`), so every question through `&Hints` cost a walk of
/// 400 000 cells there (2^17) and the registry's Miri tests took minutes
/// each; at 2^10 the stress test with `PinAwareAlloc` still spent most of
/// its time in those walks. The logic is the same at any size (slots are
/// direct-mapped by the low bits of the granule; a smaller table only
/// shares more slots, so more answers are "maybe" and take the lock path,
/// which Miri then checks too).
const HINT_BITS: u32 = if cfg!(miri) { 5 } else { 17 };
const HINT_SLOTS: usize = 1 << HINT_BITS;
/// A range wider than this many granules in one level is not probed
/// granule by granule: the caller asks the table instead.
const MAX_PROBES_PER_LEVEL: usize = 16;

/// One set of hints: the extents of what is filed in a table of slots, and
/// the levels in use. One per shard of the shared table (`SHARD_HINTS` in
/// the registry: each written only under its shard's lock, so every set has
/// one writer at a time, as this module assumes) and one for the
/// quarantine (`quarantine_hints`: under the quarantine's lock).
pub(super) struct Hints {
    /// Entries filed per slot: written and read under its writer's lock only.
    counts: [AtomicU32; HINT_SLOTS],
    /// Per slot, the union of its entries' extents (see "Extents"), packed
    /// by `pack`: what lock-free readers probe. Zero is the empty extent,
    /// so the table costs no memory until slots are used.
    extents: [AtomicU64; HINT_SLOTS],
    /// Entries filed per level, and the levels with any: written under the
    /// lock when the filer does not keep them itself (`file`).
    level_counts: [AtomicU32; LEVELS],
    level_mask: AtomicU32,
    /// The one level in `level_mask` when it holds exactly one (the usual
    /// case: a program's lasting pins tend to be of one size class) and its
    /// granules are at most 1 MiB (extents in bytes), as its salt (`slot`)
    /// above its granule shift in the low byte; else `NO_SOLE_LEVEL`, and
    /// readers walk the mask. Either word read alone names every level of
    /// the entries that happen-before the read.
    sole_level: AtomicU64,
    /// Whether the hints are kept; until then every answer is "maybe".
    enabled: AtomicBool,
}

/// Levels of `table::granule`: 0..=19 and the huge one.
const LEVELS: usize = 21;
/// Bits of each of an extent's three fields.
const FIELD: u32 = 16;
const FIELD_MAX: u64 = (1 << FIELD) - 1;
/// Where an extent keeps its tag: which granule, of those sharing the slot,
/// its entries were filed under (`tag`), or `MIXED_TAG`.
const TAG_SHIFT: u32 = 3 * FIELD;
/// The tag of a slot whose entries come from more than one granule.
const MIXED_TAG: u64 = FIELD_MAX;
/// The extent that overlaps everything.
const WHOLE_EXTENT: u64 =
    FIELD_MAX | FIELD_MAX << FIELD | FIELD_MAX << (2 * FIELD) | MIXED_TAG << TAG_SHIFT;
const NO_SOLE_LEVEL: u64 = u64::MAX;

impl Hints {
    pub(super) const fn new(enabled: bool) -> Hints {
        Hints {
            counts: [const { AtomicU32::new(0) }; HINT_SLOTS],
            extents: [const { AtomicU64::new(0) }; HINT_SLOTS],
            level_counts: [const { AtomicU32::new(0) }; LEVELS],
            level_mask: AtomicU32::new(0),
            sole_level: AtomicU64::new(NO_SOLE_LEVEL),
            enabled: AtomicBool::new(enabled),
        }
    }
}

/// The slot of granule `g` of `level` (see "Extents").
#[inline(always)]
fn slot(level: u8, g: usize) -> usize {
    (g ^ salt(level)) & (HINT_SLOTS - 1)
}

/// A level's salt of `slot`: the level number spread over the slot bits,
/// above them zero.
#[inline(always)]
fn salt(level: u8) -> usize {
    ((level as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - HINT_BITS)) as usize
}

/// log2 of `level`'s granule size, `None` for the huge level. `granule` is
/// `addr >> shift` below the huge level and 0 on it.
#[inline]
fn shift(level: u8) -> Option<u32> {
    let zeros = granule(level, usize::MAX).leading_zeros();
    (zeros < usize::BITS).then_some(zeros)
}

/// log2 of the unit of an extent's offsets in granules of `1 << shift`
/// bytes: bytes up to 32 KiB granules, so that an offset up to the
/// granule's size fits a field.
#[inline(always)]
fn quantum(shift: u32) -> u32 {
    shift.saturating_sub(FIELD - 1)
}

/// An extent from its fields: heads `[head_lo, head_hi)`, tails
/// `[0, tail_hi)`, each at most `FIELD_MAX`. The lowest start is stored
/// inverted, so that the empty extent (heads `[FIELD_MAX, 0)`, no tail) is
/// zero.
fn pack(head_lo: u64, head_hi: u64, tail_hi: u64) -> u64 {
    (FIELD_MAX - head_lo) | head_hi << FIELD | tail_hi << (2 * FIELD)
}

/// The fields of an extent: `(head_lo, head_hi, tail_hi)`.
#[inline(always)]
fn unpack(ext: u64) -> (u64, u64, u64) {
    (
        FIELD_MAX - (ext & FIELD_MAX),
        (ext >> FIELD) & FIELD_MAX,
        (ext >> (2 * FIELD)) & FIELD_MAX,
    )
}

/// The tag of granule `g`: its bits above those that pick its slot.
#[inline(always)]
fn tag(g: usize) -> u64 {
    (g >> HINT_BITS) as u64 & FIELD_MAX
}

/// Whether the entries of extent `ext` may have been filed under granule
/// `g`: its slot's tag is `g`'s, or mixed. A slot whose entries all come
/// from another granule (a granule a multiple of the table's size away)
/// holds none of `g`'s.
#[inline(always)]
fn tag_admits(ext: u64, g: usize) -> bool {
    let t = ext >> TAG_SHIFT;
    t == tag(g) || t == MIXED_TAG
}

/// The union of two extents' fields (the tag is the filer's: `filed`).
fn widen(a: u64, b: u64) -> u64 {
    let (a, b) = (unpack(a), unpack(b));
    pack(a.0.min(b.0), a.1.max(b.1), a.2.max(b.2))
}

/// Whether an entry inside extent `ext` may share a unit with the units
/// `[from, to]` (inclusive, from the same granule's base).
#[inline(always)]
fn extent_overlaps(ext: u64, from: u64, to: u64) -> bool {
    let (head_lo, head_hi, tail_hi) = unpack(ext);
    from < tail_hi || (head_lo <= to && from < head_hi)
}

/// The extent of the part of `[start, end)` in the granule of `1 << shift`
/// bytes at `base` (`end > base`): a head when the region starts there, a
/// tail when it comes from the granule before. Offsets are rounded
/// outwards to the quantum.
fn piece(start: usize, end: usize, base: usize, shift: u32) -> u64 {
    let q = quantum(shift);
    let hi = (end - base).min(1 << shift);
    let hi = ((hi + (1 << q) - 1) >> q) as u64;
    match start.checked_sub(base) {
        Some(lo) => pack((lo >> q) as u64, hi, 0),
        None => pack(FIELD_MAX, 0, hi),
    }
}

/// `[start, end)` of `region` with a zero-length region standing for its
/// own address, as `Region::overlaps` has it (`start < end`).
#[inline]
fn span(region: Region) -> (usize, usize) {
    let start = region.addr();
    (start, region.end().max(start.saturating_add(1)))
}

/// Calls `f` with the slot, extent and tag of each granule of `level` that
/// `region` touches (see "Extents"): at most two, as a region of level `k`
/// is at most one granule long.
fn for_each_piece(level: u8, region: Region, mut f: impl FnMut(usize, u64, u64)) {
    let (start, end) = span(region);
    let Some(s) = shift(level) else {
        // The huge level: readers never look at its extents.
        f(slot(level, 0), WHOLE_EXTENT, MIXED_TAG);
        return;
    };
    for g in start >> s..=(end - 1) >> s {
        f(slot(level, g), piece(start, end, g << s, s), tag(g));
    }
}

impl Hints {
    /// These hints are kept from now on (before any entry is filed): until
    /// then every answer is "maybe".
    pub(super) fn enable(&self) {
        self.enabled.store(true, Ordering::Release);
    }

    /// False when nothing filed can cover `addr`.
    #[inline]
    pub(super) fn may_cover(&'static self, addr: usize) -> bool {
        self.may_overlap_in_levels(addr, addr)
    }

    /// An entry for `region` was filed at `level`. Writer's lock held.
    pub(super) fn filed(&self, level: u8, region: Region) {
        for_each_piece(level, region, |i, ext, tag| {
            let n = self.counts[i].load(Ordering::Relaxed).saturating_add(1);
            self.counts[i].store(n, Ordering::Relaxed);
            let old = self.extents[i].load(Ordering::Relaxed);
            let tag = match old >> TAG_SHIFT {
                _ if n == 1 => tag,
                t if t == tag => tag,
                _ => MIXED_TAG,
            };
            // (The huge level's pieces come with the mixed tag.)
            let new = widen(old, ext) | tag << TAG_SHIFT;
            self.extents[i].store(new, Ordering::Release);
        });
    }

    /// The entry for `region` filed at `level` left. Writer's lock held.
    pub(super) fn unfiled(&self, level: u8, region: Region) {
        for_each_piece(level, region, |i, _, _| {
            let n = self.counts[i].load(Ordering::Relaxed).saturating_sub(1);
            self.counts[i].store(n, Ordering::Relaxed);
            if n == 0 {
                self.extents[i].store(0, Ordering::Release);
            }
        });
    }

    /// Files `region` at the level of its length, counting the levels in
    /// use here (for filers that do not count them themselves, as the
    /// table does). Writer's lock held.
    pub(super) fn file(&self, region: Region) {
        let level = level_of(region.len());
        self.filed(level, region);
        let n = self.level_counts[level as usize].load(Ordering::Relaxed) + 1;
        self.level_counts[level as usize].store(n, Ordering::Relaxed);
        if n == 1 {
            let mask = self.level_mask.load(Ordering::Relaxed) | 1 << level;
            self.publish_levels(mask);
        }
    }

    /// Takes back what `file` filed for `region`. Writer's lock held.
    pub(super) fn unfile(&self, region: Region) {
        let level = level_of(region.len());
        self.unfiled(level, region);
        let n = self.level_counts[level as usize]
            .load(Ordering::Relaxed)
            .saturating_sub(1);
        self.level_counts[level as usize].store(n, Ordering::Relaxed);
        if n == 0 {
            let mask = self.level_mask.load(Ordering::Relaxed) & !(1 << level);
            self.publish_levels(mask);
        }
    }

    /// The levels in use changed. Writer's lock held.
    pub(super) fn publish_levels(&self, mask: u32) {
        self.level_mask.store(mask, Ordering::Release);
        let level = mask.trailing_zeros() as u8;
        let shift = granule(level, usize::MAX).leading_zeros();
        let sole = match mask.count_ones() {
            // Levels of extents in bytes only (granules up to 1 MiB), so
            // that the fast path needs no rounding.
            1 if quantum(shift) == 0 => (salt(level) as u64) << 8 | shift as u64,
            _ => NO_SOLE_LEVEL,
        };
        self.sole_level.store(sole, Ordering::Release);
    }

    /// False when nothing filed can share a byte with `region` (a
    /// zero-length region asks about its address).
    #[inline]
    pub(super) fn may_overlap(&'static self, region: Region) -> bool {
        // No overflow: a region ends within the address space.
        let last = region.addr() + region.len().saturating_sub(1);
        self.may_overlap_in_levels(region.addr(), last)
    }

    /// Whether an entry may share a byte with `[first, last]` (inclusive):
    /// out of line, so that the allocator's inlined no-pin test stays a few
    /// instructions. The usual case (one level in use, a block within one
    /// of its granules) is one extent's test here; the rest is
    /// `may_overlap_walk`'s.
    #[inline(never)]
    fn may_overlap_in_levels(&'static self, first: usize, last: usize) -> bool {
        let sole = self.sole_level.load(Ordering::Acquire);
        let shift = (sole & 0x3f) as u32;
        if sole == NO_SOLE_LEVEL || first >> shift != last >> shift {
            return self.may_overlap_walk(first, last);
        }
        let g = first >> shift;
        let i = (g ^ (sole >> 8) as usize) & (HINT_SLOTS - 1);
        let ext = self.extents[i].load(Ordering::Acquire);
        let base = g << shift;
        extent_overlaps(ext, (first - base) as u64, (last - base) as u64) && tag_admits(ext, g)
    }

    /// `may_overlap_in_levels` over every level in use; "maybe" while the
    /// hints are not kept (`sole_level` is only ever set once they are).
    #[inline(never)]
    fn may_overlap_walk(&self, first: usize, last: usize) -> bool {
        if !self.enabled.load(Ordering::Acquire) {
            return true;
        }
        let mut mask = self.level_mask.load(Ordering::Acquire);
        while mask != 0 {
            let level = mask.trailing_zeros() as u8;
            mask &= mask - 1;
            if self.may_hold_at(level, first, last) {
                return true;
            }
        }
        false
    }

    /// Whether an entry filed at `level` may share a byte with `[first,
    /// last]` (inclusive): the extent of each granule of `[first, last]`.
    /// Every entry is filed under each granule it touches, so no other
    /// granule can hold one.
    fn may_hold_at(&self, level: u8, first: usize, last: usize) -> bool {
        let Some(shift) = shift(level) else {
            return true;
        };
        let (first_g, last_g) = (first >> shift, last >> shift);
        if last_g - first_g >= MAX_PROBES_PER_LEVEL {
            return true;
        }
        let q = quantum(shift);
        (first_g..=last_g).any(|g| {
            let ext = self.extents[slot(level, g)].load(Ordering::Acquire);
            // Offsets from `g`'s base, clamped at 0 below (a block reaching
            // back into an earlier granule); past the granule's end they
            // only ever compare greater.
            let base = g << shift;
            let (from, to) = (first.saturating_sub(base) >> q, (last - base) >> q);
            extent_overlaps(ext, from as u64, to as u64) && tag_admits(ext, g)
        })
    }
}

/// The level whose granule is the first to hold `len` bytes (the table's
/// `level_of`, which files pins; this one files what the table does not).
fn level_of(len: usize) -> u8 {
    (0..LEVELS as u8 - 1)
        .find(|&level| shift(level).is_some_and(|s| len <= 1 << s))
        .unwrap_or(LEVELS as u8 - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pin filed under a granule is inside the extent read there, at
    /// the edges of units and of the granule, in bytes (64-byte granules)
    /// and in coarser units (4 MiB granules, 128-byte units): the hint
    /// never hides a pin from a block it overlaps.
    #[test]
    fn an_extent_never_hides_a_pin_it_holds() {
        for shift in [6, 22] {
            let q = quantum(shift);
            let (unit, size) = (1usize << q, 1usize << shift);
            let edges = [
                0,
                1,
                unit - 1,
                unit,
                unit + 1,
                size / 2 - 1,
                size / 2,
                size - unit - 1,
                size - unit,
                size - 1,
            ];
            let base = 4 * size;
            let starts = edges.iter().flat_map(|&e| [base + e, base - size + e]);
            for start in starts {
                for len in [1, 2, unit, unit + 1, size / 2, size] {
                    let end = start + len;
                    if end <= base {
                        continue;
                    }
                    let ext = widen(0, piece(start, end, base, shift));
                    for first in edges.iter().map(|&e| base + e) {
                        for last in [first, first + 1, first + unit, first + size / 3] {
                            if start <= last && first < end {
                                let (from, to) = ((first - base) >> q, (last - base) >> q);
                                assert!(
                                    extent_overlaps(ext, from as u64, to as u64),
                                    "pin [{start:#x}, {end:#x}) hidden from [{first:#x}, {last:#x}]"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// In bytes, an extent is exact about the gap between the tail of one
    /// pin and the head of the next (where the heap puts small blocks), and
    /// its tag about granules a multiple of the table's size away.
    #[test]
    fn an_extent_is_exact_about_the_gap_between_two_pins() {
        let shift = 12;
        let base = 1 << 20;
        // The tail of a buffer ending at +0x100, the head of one at +0x160.
        let tail = piece(base - 0xf00, base + 0x100, base, shift);
        let head = piece(base + 0x160, base + 0x1160, base, shift);
        let ext = widen(widen(0, tail), head);
        assert!(!extent_overlaps(ext, 0x100, 0x15f));
        assert!(extent_overlaps(ext, 0xff, 0x110));
        assert!(extent_overlaps(ext, 0x120, 0x160));
        assert!(extent_overlaps(ext, 0xfff, 0xfff));
        // A slot holding only another granule's pins holds none of this
        // one's; a mixed one may.
        let other = ext | tag(5 << HINT_BITS) << TAG_SHIFT;
        assert!(!tag_admits(other, 6 << HINT_BITS) && tag_admits(other, 5 << HINT_BITS));
        assert!(tag_admits(ext | MIXED_TAG << TAG_SHIFT, 6 << HINT_BITS));
        // Empty and whole.
        assert!(!extent_overlaps(0, 0, u64::MAX));
        assert!(extent_overlaps(WHOLE_EXTENT, 0, 0));
        assert_eq!(unpack(0), (FIELD_MAX, 0, 0));
    }

    /// A length's level is the first whose granule holds it, as the
    /// table's.
    #[test]
    fn levels_hold_their_lengths() {
        for (len, level) in [(0, 0), (64, 0), (65, 1), (512, 1), (513, 2), (4096, 2)] {
            assert_eq!(level_of(len), level, "len {len}");
        }
    }

    /// Neighbouring granules of one level never share a slot.
    #[test]
    fn neighbouring_granules_have_their_own_slots() {
        // Pure arithmetic: under Miri (where it took 100 s) fewer granules,
        // as many as its table has slots.
        let n = if cfg!(miri) { HINT_SLOTS } else { 512 };
        for level in 0..20u8 {
            let g = 0x5555_5000usize;
            let slots: std::collections::BTreeSet<usize> =
                (g..g + n).map(|g| slot(level, g)).collect();
            assert_eq!(slots.len(), n);
        }
    }
}
