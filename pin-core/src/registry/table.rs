//! The registry's data layout: a slab of pin entries and an index that finds
//! the entries covering an address without scanning.
//!
//! # Layout
//! Each live entry is one region pinned `count` times by the same kind of
//! pin, from the same call site, on the same thread (pinning the same object
//! 100 times in a loop costs one entry). Entries live in a slab (`Vec` plus a
//! free list) so a pin's handle is a stable `u32`.
//!
//! The index files every entry under `(level, granule of its start)`. The
//! level is chosen from the length so that a region of level `k` is at most
//! one granule (`1 << shift(k)` bytes) long: it then touches only its start
//! granule and the next one. An address `a` can therefore only be covered by
//! entries filed under granule `g(a)` or `g(a) - 1` of each level in use, two
//! hash probes per level, whatever the number of live pins. Granules grow by
//! 8x per level from 64 bytes, so tiny objects packed into one page do not
//! share a bucket, and a 1 GiB buffer is one entry too.
//!
//! Most programs have a handful of pins live at a time (one call's
//! arguments), where hashing costs more than looking: while the slab has at
//! most `SMALL_SLOTS` slots the index is not built and queries scan the slab.
//! The index is built when the slab grows past that and dropped when the
//! table empties.
//!
//! # Allocation
//! All storage comes from `std::alloc::System` directly, never the global
//! allocator: the pin-aware allocator calls into the registry from inside
//! `dealloc`, and the registry must not call back into it while it holds its
//! lock.

use super::QuarantineRelease;
use crate::origin::{PinKind, Site, ThreadNumber};
use crate::region::Region;
use allocator_api2::vec::Vec as SysVec;
use core::alloc::Layout;
use hashbrown::HashTable;
use std::alloc::System;

/// Levels 0..=19 have granules of 2^(6 + 3k) bytes; level 20 holds regions
/// longer than 2^63 bytes in a single bucket.
pub(crate) const LEVELS: usize = 21;
const HUGE_LEVEL: u8 = 20;
const FIRST_SHIFT: u32 = 6;
const SHIFT_STEP: u32 = 3;
/// A range query walks granules one by one up to this many per level, then
/// scans the slab instead.
const MAX_GRANULE_WALK: usize = 64;
/// Up to this many slab slots the index is not built: queries scan.
const SMALL_SLOTS: usize = 16;
/// Free-list terminator.
const NO_SLOT: u32 = u32::MAX;

/// A stable handle to one entry of the slab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PinId(pub(crate) u32);

/// One region pinned `count` times by one kind, site and thread.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    /// Start address; the next free slot while `count == 0`.
    pub(crate) start: usize,
    pub(crate) len: usize,
    pub(crate) site: Site,
    /// Live pins in this entry; 0 marks a free slot.
    pub(crate) count: u32,
    pub(crate) thread: u32,
    pub(crate) born_ms: u32,
    pub(crate) kind: u8,
    pub(crate) level: u8,
}

impl Entry {
    pub(crate) fn region(&self) -> Region {
        Region::from_parts(self.start, self.len)
    }

    fn contains(&self, addr: usize) -> bool {
        self.region().contains(addr)
    }
}

/// A heap block kept out of the inner allocator because a pin overlaps it.
#[derive(Clone, Copy)]
pub(crate) struct Quarantined {
    pub(crate) addr: usize,
    pub(crate) layout: Layout,
    pub(crate) release: QuarantineRelease,
}

pub(crate) struct Table {
    entries: SysVec<Entry, System>,
    free_head: u32,
    index: HashTable<u32, System>,
    /// Whether `index` holds every live entry (else it is empty and queries
    /// scan the slab).
    indexed: bool,
    level_counts: [u32; LEVELS],
    level_mask: u32,
    live_entries: usize,
    pub(crate) quarantine: SysVec<Quarantined, System>,
    pub(crate) quarantined_bytes: usize,
}

fn level_of(len: usize) -> u8 {
    if len <= 1 << FIRST_SHIFT {
        return 0;
    }
    let bits = usize::BITS - (len - 1).leading_zeros();
    let k = (bits - FIRST_SHIFT).div_ceil(SHIFT_STEP);
    if k >= HUGE_LEVEL as u32 {
        HUGE_LEVEL
    } else {
        k as u8
    }
}

fn granule(level: u8, addr: usize) -> usize {
    if level >= HUGE_LEVEL {
        0
    } else {
        addr >> (FIRST_SHIFT + SHIFT_STEP * level as u32)
    }
}

fn bucket_hash(level: u8, granule: usize) -> u64 {
    // Granules fit in 58 bits (addresses >> 6); the level takes the top bits.
    let key = (granule as u64) ^ ((level as u64) << 58);
    let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^ (h >> 29)
}

impl Entry {
    fn bucket_hash(&self) -> u64 {
        bucket_hash(self.level, granule(self.level, self.start))
    }

    fn filed_under(&self, level: u8, g: usize) -> bool {
        self.level == level && granule(level, self.start) == g
    }
}

impl Table {
    pub(crate) const fn new() -> Table {
        Table {
            entries: SysVec::new_in(System),
            free_head: NO_SLOT,
            index: HashTable::new_in(System),
            indexed: false,
            level_counts: [0; LEVELS],
            level_mask: 0,
            live_entries: 0,
            quarantine: SysVec::new_in(System),
            quarantined_bytes: 0,
        }
    }

    pub(crate) fn live_entries(&self) -> usize {
        self.live_entries
    }

    pub(crate) fn entry(&self, id: PinId) -> &Entry {
        &self.entries[id.0 as usize]
    }

    /// Adds one pin of `region`, joining an identical live entry if there is
    /// one (same region, kind, site and thread).
    pub(crate) fn pin(
        &mut self,
        region: Region,
        kind: PinKind,
        site: Site,
        thread: ThreadNumber,
        born_ms: u32,
    ) -> PinId {
        let level = level_of(region.len());
        let kind = kind as u8;
        let same = |e: &Entry| {
            e.start == region.addr()
                && e.len == region.len()
                && e.kind == kind
                && e.thread == thread.0
                && core::ptr::eq(e.site, site)
                && e.count > 0
                && e.count < u32::MAX
        };
        let hash = bucket_hash(level, granule(level, region.addr()));
        let existing = if self.indexed {
            let entries = &self.entries;
            self.index
                .iter_hash(hash)
                .copied()
                .find(|&id| same(&entries[id as usize]))
        } else {
            self.entries.iter().position(same).map(|i| i as u32)
        };
        if let Some(id) = existing {
            self.entries[id as usize].count += 1;
            return PinId(id);
        }
        let entry = Entry {
            start: region.addr(),
            len: region.len(),
            site,
            count: 1,
            thread: thread.0,
            born_ms,
            kind,
            level,
        };
        let id = self.alloc_slot(entry);
        if self.indexed {
            let entries = &self.entries;
            self.index
                .insert_unique(hash, id, |&i| entries[i as usize].bucket_hash());
        } else if self.entries.len() > SMALL_SLOTS {
            self.build_index();
        }
        self.level_counts[level as usize] += 1;
        self.level_mask |= 1 << level;
        self.live_entries += 1;
        PinId(id)
    }

    /// Files every live entry in the index (the slab outgrew scanning).
    #[cold]
    fn build_index(&mut self) {
        let entries = &self.entries;
        self.index.clear();
        self.index.reserve(entries.len() * 2, |&i| entries[i as usize].bucket_hash());
        for (id, e) in entries.iter().enumerate() {
            if e.count > 0 {
                self.index
                    .insert_unique(e.bucket_hash(), id as u32, |&i| entries[i as usize].bucket_hash());
            }
        }
        self.indexed = true;
    }

    fn alloc_slot(&mut self, entry: Entry) -> u32 {
        if self.free_head != NO_SLOT {
            let id = self.free_head;
            self.free_head = self.entries[id as usize].start as u32;
            self.entries[id as usize] = entry;
            id
        } else {
            let id = u32::try_from(self.entries.len())
                .ok()
                .filter(|&id| id != NO_SLOT)
                .unwrap_or_else(|| too_many_pins());
            self.entries.push(entry);
            id
        }
    }

    /// Releases one pin of entry `id`; returns the entry's region when that
    /// was its last pin (the entry is gone).
    pub(crate) fn unpin(&mut self, id: PinId) -> Option<Region> {
        let e = &mut self.entries[id.0 as usize];
        debug_assert!(e.count > 0, "unpin of a free registry slot");
        if e.count == 0 {
            return None;
        }
        e.count -= 1;
        if e.count > 0 {
            return None;
        }
        let e = *e;
        if self.indexed {
            if let Ok(found) = self.index.find_entry(e.bucket_hash(), |&i| i == id.0) {
                found.remove();
            }
        }
        self.entries[id.0 as usize].start = self.free_head as usize;
        self.free_head = id.0;
        let level = e.level as usize;
        self.level_counts[level] -= 1;
        if self.level_counts[level] == 0 {
            self.level_mask &= !(1 << level);
        }
        self.live_entries -= 1;
        if self.live_entries == 0 {
            self.shrink_when_empty();
        }
        Some(e.region())
    }

    /// Gives memory back once the last pin is gone, so that a burst of a
    /// million pins does not stay resident for the life of the process.
    fn shrink_when_empty(&mut self) {
        if self.entries.capacity() > 4096 {
            self.entries = SysVec::new_in(System);
            self.index = HashTable::new_in(System);
        } else {
            self.entries.clear();
            self.index.clear();
        }
        self.indexed = false;
        self.free_head = NO_SLOT;
    }

    /// Calls `f` with every live entry covering `addr`; stops when `f`
    /// returns `true`, and returns whether it did.
    #[inline]
    pub(crate) fn find_covering(
        &self,
        addr: usize,
        mut f: impl FnMut(PinId, &Entry) -> bool,
    ) -> bool {
        if !self.indexed {
            for (id, e) in self.entries.iter().enumerate() {
                if e.count > 0 && e.contains(addr) && f(PinId(id as u32), e) {
                    return true;
                }
            }
            return false;
        }
        let mut mask = self.level_mask;
        while mask != 0 {
            let level = mask.trailing_zeros() as u8;
            mask &= mask - 1;
            let g = granule(level, addr);
            for g in [Some(g), g.checked_sub(1)].into_iter().flatten() {
                for &id in self.index.iter_hash(bucket_hash(level, g)) {
                    let e = &self.entries[id as usize];
                    if e.filed_under(level, g) && e.contains(addr) && f(PinId(id), e) {
                        return true;
                    }
                }
            }
        }
        false
    }

    pub(crate) fn covers_point(&self, addr: usize) -> bool {
        self.find_covering(addr, |_, _| true)
    }

    pub(crate) fn count_at(&self, addr: usize) -> usize {
        let mut total = 0usize;
        self.find_covering(addr, |_, e| {
            total += e.count as usize;
            false
        });
        total
    }

    /// The furthest end among non-empty pins covering `addr`.
    pub(crate) fn covered_until(&self, addr: usize) -> Option<usize> {
        let mut best = None;
        self.find_covering(addr, |_, e| {
            if e.len > 0 {
                best = best.max(Some(e.start + e.len));
            }
            false
        });
        best
    }

    /// Some live entry sharing a byte with `block` (a zero-length pin inside
    /// it counts), if any.
    pub(crate) fn overlapping(&self, block: Region) -> Option<PinId> {
        if !self.indexed {
            return self
                .live_ids()
                .find(|&(_, e)| e.region().overlaps(&block))
                .map(|(id, _)| id);
        }
        let mut mask = self.level_mask;
        let last = block.end().saturating_sub(1).max(block.addr());
        let mut scan_levels = 0u32;
        while mask != 0 {
            let level = mask.trailing_zeros() as u8;
            mask &= mask - 1;
            let first_g = granule(level, block.addr()).saturating_sub(1);
            let last_g = granule(level, last);
            if last_g - first_g >= MAX_GRANULE_WALK {
                scan_levels |= 1 << level;
                continue;
            }
            for g in first_g..=last_g {
                for &id in self.index.iter_hash(bucket_hash(level, g)) {
                    let e = &self.entries[id as usize];
                    if e.filed_under(level, g) && e.region().overlaps(&block) {
                        return Some(PinId(id));
                    }
                }
            }
        }
        if scan_levels != 0 {
            for (id, e) in self.entries.iter().enumerate() {
                if e.count > 0 && scan_levels & (1 << e.level) != 0 && e.region().overlaps(&block) {
                    return Some(PinId(id as u32));
                }
            }
        }
        None
    }

    /// Every live entry, in slab order.
    pub(crate) fn live(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.count > 0)
    }

    fn live_ids(&self) -> impl Iterator<Item = (PinId, &Entry)> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.count > 0)
            .map(|(id, e)| (PinId(id as u32), e))
    }

    /// Bytes of storage the table holds (slab, index, quarantine list).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.entries.capacity() * core::mem::size_of::<Entry>()
            + self.index.allocation_size()
            + self.quarantine.capacity() * core::mem::size_of::<Quarantined>()
    }
}

#[cold]
fn too_many_pins() -> ! {
    // More than 4 billion distinct live pin entries: not a state a program
    // can recover from, and unwinding here could run inside the allocator.
    let msg = b"pointer-escapes: more than u32::MAX live pin entries; aborting\n";
    // SAFETY: writing a static buffer to stderr.
    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::panic::Location;

    fn r(addr: usize, len: usize) -> Region {
        Region::new(addr as *const u8, len).unwrap()
    }

    fn pin(t: &mut Table, addr: usize, len: usize) -> PinId {
        t.pin(r(addr, len), PinKind::Pinner, Location::caller(), ThreadNumber(1), 0)
    }

    #[test]
    fn levels_fit_their_granule() {
        for len in [0usize, 1, 64, 65, 512, 513, 4096, 1 << 20, (1 << 20) + 1, usize::MAX] {
            let k = level_of(len);
            if k < HUGE_LEVEL {
                let shift = FIRST_SHIFT + SHIFT_STEP * k as u32;
                assert!(len <= 1usize << shift, "len {len} level {k}");
                if k > 0 {
                    assert!(len > 1usize << (shift - SHIFT_STEP), "len {len} level {k} too coarse");
                }
            }
        }
        assert_eq!(level_of(usize::MAX), HUGE_LEVEL);
    }

    #[test]
    fn cover_is_exact_at_both_ends() {
        for indexed in [false, true] {
            cover_is_exact(indexed);
        }
    }

    fn cover_is_exact(indexed: bool) {
        let mut t = Table::new();
        if indexed {
            t.build_index();
        }
        pin(&mut t, 0x10_0000, 100);
        assert!(!t.covers_point(0x10_0000 - 1));
        assert!(t.covers_point(0x10_0000));
        assert!(t.covers_point(0x10_0000 + 99));
        assert!(!t.covers_point(0x10_0000 + 100));
    }

    #[test]
    fn regions_crossing_granules_are_found_from_either_side() {
        let mut t = Table::new();
        // 60 bytes starting 10 bytes before a 64-byte granule boundary.
        pin(&mut t, 0x1000 - 10, 60);
        assert!(t.covers_point(0x1000 - 10));
        assert!(t.covers_point(0x1000 + 49));
        assert!(!t.covers_point(0x1000 + 50));
    }

    #[test]
    fn identical_pins_share_an_entry_and_count() {
        let mut t = Table::new();
        let site = Location::caller();
        let a = t.pin(r(0x2000, 8), PinKind::Pinner, site, ThreadNumber(1), 0);
        let b = t.pin(r(0x2000, 8), PinKind::Pinner, site, ThreadNumber(1), 0);
        assert_eq!(a, b);
        assert_eq!(t.count_at(0x2000), 2);
        assert_eq!(t.live_entries(), 1);
        assert!(t.unpin(a).is_none());
        assert_eq!(t.count_at(0x2000), 1);
        assert_eq!(t.unpin(b), Some(r(0x2000, 8)));
        assert_eq!(t.count_at(0x2000), 0);
        assert_eq!(t.live_entries(), 0);
    }

    #[test]
    fn overlap_queries_walk_or_scan() {
        overlap_queries(false);
        overlap_queries(true);
    }

    fn overlap_queries(indexed: bool) {
        let mut t = Table::new();
        if indexed {
            t.build_index();
        }
        let id = pin(&mut t, 0x5_0000, 16);
        assert_eq!(t.overlapping(r(0x5_0000 - 8, 8)), None);
        assert_eq!(t.overlapping(r(0x5_0000 - 8, 9)), Some(id));
        assert_eq!(t.overlapping(r(0x5_0000 + 15, 1)), Some(id));
        // A block far wider than MAX_GRANULE_WALK granules takes the scan.
        assert_eq!(t.overlapping(r(0x1000, 1 << 24)), Some(id));
        assert_eq!(t.overlapping(r(0x100_0000, 1 << 24)), None);
        let zero = pin(&mut t, 0x9_0000, 0);
        assert_eq!(t.overlapping(r(0x9_0000, 1)), Some(zero));
        assert_eq!(t.overlapping(r(0x8_ffff, 1)), None);
    }

    #[test]
    fn index_is_built_past_the_small_slab_and_dropped_when_empty() {
        let mut t = Table::new();
        let ids: Vec<PinId> = (0..SMALL_SLOTS + 8).map(|i| pin(&mut t, 0x10_0000 + i * 0x1000, 16)).collect();
        assert!(t.indexed);
        for i in 0..SMALL_SLOTS + 8 {
            let a = 0x10_0000 + i * 0x1000;
            assert!(t.covers_point(a) && t.covers_point(a + 15) && !t.covers_point(a + 16));
            assert_eq!(t.overlapping(r(a + 8, 100)), Some(ids[i]));
        }
        for id in &ids[..SMALL_SLOTS] {
            t.unpin(*id);
        }
        assert!(t.indexed, "the index stays while entries live");
        assert!(!t.covers_point(0x10_0000));
        assert!(t.covers_point(0x10_0000 + SMALL_SLOTS * 0x1000));
        for id in &ids[SMALL_SLOTS..] {
            t.unpin(*id);
        }
        assert!(!t.indexed && t.live_entries() == 0);
        let again = pin(&mut t, 0x10_0000, 16);
        assert!(t.covers_point(0x10_0008));
        t.unpin(again);
    }

    #[test]
    fn covered_until_reports_the_furthest_end() {
        let mut t = Table::new();
        pin(&mut t, 0x3000, 16);
        pin(&mut t, 0x3000, 64);
        assert_eq!(t.covered_until(0x3008), Some(0x3040));
        assert_eq!(t.covered_until(0x3040), None);
    }
}
