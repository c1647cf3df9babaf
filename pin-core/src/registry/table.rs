//! The registry's data layout: a slab of pin entries and an index that finds
//! the entries covering an address without scanning.
//!
//! # Layout
//! Each live entry is one pin of one region (or one call's group of regions,
//! below), with its kind, call site, thread and birth time (`UNDATED` when
//! nobody could read its age: `report::pin_birth`). Entries live in a slab
//! (a front of 8 inline entries, then chunks with a free list: `slab`) so
//! a pin's handle is a stable `u32`.
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
//! Most programs have a handful of pins live at a time, where hashing costs
//! more than looking. So an entry is either in the index or in a short
//! *scan list* that every query also reads: call pins (made and released
//! together around one call) go to the scan list up to `SCAN_CALL_MAX`, and
//! other pins go there while the table holds at most `SCAN_SMALL` of them
//! and nothing is filed for the index yet. Past that they are filed for
//! the index.
//!
//! Filing is lazy. Only queries need the index, and a batch of pins made
//! and released with no question asked in between (a `Pinner` pinning a
//! thousand objects for one call) would pay a hash-table insert and remove
//! per pin for nothing. So a new entry is first *pending*: its id is
//! pushed on a list, and the slab notes its position there (a single
//! release swaps it out in O(1)). A query under the lock reads at most
//! `PENDING_READ` pending entries one by one; when more are pending it
//! first folds them all into the index (each entry is folded at most once,
//! so the fold costs what filing at pin time did). A pin that finds
//! `PENDING_MAX` pending folds them too, which bounds the list's memory.
//!
//! One call's pins form a *group*: one slab entry (kind, site, thread, age)
//! and one scan item per region, released together by truncating the scan
//! list. Pinning and unpinning a call's 17 regions is then a few stores per
//! region instead of 17 hash-table updates.
//!
//! # Allocation
//! All storage comes from `std::alloc::System` directly, never the global
//! allocator: the pin-aware allocator calls into the registry from inside
//! `dealloc`, and the registry must not call back into it while it holds its
//! lock.

use super::hints::Hints;
use super::slab::Slab;
use super::QuarantineRelease;
use crate::origin::{PinKind, Site, ThreadNumber};
use crate::region::Region;
use allocator_api2::vec::Vec as SysVec;
use core::alloc::Layout;
use core::cell::RefCell;
use core::sync::atomic::{AtomicU8, Ordering};
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
/// Non-call pins stay in the scan list while there are at most this many
/// entries there and nothing is filed for the index.
const SCAN_SMALL: usize = 8;
/// A query reads up to this many pending entries one by one; with more
/// pending it folds them into the index first. As many as the scan list
/// holds single pins: reading each costs about what one hash probe of a
/// level does, so a table asked about often reads no more than an indexed
/// one would.
const PENDING_READ: usize = SCAN_SMALL;
/// A pin that finds this many entries pending folds them into the index:
/// a pending id costs 4 bytes plus its note in the slab, so a million
/// pins never asked about stay in the index's smaller footprint.
const PENDING_MAX: usize = 4096;
/// Call pins stay in the scan list while it is shorter than this.
const SCAN_CALL_MAX: usize = 48;
/// An index with room for at most this many entries is kept when the last
/// pin goes.
const SMALL_INDEX: usize = 4096;
/// A call with more regions than this pins them as separate entries.
pub(crate) const GROUP_MAX: usize = 256;

// `Entry::meta` packs, from the low bits: the pin count (9 bits: 1, or a
// group's regions, at most `GROUP_MAX`), the kind (2), the level (5), the
// filed and group flags, and the thread number (14 bits). Packing keeps
// an entry at 32 bytes, half a cache line.
const COUNT_BITS: u32 = 9;
const COUNT_MASK: u32 = (1 << COUNT_BITS) - 1;
const KIND_SHIFT: u32 = 9;
const LEVEL_SHIFT: u32 = 11;
/// The entry is filed for the index (in it, or pending), not in the scan
/// list.
const FILED: u32 = 1 << 16;
/// The entry is a call group: it stands for `count` regions, each a scan
/// item carrying the entry's id.
const GROUP: u32 = 1 << 17;
const THREAD_SHIFT: u32 = 18;
/// Thread numbers above this are recorded as this (reports say so).
pub(crate) const MAX_THREAD_NUMBER: u32 = (1 << (32 - THREAD_SHIFT)) - 1;
/// The count of an entry a batch release has let go of but whose slot it
/// has not freed yet (see `unpin_run`); never a live entry's count.
const DETACHED: u32 = COUNT_MASK;
const _: () = assert!((GROUP_MAX as u32) < DETACHED);

/// A stable handle to one entry of the slab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PinId(pub(crate) u32);

/// One pin of one region (or one call's group of regions): where, by whom,
/// since when. 32 bytes.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    /// Start address; while the count is 0, in a chunk, the next free slot
    /// (a free front entry keeps whatever it held: the front's mask says
    /// which are free).
    pub(crate) start: usize,
    pub(crate) len: usize,
    pub(crate) site: Site,
    pub(crate) born_ms: u32,
    /// Count, kind, level, flags and thread, packed (see `COUNT_BITS`).
    meta: u32,
}

impl Entry {
    /// A free entry (count 0), for storage that must hold an `Entry`
    /// before any pin does (the slab's front).
    pub(super) const FREE: Entry = Entry {
        start: 0,
        len: 0,
        site: core::panic::Location::caller(),
        born_ms: 0,
        meta: 0,
    };

    #[allow(clippy::too_many_arguments)]
    fn new(
        region: Region,
        site: Site,
        born_ms: u32,
        kind: PinKind,
        level: u8,
        flags: u32,
        count: u32,
        thread: ThreadNumber,
    ) -> Entry {
        let thread = thread.0.min(MAX_THREAD_NUMBER);
        Entry {
            start: region.addr(),
            len: region.len(),
            site,
            born_ms,
            meta: count
                | (kind as u32) << KIND_SHIFT
                | (level as u32) << LEVEL_SHIFT
                | flags
                | thread << THREAD_SHIFT,
        }
    }

    /// Live pins in this entry (regions, for a group); 0 marks a free slot.
    #[inline]
    pub(crate) fn count(&self) -> u32 {
        self.meta & COUNT_MASK
    }

    fn clear_count(&mut self) {
        self.meta &= !COUNT_MASK;
    }

    /// A live single pin (the slab's tests).
    #[cfg(test)]
    pub(super) fn test_entry(
        region: Region,
        site: Site,
        kind: PinKind,
        thread: ThreadNumber,
    ) -> Entry {
        Entry::new(region, site, 0, kind, level_of(region.len()), 0, 1, thread)
    }

    /// `clear_count`, for the slab's tests.
    #[cfg(test)]
    pub(super) fn clear_count_for_test(&mut self) {
        self.clear_count();
    }

    fn detach(&mut self) {
        self.meta |= DETACHED;
    }

    pub(crate) fn kind(&self) -> PinKind {
        PinKind::from_u8(((self.meta >> KIND_SHIFT) & 3) as u8)
    }

    pub(crate) fn thread(&self) -> ThreadNumber {
        ThreadNumber(self.meta >> THREAD_SHIFT)
    }

    pub(crate) fn region(&self) -> Region {
        Region::from_parts(self.start, self.len)
    }

    #[inline]
    fn contains(&self, addr: usize) -> bool {
        if self.len == 0 {
            addr == self.start
        } else {
            addr.wrapping_sub(self.start) < self.len
        }
    }

    #[inline]
    fn level(&self) -> u8 {
        ((self.meta >> LEVEL_SHIFT) & 0x1f) as u8
    }

    #[inline]
    pub(crate) fn is_group(&self) -> bool {
        self.meta & GROUP != 0
    }

    #[inline]
    fn filed(&self) -> bool {
        self.meta & FILED != 0
    }

    fn bucket_hash(&self) -> u64 {
        bucket_hash(self.level(), granule(self.level(), self.start))
    }

    #[inline]
    fn filed_under(&self, level: u8, g: usize) -> bool {
        self.level() == level && granule(level, self.start) == g
    }
}

/// A heap block kept out of the inner allocator because a pin overlaps it.
#[derive(Clone, Copy)]
pub(crate) struct Quarantined {
    pub(crate) addr: usize,
    pub(crate) layout: Layout,
    pub(crate) release: QuarantineRelease,
    /// Freed (its value's destructor ran), as opposed to moved by `realloc`
    /// (its contents live on in the new block).
    pub(crate) freed: bool,
}

/// The smallest region holding every region added to it, a zero-length
/// region standing for its own address (what it pins, as
/// `Region::overlaps` has it): the span of released pins bounds the
/// quarantined blocks a release looks at, and a block kept for a
/// zero-length pin at its first byte must lie within it.
#[derive(Default)]
pub(crate) struct Span {
    bounds: Option<(usize, usize)>,
}

impl Span {
    pub(crate) fn add(&mut self, r: Region) {
        let start = r.addr();
        let end = r.end().max(start.saturating_add(1));
        self.bounds = Some(match self.bounds {
            None => (start, end),
            Some((s, e)) => (s.min(start), e.max(end)),
        });
    }

    pub(crate) fn region(&self) -> Region {
        match self.bounds {
            Some((s, e)) => Region::from_parts(s, e - s),
            None => Region::from_parts(0, 0),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bounds.is_none()
    }
}

/// A scan-list entry: the extent of a live entry, and its id.
#[derive(Clone, Copy)]
pub(crate) struct ScanItem {
    pub(crate) start: usize,
    len: usize,
    /// `len`, or 1 for a zero-length pin (which covers its own address), so
    /// that the point test is one subtraction and one comparison.
    pub(crate) reach: usize,
    id: u32,
}

/// A live pin covering or overlapping what was asked about.
#[derive(Clone, Copy)]
pub(crate) struct Hit {
    pub(crate) id: PinId,
    pub(crate) region: Region,
    /// Pins of this region in the entry (1 for a region of a call group).
    pub(crate) count: u32,
}

impl ScanItem {
    fn new(region: Region, id: u32) -> ScanItem {
        ScanItem {
            start: region.addr(),
            len: region.len(),
            reach: region.len().max(1),
            id,
        }
    }

    fn region(&self) -> Region {
        Region::from_parts(self.start, self.len)
    }

    #[inline]
    fn contains(&self, addr: usize) -> bool {
        addr.wrapping_sub(self.start) < self.reach
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum HintsMode {
    Undecided = 0,
    On = 1,
    Off = 2,
}

/// The entries filed for the index: in it, or pending. In a `RefCell`
/// because a query, which holds the table shared, folds the pending ones
/// in (see the module doc); every other change comes through `&mut Table`.
struct Filed {
    /// Indexed entries, filed by bucket hash.
    index: HashTable<u32, System>,
    /// Ids of the entries filed but not yet in the index, each noted in
    /// the slab (`Slab::pending_at`) with its position here.
    pending: SysVec<u32, System>,
    /// Indexed entries per level, and the levels with any.
    level_counts: [u32; LEVELS],
    level_mask: u32,
}

impl Filed {
    /// Files every pending entry in the index.
    #[cold]
    #[inline(never)]
    fn fold(&mut self, entries: &Slab) {
        #[cfg(test)]
        FOLDED.with(|f| f.set(f.get() + self.pending.len()));
        for &id in self.pending.iter() {
            let e = &entries[id as usize];
            self.index
                .insert_unique(e.bucket_hash(), id, |&j| entries[j as usize].bucket_hash());
            add_level(&mut self.level_counts, &mut self.level_mask, e.level());
        }
        self.pending.clear();
    }

    /// Whether live filed entry `id` is pending rather than indexed. Its
    /// note is its position in `pending` while it is there; once folded,
    /// the note may point past the list's end or at another id (the list
    /// was emptied and refilled), never at `id` itself, which only a new
    /// pin of this slot would push again.
    #[inline]
    fn pending_position(&self, entries: &Slab, id: u32) -> Option<usize> {
        let at = entries.pending_at(id) as usize;
        match self.pending.get(at) {
            Some(&there) if there == id => Some(at),
            _ => None,
        }
    }
}

pub(crate) struct Table {
    entries: Slab,
    /// Entries filed for the index (see `Filed`).
    filed: RefCell<Filed>,
    /// How many live entries `filed` holds, pending or indexed (changed
    /// only through `&mut self`: a fold moves entries within `filed`).
    filed_entries: usize,
    /// Entries not in the index, with their extents copied so that reading
    /// them all is a tight loop; every query does.
    scan: SysVec<ScanItem, System>,
    /// Whether this table keeps the lock-free hints: decided at the first
    /// pin, on when `PinAwareAlloc` is installed (its frees are what the
    /// hints are for). Without it, keeping them would cost every call pin
    /// a few stores for nothing the program needs; queries then take the
    /// lock. Tables made by unit tests never touch them.
    hints: HintsMode,
    /// Where this table files its hints (its shard's own set).
    hint_set: &'static Hints,
    /// Levels of every live entry (indexed or not), for the hints.
    all_level_counts: [u32; LEVELS],
    all_level_mask: u32,
    live_entries: usize,
}

/// The process's one decision about the lock-free hints (0: not yet, else
/// a `HintsMode` as `u8`): every shard's table follows it, since a table
/// that kept no hints while another had enabled them would hide its pins
/// from the allocator's lock-free check.
static HINTS_DECISION: AtomicU8 = AtomicU8::new(0);

fn decide_hints_once() -> HintsMode {
    let wanted = match super::GUARDED_FREES.load(Ordering::Relaxed) {
        true => HintsMode::On,
        false => HintsMode::Off,
    };
    match HINTS_DECISION.compare_exchange(0, wanted as u8, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => wanted,
        Err(d) if d == HintsMode::On as u8 => HintsMode::On,
        Err(_) => HintsMode::Off,
    }
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

pub(super) fn granule(level: u8, addr: usize) -> usize {
    if level >= HUGE_LEVEL {
        0
    } else {
        addr >> (FIRST_SHIFT + SHIFT_STEP * level as u32)
    }
}

pub(super) fn bucket_hash(level: u8, granule: usize) -> u64 {
    // Granules fit in 58 bits (addresses >> 6); the level takes the top bits.
    let key = (granule as u64) ^ ((level as u64) << 58);
    let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^ (h >> 29)
}

fn add_level(counts: &mut [u32; LEVELS], mask: &mut u32, level: u8) -> bool {
    counts[level as usize] += 1;
    let new = *mask & (1 << level) == 0;
    *mask |= 1 << level;
    new
}

fn remove_level(counts: &mut [u32; LEVELS], mask: &mut u32, level: u8) -> bool {
    counts[level as usize] -= 1;
    let gone = counts[level as usize] == 0;
    if gone {
        *mask &= !(1 << level);
    }
    gone
}

#[cfg(test)]
std::thread_local! {
    /// Pending-list items this thread's table code read or moved (work,
    /// not time: what the tests of the list's bounds count).
    static PENDING_VISITS: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
    /// Pending entries this thread's table code folded into the index.
    static FOLDED: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// Counts `n` pending-list items visited (tests only).
#[inline(always)]
fn visited_pending(n: usize) {
    #[cfg(test)]
    PENDING_VISITS.with(|v| v.set(v.get() + n));
    let _ = n;
}

/// The hint set of tables made by unit tests, which keep no hints.
#[cfg(test)]
static UNUSED_HINTS: Hints = Hints::new(false);

impl Table {
    /// An empty table filing its lock-free hints (once they are kept) in
    /// `hint_set`, which no other table files in.
    pub(crate) const fn new(hint_set: &'static Hints) -> Table {
        Table {
            hint_set,
            entries: Slab::new(),
            filed: RefCell::new(Filed {
                index: HashTable::new_in(System),
                pending: SysVec::new_in(System),
                level_counts: [0; LEVELS],
                level_mask: 0,
            }),
            filed_entries: 0,
            scan: SysVec::new_in(System),
            hints: HintsMode::Undecided,
            all_level_counts: [0; LEVELS],
            all_level_mask: 0,
            live_entries: 0,
        }
    }

    /// A table outside the registry (unit tests): no lock-free hints, so
    /// its set is never written.
    #[cfg(test)]
    pub(super) fn private() -> Table {
        Table {
            hints: HintsMode::Off,
            ..Table::new(&UNUSED_HINTS)
        }
    }

    pub(crate) fn live_entries(&self) -> usize {
        self.live_entries
    }

    pub(crate) fn entry(&self, id: PinId) -> &Entry {
        &self.entries[id.0 as usize]
    }

    /// Adds one pin of `region` as a new entry. Identical pins are not
    /// merged here (searching for a twin costs more than the entry saves);
    /// the report merges them for display.
    ///
    /// Inlined: it is the heart of `Pinner::pin`, whose whole cost is a
    /// few hundred instructions, and a call's register saves are a tenth
    /// of them.
    #[inline(always)]
    pub(crate) fn pin(
        &mut self,
        region: Region,
        kind: PinKind,
        site: Site,
        thread: ThreadNumber,
        born_ms: u32,
    ) -> PinId {
        self.decide_hints();
        let level = level_of(region.len());
        let is_call = kind == PinKind::Call;
        let to_file = if is_call {
            self.scan.len() >= SCAN_CALL_MAX
        } else {
            self.filed_entries != 0 || self.scan.len() >= SCAN_SMALL
        };
        let flags = if to_file { FILED } else { 0 };
        let entry = Entry::new(region, site, born_ms, kind, level, flags, 1, thread);
        let id = self.alloc_slot(entry);
        if to_file {
            self.file_new(id);
        } else {
            self.scan.push(ScanItem::new(region, id));
        }
        self.file_hint(level, region);
        self.live_entries += 1;
        PinId(id)
    }

    /// Files new entry `id` for the index: pending (moving the scan list's
    /// single pins there too when it is the first filed).
    #[inline(always)]
    fn file_new(&mut self, id: u32) {
        if self.filed_entries == 0 {
            self.move_scan_items_to_pending();
        }
        let filed = self.filed.get_mut();
        if filed.pending.len() >= PENDING_MAX {
            filed.fold(&self.entries);
        }
        self.entries.set_pending_at(id, filed.pending.len() as u32);
        filed.pending.push(id);
        self.filed_entries += 1;
    }

    /// Pins all of `regions` (at least one, at most `GROUP_MAX`) as one
    /// call group.
    pub(crate) fn pin_group(
        &mut self,
        regions: &[Region],
        site: Site,
        thread: ThreadNumber,
        born_ms: u32,
    ) -> PinId {
        debug_assert!(!regions.is_empty() && regions.len() <= GROUP_MAX);
        self.decide_hints();
        let first = regions[0];
        let id = self.alloc_slot(Entry::new(
            first,
            site,
            born_ms,
            PinKind::Call,
            level_of(first.len()),
            GROUP,
            regions.len() as u32,
            thread,
        ));
        self.scan.reserve(regions.len());
        for r in regions {
            self.scan.push(ScanItem::new(*r, id));
            self.file_hint(level_of(r.len()), *r);
        }
        self.live_entries += 1;
        PinId(id)
    }

    /// The table outgrew scanning: file the scan list's single pins for the
    /// index too, so that queries on a big table are hash probes alone.
    /// Call groups stay (they leave together, by truncation).
    #[cold]
    fn move_scan_items_to_pending(&mut self) {
        let filed = self.filed.get_mut();
        let mut i = 0;
        while i < self.scan.len() {
            let id = self.scan[i].id;
            let e = &mut self.entries[id as usize];
            if e.is_group() {
                i += 1;
                continue;
            }
            e.meta |= FILED;
            self.entries.set_pending_at(id, filed.pending.len() as u32);
            filed.pending.push(id);
            self.filed_entries += 1;
            self.scan.swap_remove(i);
        }
    }

    /// Folds the pending entries into the index when more are pending than
    /// a query reads one by one. Every query under the lock starts here.
    #[inline]
    fn settle(&self) {
        let over = self.filed.borrow().pending.len() > PENDING_READ;
        if over {
            // A query's callback asking the table again finds it settled
            // (nothing is pinned in between: that takes `&mut self`), so
            // the cell is never borrowed here; if it were, the query would
            // still be right, reading the pending entries one by one.
            if let Ok(mut filed) = self.filed.try_borrow_mut() {
                filed.fold(&self.entries);
            }
        }
    }

    fn decide_hints(&mut self) {
        if self.hints == HintsMode::Undecided {
            self.hints = decide_hints_once();
            if self.hints == HintsMode::On {
                // Before this table files its first hint: readers of a set
                // not yet kept hear "maybe".
                self.hint_set.enable();
            }
        }
    }

    fn file_hint(&mut self, level: u8, region: Region) {
        if self.hints != HintsMode::On {
            return;
        }
        self.hint_set.filed(level, region);
        if add_level(&mut self.all_level_counts, &mut self.all_level_mask, level) {
            self.hint_set.publish_levels(self.all_level_mask);
        }
    }

    /// Inline up to the test: a pin's release without hints kept (no
    /// `PinAwareAlloc`) pays a load and a branch, not a call.
    #[inline(always)]
    fn unfile_hint(&mut self, r: Region) {
        if self.hints == HintsMode::On {
            self.unfile_kept_hint(r);
        }
    }

    #[inline(never)]
    fn unfile_kept_hint(&mut self, r: Region) {
        let level = level_of(r.len());
        self.hint_set.unfiled(level, r);
        if remove_level(&mut self.all_level_counts, &mut self.all_level_mask, level) {
            self.hint_set.publish_levels(self.all_level_mask);
        }
    }

    /// Removes a group's scan items: a truncation when they are the newest
    /// (calls nest), a sweep otherwise.
    /// Removes the scan items of group `id` and returns the span from the
    /// lowest start to the highest end among them (what the release may let
    /// go of in the quarantine).
    fn remove_group_items(&mut self, id: u32, count: usize) -> Region {
        let mut span = Span::default();
        let n = self.scan.len();
        let tail_is_group = n >= count && self.scan[n - count..].iter().all(|item| item.id == id);
        if tail_is_group {
            for i in n - count..n {
                let r = self.scan[i].region();
                span.add(r);
                self.unfile_hint(r);
            }
            self.scan.truncate(n - count);
        } else {
            let mut i = 0;
            while i < self.scan.len() {
                if self.scan[i].id == id {
                    let r = self.scan.swap_remove(i).region();
                    span.add(r);
                    self.unfile_hint(r);
                } else {
                    i += 1;
                }
            }
        }
        span.region()
    }

    #[inline]
    fn alloc_slot(&mut self, entry: Entry) -> u32 {
        self.entries.alloc(entry).unwrap_or_else(|| too_many_pins())
    }

    /// Releases one pin of entry `id`; returns the entry's region when that
    /// was its last pin (the entry is gone). Inlined, as `pin` is.
    #[inline(always)]
    pub(crate) fn unpin(&mut self, id: PinId) -> Option<Region> {
        let e = &mut self.entries[id.0 as usize];
        debug_assert!(e.count() > 0, "unpin of a free registry slot");
        if e.count() == 0 {
            return None;
        }
        if e.is_group() {
            let (id32, count) = (id.0, e.count() as usize);
            e.clear_count();
            let span = self.remove_group_items(id32, count);
            self.release_slot(id32);
            return Some(span);
        }
        // A single pin's count is 1: this was its last pin.
        e.clear_count();
        let e = *e;
        if e.filed() {
            self.unfile(id.0, &e);
        } else if self.scan.last().is_some_and(|item| item.id == id.0) {
            // The usual case: the newest pin goes first.
            self.scan.pop();
        } else if let Some(pos) = self.scan.iter().rposition(|item| item.id == id.0) {
            self.scan.swap_remove(pos);
        }
        self.unfile_hint(e.region());
        self.release_slot(id.0);
        Some(e.region())
    }

    /// Takes live filed entry `id` (a copy of it in `e`) out of the
    /// pending list or the index: O(1) either way.
    #[inline(always)]
    fn unfile(&mut self, id: u32, e: &Entry) {
        self.filed_entries -= 1;
        let filed = self.filed.get_mut();
        if let Some(at) = filed.pending_position(&self.entries, id) {
            visited_pending(1);
            filed.pending.swap_remove(at);
            if let Some(&moved) = filed.pending.get(at) {
                self.entries.set_pending_at(moved, at as u32);
            }
            return;
        }
        if let Ok(found) = filed.index.find_entry(e.bucket_hash(), |&i| i == id) {
            found.remove();
        }
        remove_level(&mut filed.level_counts, &mut filed.level_mask, e.level());
    }

    /// Releases one pin of each entry named in `ids` (a holder's handles:
    /// each names a live entry once; a handle of a free or already
    /// released entry is passed over), adding to `span` the region of
    /// every entry that went.
    ///
    /// A batch (at least a quarter as many handles as there are pending
    /// entries) does not take its pending entries out of the list one by
    /// one: it marks them, then sweeps the list once, or empties it when
    /// they are all of it, and frees the slots after the sweep (a slot
    /// freed before could be given back with its chunk while the list
    /// still names it). Either way the cost is O(1) per handle.
    #[inline(always)]
    pub(crate) fn unpin_run<I>(&mut self, ids: I, span: &mut Span)
    where
        I: ExactSizeIterator<Item = PinId>,
    {
        let pending = self.filed.get_mut().pending.len();
        if pending == 0 || ids.len().saturating_mul(4) < pending {
            for id in ids {
                if let Some(r) = self.unpin(id) {
                    span.add(r);
                }
            }
            return;
        }
        self.unpin_batch(ids, span);
    }

    /// `unpin_run` for a batch.
    #[inline(never)]
    fn unpin_batch<I>(&mut self, ids: I, span: &mut Span)
    where
        I: ExactSizeIterator<Item = PinId>,
    {
        // Every filed entry is pending while the index is empty: no note
        // to read.
        let all_pending = self.filed.get_mut().index.is_empty();
        let mut detached = 0usize;
        for id in ids {
            let e = &mut self.entries[id.0 as usize];
            let count = e.count();
            if count == 0 || count == DETACHED {
                debug_assert!(count != 0, "unpin of a free registry slot");
                continue;
            }
            let filed_single = e.filed() && !e.is_group();
            // The usual batch (nothing indexed): detached through the one
            // look-up of its entry.
            let region = if filed_single && all_pending {
                e.clear_count();
                e.detach();
                e.region()
            } else if filed_single
                && self
                    .filed
                    .get_mut()
                    .pending_position(&self.entries, id.0)
                    .is_some()
            {
                let e = &mut self.entries[id.0 as usize];
                e.clear_count();
                e.detach();
                e.region()
            } else {
                // The index, the scan list or a group: one by one, as a
                // single release (it never frees the slots marked here:
                // their chunks still count them live, and so does
                // `live_entries`).
                if let Some(r) = self.unpin(id) {
                    span.add(r);
                }
                continue;
            };
            span.add(region);
            self.unfile_hint(region);
            detached += 1;
        }
        if detached == 0 {
            return;
        }
        self.filed_entries -= detached;
        if detached == self.live_entries {
            // Every live entry went: nothing is indexed or in the scan
            // list, and every slot is free.
            self.filed.get_mut().pending.clear();
            self.live_entries = 0;
            self.shrink_when_empty();
            return;
        }
        self.sweep_pending();
    }

    /// Frees the slots of the detached entries of the pending list and
    /// closes it up, noting each remaining entry's new position.
    #[cold]
    fn sweep_pending(&mut self) {
        let mut pending =
            core::mem::replace(&mut self.filed.get_mut().pending, SysVec::new_in(System));
        let mut kept = 0;
        visited_pending(pending.len());
        for at in 0..pending.len() {
            let id = pending[at];
            let e = &mut self.entries[id as usize];
            if e.count() == DETACHED {
                e.clear_count();
                // Chunks holding entries not yet visited count them live,
                // so a compaction here leaves them in place; the table
                // keeps a live entry until the last one.
                self.release_slot(id);
            } else {
                pending[kept] = id;
                self.entries.set_pending_at(id, kept as u32);
                kept += 1;
            }
        }
        pending.truncate(kept);
        self.filed.get_mut().pending = pending;
    }

    #[inline(always)]
    fn release_slot(&mut self, id: u32) {
        self.live_entries -= 1;
        if self.live_entries == 0 {
            self.entries.release(id);
            // A small table stays as it is (its free list is as good as
            // new): pins that come and go one at a time pay nothing here.
            if self.entries.chunks_with_memory() > 1
                || self.filed.get_mut().index.capacity() > SMALL_INDEX
            {
                self.shrink_when_empty();
            }
        } else if self.entries.release(id) {
            self.shrink_to_live();
        }
    }

    /// Gives memory back once the last pin is gone, so that a burst of a
    /// million pins does not stay resident for the life of the process.
    #[cold]
    fn shrink_when_empty(&mut self) {
        self.entries.clear();
        // Every entry left the index and the pending list (one by one, or
        // all at once in `unpin_run`), so they are empty already; only a
        // big allocation is worth giving back.
        let filed = self.filed.get_mut();
        if filed.index.capacity() > SMALL_INDEX {
            filed.index = HashTable::new_in(System);
        }
        // The pending list is kept up to its bound (16 KiB): a pinner
        // pinning a batch again refills it without growing it again.
        if filed.pending.capacity() > PENDING_MAX {
            filed.pending = SysVec::new_in(System);
        }
        self.scan.clear();
        if self.scan.capacity() > SCAN_CALL_MAX {
            self.scan.shrink_to(SCAN_CALL_MAX);
        }
    }

    /// The slab gave most of its chunks back (live entries fell well below
    /// its capacity): fit the index and the lists to what is left too. Paid
    /// for, as the slab's compaction is, by the releases that emptied it.
    #[cold]
    fn shrink_to_live(&mut self) {
        let entries = &self.entries;
        let filed = self.filed.get_mut();
        filed
            .index
            .shrink_to(0, |&i| entries[i as usize].bucket_hash());
        filed.pending.shrink_to(PENDING_READ);
        self.scan.shrink_to(SCAN_CALL_MAX);
    }

    /// Every live pin's extent when the scan list holds them all (none is
    /// filed for the index, pending or indexed) and there are at most
    /// `max`, else `None`: what the shard mirrors for point questions asked
    /// without its lock (`mirror`). A group's regions count one each.
    #[inline]
    pub(crate) fn few_pins(&self, max: usize) -> Option<&[ScanItem]> {
        (self.filed_entries == 0 && self.scan.len() <= max).then_some(&self.scan[..])
    }

    /// Calls `f` with every live pin covering `addr`; stops when `f`
    /// returns `true`, and returns whether it did.
    #[inline]
    pub(crate) fn find_covering(&self, addr: usize, f: impl FnMut(Hit) -> bool) -> bool {
        self.find_covering_at_least(addr, 0, f)
    }

    /// Like `find_covering`, for callers that only want pins at least
    /// `min_len` bytes long: indexed levels whose pins are all shorter are
    /// not probed (a region's own level is the first that can cover it).
    #[inline]
    pub(crate) fn find_covering_at_least(
        &self,
        addr: usize,
        min_len: usize,
        mut f: impl FnMut(Hit) -> bool,
    ) -> bool {
        for item in self.scan.iter() {
            if item.contains(addr) {
                let e = &self.entries[item.id as usize];
                let count = if e.is_group() { 1 } else { e.count() };
                let hit = Hit {
                    id: PinId(item.id),
                    region: item.region(),
                    count,
                };
                if f(hit) {
                    return true;
                }
            }
        }
        if self.filed_entries == 0 {
            return false;
        }
        self.settle();
        let filed = self.filed.borrow();
        for &id in filed.pending.iter() {
            visited_pending(1);
            let e = &self.entries[id as usize];
            if e.contains(addr)
                && f(Hit {
                    id: PinId(id),
                    region: e.region(),
                    count: e.count(),
                })
            {
                return true;
            }
        }
        let mut mask = filed.level_mask & !((1u32 << level_of(min_len)) - 1);
        while mask != 0 {
            let level = mask.trailing_zeros() as u8;
            mask &= mask - 1;
            let g = granule(level, addr);
            // Most regions start in the granule of the address asked about.
            if self.probe(&filed.index, level, g, addr, &mut f) {
                return true;
            }
            if g > 0 && self.probe(&filed.index, level, g - 1, addr, &mut f) {
                return true;
            }
        }
        false
    }

    /// Indexed entries filed under `(level, g)` that cover `addr`, until `f`
    /// says stop.
    #[inline]
    fn probe(
        &self,
        index: &HashTable<u32, System>,
        level: u8,
        g: usize,
        addr: usize,
        f: &mut impl FnMut(Hit) -> bool,
    ) -> bool {
        // `find` is hashbrown's tuned lookup; the predicate sees every
        // candidate with a matching tag and stops at the first `true`.
        index
            .find(bucket_hash(level, g), |&id| {
                let e = &self.entries[id as usize];
                e.filed_under(level, g)
                    && e.contains(addr)
                    && f(Hit {
                        id: PinId(id),
                        region: e.region(),
                        count: e.count(),
                    })
            })
            .is_some()
    }

    /// Whether a live pin covers `addr`. The scan list answers by itself
    /// (no entry is read for a yes); the filed entries only when there
    /// are any.
    #[inline]
    pub(crate) fn covers_point(&self, addr: usize) -> bool {
        self.scan.iter().any(|item| item.contains(addr))
            || (self.filed_entries != 0 && self.find_covering(addr, |_| true))
    }

    pub(crate) fn count_at(&self, addr: usize) -> usize {
        let mut total = 0usize;
        self.find_covering(addr, |hit| {
            total += hit.count as usize;
            false
        });
        total
    }

    /// The furthest end among non-empty pins covering `addr`.
    pub(crate) fn covered_until(&self, addr: usize) -> Option<usize> {
        let mut best = None;
        self.find_covering(addr, |hit| {
            if !hit.region.is_empty() {
                best = best.max(Some(hit.region.end()));
            }
            false
        });
        best
    }

    /// Some live pin sharing a byte with `block` (a zero-length pin inside
    /// it counts), if any.
    pub(crate) fn overlapping(&self, block: Region) -> Option<Hit> {
        for item in self.scan.iter() {
            if item.region().overlaps(&block) {
                return Some(Hit {
                    id: PinId(item.id),
                    region: item.region(),
                    count: 1,
                });
            }
        }
        if self.filed_entries == 0 {
            return None;
        }
        let hit = |id: u32, e: &Entry| Hit {
            id: PinId(id),
            region: e.region(),
            count: e.count(),
        };
        self.settle();
        let filed = self.filed.borrow();
        for &id in filed.pending.iter() {
            visited_pending(1);
            let e = &self.entries[id as usize];
            if e.region().overlaps(&block) {
                return Some(hit(id, e));
            }
        }
        let mut mask = filed.level_mask;
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
                let found = filed.index.find(bucket_hash(level, g), |&id| {
                    let e = &self.entries[id as usize];
                    e.filed_under(level, g) && e.region().overlaps(&block)
                });
                if let Some(&id) = found {
                    return Some(hit(id, &self.entries[id as usize]));
                }
            }
        }
        if scan_levels != 0 {
            // Pending entries were read above; reading them again here
            // would find nothing new, and costs less than telling them
            // apart.
            for (id, e) in self.entries.iter() {
                if e.count() > 0
                    && e.filed()
                    && scan_levels & (1 << e.level()) != 0
                    && e.region().overlaps(&block)
                {
                    return Some(hit(id, e));
                }
            }
        }
        None
    }

    /// Every live pinned region with its entry: ordinary entries once, each
    /// region of a call group on its own (count 1).
    pub(crate) fn for_each_live(&self, mut f: impl FnMut(Region, u32, &Entry)) {
        for (_, e) in self
            .entries
            .iter()
            .filter(|(_, e)| e.count() > 0 && !e.is_group())
        {
            f(e.region(), e.count(), e);
        }
        for item in self.scan.iter() {
            let e = &self.entries[item.id as usize];
            if e.is_group() {
                f(item.region(), 1, e);
            }
        }
    }

    /// How many pinned regions `for_each_live` reports.
    pub(crate) fn live_regions(&self) -> usize {
        self.entries
            .iter()
            .map(|(_, e)| e)
            .filter(|e| e.count() > 0)
            .map(|e| if e.is_group() { e.count() as usize } else { 1 })
            .sum()
    }

    /// Bytes of storage the table holds (slab, index, scan list).
    pub(crate) fn heap_bytes(&self) -> usize {
        let filed = self.filed.borrow();
        self.entries.heap_bytes()
            + filed.index.allocation_size()
            + filed.pending.capacity() * core::mem::size_of::<u32>()
            + self.scan.capacity() * core::mem::size_of::<ScanItem>()
    }
}

#[cold]
fn too_many_pins() -> ! {
    // More than 4 billion distinct live pin entries: not a state a program
    // can recover from, and unwinding here could run inside the allocator.
    crate::diag::write_stderr(b"pointer-escapes: more than 2^29 - 248 live pin entries in one shard (pins made by one thread); aborting\n");
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
        t.pin(
            r(addr, len),
            PinKind::Pinner,
            Location::caller(),
            ThreadNumber(1),
            0,
        )
    }

    impl Table {
        /// Fills the scan list with far-away pins so the next pins are
        /// indexed.
        fn fill_scan_list(&mut self) {
            for i in 0..SCAN_SMALL {
                pin(self, 0x7000_0000_0000 + i * 0x100, 1);
            }
        }
    }

    #[test]
    fn an_entry_is_32_bytes_and_packs_its_fields() {
        assert_eq!(core::mem::size_of::<Entry>(), 32);
        let e = Entry::new(
            r(0x1000, 8),
            Location::caller(),
            7,
            PinKind::Owned,
            HUGE_LEVEL,
            FILED | GROUP,
            GROUP_MAX as u32,
            ThreadNumber(MAX_THREAD_NUMBER + 5),
        );
        assert_eq!(e.count(), GROUP_MAX as u32);
        assert_eq!(e.kind(), PinKind::Owned);
        assert_eq!(e.level(), HUGE_LEVEL);
        assert!(e.filed() && e.is_group());
        assert_eq!(e.thread(), ThreadNumber(MAX_THREAD_NUMBER));
    }

    #[test]
    fn levels_fit_their_granule() {
        for len in [
            0usize,
            1,
            64,
            65,
            512,
            513,
            4096,
            1 << 20,
            (1 << 20) + 1,
            usize::MAX,
        ] {
            let k = level_of(len);
            if k < HUGE_LEVEL {
                let shift = FIRST_SHIFT + SHIFT_STEP * k as u32;
                assert!(len <= 1usize << shift, "len {len} level {k}");
                if k > 0 {
                    assert!(
                        len > 1usize << (shift - SHIFT_STEP),
                        "len {len} level {k} too coarse"
                    );
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
        let mut t = Table::private();
        if indexed {
            t.fill_scan_list();
        }
        pin(&mut t, 0x10_0000, 100);
        assert!(!t.covers_point(0x10_0000 - 1));
        assert!(t.covers_point(0x10_0000));
        assert!(t.covers_point(0x10_0000 + 99));
        assert!(!t.covers_point(0x10_0000 + 100));
    }

    #[test]
    fn regions_crossing_granules_are_found_from_either_side() {
        let mut t = Table::private();
        // 60 bytes starting 10 bytes before a 64-byte granule boundary.
        pin(&mut t, 0x1000 - 10, 60);
        assert!(t.covers_point(0x1000 - 10));
        assert!(t.covers_point(0x1000 + 49));
        assert!(!t.covers_point(0x1000 + 50));
    }

    #[test]
    fn identical_pins_count_separately() {
        let mut t = Table::private();
        let site = Location::caller();
        let a = t.pin(r(0x2000, 8), PinKind::Pinner, site, ThreadNumber(1), 0);
        let b = t.pin(r(0x2000, 8), PinKind::Pinner, site, ThreadNumber(1), 0);
        assert_ne!(a, b);
        assert_eq!(t.count_at(0x2000), 2);
        assert_eq!(t.unpin(a), Some(r(0x2000, 8)));
        assert_eq!(t.count_at(0x2000), 1);
        assert_eq!(t.unpin(b), Some(r(0x2000, 8)));
        assert_eq!(t.count_at(0x2000), 0);
        assert_eq!(t.live_entries(), 0);
    }

    /// The same region pinned more times than a `u32` holds cannot
    /// saturate a counter: identical pins are separate entries (an entry's
    /// `u32` count is 1, or a call group's region count, at most
    /// `GROUP_MAX`) and `count_at` sums in `usize`. Four billion pins are
    /// impractical to make; this pins one region many times, as plain pins
    /// and as a full call group, and checks every count stays exact.
    #[test]
    fn repeated_pins_of_one_region_never_share_a_counter() {
        let mut t = Table::private();
        let n = if cfg!(miri) { 100 } else { 5_000 };
        let ids: Vec<PinId> = (0..n).map(|_| pin(&mut t, 0x6000, 32)).collect();
        assert_eq!(t.count_at(0x6000 + 31), n);
        let mut counts = Vec::new();
        t.for_each_live(|_, count, _| counts.push(count));
        assert!(counts.len() == n && counts.iter().all(|&c| c == 1));
        let group = t.pin_group(
            &[r(0x6000, 32); GROUP_MAX],
            Location::caller(),
            ThreadNumber(1),
            0,
        );
        assert_eq!(t.count_at(0x6000), n + GROUP_MAX);
        assert_eq!(t.unpin(group), Some(r(0x6000, 32)));
        assert_eq!(t.count_at(0x6000), n);
        for (i, id) in ids.into_iter().enumerate() {
            assert_eq!(t.unpin(id), Some(r(0x6000, 32)));
            if i % 97 == 0 {
                assert_eq!(t.count_at(0x6000), n - i - 1);
            }
        }
        assert_eq!(t.count_at(0x6000), 0);
        assert_eq!(t.live_entries(), 0);
    }

    #[test]
    fn overlap_queries_walk_or_scan() {
        overlap_queries(false);
        overlap_queries(true);
    }

    fn overlap_queries(indexed: bool) {
        let mut t = Table::private();
        if indexed {
            t.fill_scan_list();
        }
        let id = pin(&mut t, 0x5_0000, 16);
        assert_eq!(t.overlapping(r(0x5_0000 - 8, 8)).map(|h| h.id), None);
        assert_eq!(t.overlapping(r(0x5_0000 - 8, 9)).map(|h| h.id), Some(id));
        assert_eq!(t.overlapping(r(0x5_0000 + 15, 1)).map(|h| h.id), Some(id));
        // A block far wider than MAX_GRANULE_WALK granules takes the scan.
        assert_eq!(t.overlapping(r(0x1000, 1 << 24)).map(|h| h.id), Some(id));
        assert_eq!(t.overlapping(r(0x100_0000, 1 << 24)).map(|h| h.id), None);
        let zero = pin(&mut t, 0x9_0000, 0);
        assert_eq!(t.overlapping(r(0x9_0000, 1)).map(|h| h.id), Some(zero));
        assert_eq!(t.overlapping(r(0x8_ffff, 1)).map(|h| h.id), None);
    }

    #[test]
    fn entries_past_the_scan_list_are_indexed_and_found() {
        let mut t = Table::private();
        let ids: Vec<PinId> = (0..SCAN_SMALL + 8)
            .map(|i| pin(&mut t, 0x10_0000 + i * 0x1000, 16))
            .collect();
        assert!(
            t.scan.is_empty(),
            "the first pins move to the index with the rest"
        );
        assert_eq!(t.filed_entries, SCAN_SMALL + 8);
        for (i, id) in ids.iter().enumerate() {
            let a = 0x10_0000 + i * 0x1000;
            assert!(t.covers_point(a) && t.covers_point(a + 15) && !t.covers_point(a + 16));
            assert_eq!(t.overlapping(r(a + 8, 100)).map(|h| h.id), Some(*id));
        }
        for id in &ids[..SCAN_SMALL + 4] {
            t.unpin(*id);
        }
        assert!(!t.covers_point(0x10_0000));
        assert!(t.covers_point(0x10_0000 + (SCAN_SMALL + 4) * 0x1000));
        for id in &ids[SCAN_SMALL + 4..] {
            t.unpin(*id);
        }
        let filed = t.filed.borrow();
        assert!(filed.index.is_empty() && filed.pending.is_empty());
        assert!(t.scan.is_empty() && t.live_entries() == 0);
    }

    #[test]
    fn call_pins_use_the_scan_list_and_others_join_twins() {
        let mut t = Table::private();
        let site = Location::caller();
        let call =
            |t: &mut Table, a: usize| t.pin(r(a, 8), PinKind::Call, site, ThreadNumber(1), 0);
        let a = call(&mut t, 0x4000);
        let b = call(&mut t, 0x4000);
        assert_ne!(a, b, "call pins never share an entry");
        assert_eq!(t.count_at(0x4000), 2);
        t.unpin(a);
        t.unpin(b);
        assert_eq!(t.count_at(0x4000), 0);
    }

    #[test]
    fn call_groups_pin_and_release_all_their_regions() {
        let mut t = Table::private();
        let site = Location::caller();
        let outer = t.pin_group(&[r(0x8000, 16), r(0x9000, 64)], site, ThreadNumber(1), 0);
        let inner = t.pin_group(&[r(0x8000, 16)], site, ThreadNumber(1), 0);
        assert_eq!(t.count_at(0x8000), 2);
        assert!(t.covers_point(0x9000 + 63) && !t.covers_point(0x9000 + 64));
        assert_eq!(t.live_regions(), 3);
        let mut seen = Vec::new();
        t.for_each_live(|region, count, _| seen.push((region.addr(), count)));
        seen.sort();
        assert_eq!(seen, [(0x8000, 1), (0x8000, 1), (0x9000, 1)]);
        // Released out of nesting order: the sweep path.
        t.unpin(outer);
        assert_eq!(t.count_at(0x8000), 1);
        assert!(!t.covers_point(0x9000));
        assert_eq!(t.overlapping(r(0x8000, 1)).map(|h| h.id), Some(inner));
        t.unpin(inner);
        assert_eq!(t.live_entries(), 0);
        assert!(t.scan.is_empty());
    }

    /// Ids are slab indices that pinners hold, so entries never move; the
    /// slab still gives back the chunks a released burst emptied, and the
    /// entry that stayed keeps its id and its answers.
    #[test]
    fn table_memory_follows_live_entries_not_the_peak() {
        // Under Miri just past what the slab keeps (`KEEP_CHUNKS` chunks of
        // `CHUNK`), so that a chunk is given back: Miri's time grows with it.
        let burst = if cfg!(miri) {
            (super::super::slab::KEEP_CHUNKS + 1) * super::super::slab::CHUNK
        } else {
            200_000
        };
        for keep_last in [false, true] {
            let mut t = Table::private();
            let first = pin(&mut t, 0x10, 8);
            let ids: Vec<PinId> = (0..burst)
                .map(|i| pin(&mut t, 0x1000 + i * 16, 8))
                .collect();
            let last = pin(&mut t, 0x20, 8);
            let peak = t.heap_bytes();
            let kept = if keep_last { last } else { first };
            t.unpin(if keep_last { first } else { last });
            for id in ids {
                t.unpin(id);
            }
            let after = t.heap_bytes();
            // Miri's burst is too small for most chunks to be given back;
            // there the test walks the compaction for undefined behaviour.
            assert!(
                after <= 128 * 1024 && (cfg!(miri) || after * 8 < peak),
                "{after} bytes after, {peak} at the peak"
            );
            let kept_at = if keep_last { 0x20 } else { 0x10 };
            assert_eq!(t.count_at(kept_at), 1);
            assert!(!t.covers_point(0x1000));
            // New pins reuse the chunks that stayed, and every id works.
            let more: Vec<PinId> = (0..if cfg!(miri) { 100 } else { 600 })
                .map(|i| pin(&mut t, 0x9000 + i * 16, 8))
                .collect();
            assert!(more
                .iter()
                .enumerate()
                .all(|(i, _)| t.covers_point(0x9000 + i * 16)));
            for id in more {
                assert!(t.unpin(id).is_some());
            }
            assert_eq!(t.unpin(kept), Some(r(kept_at, 8)));
            assert_eq!(t.live_entries(), 0);
        }
    }

    #[test]
    fn covered_until_reports_the_furthest_end() {
        let mut t = Table::private();
        pin(&mut t, 0x3000, 16);
        pin(&mut t, 0x3000, 64);
        assert_eq!(t.covered_until(0x3008), Some(0x3040));
        assert_eq!(t.covered_until(0x3040), None);
    }

    /// The pending-list items and folds this thread's table code counted
    /// while `f` ran.
    fn counting<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
        let before = (PENDING_VISITS.with(|v| v.get()), FOLDED.with(|f| f.get()));
        let out = f();
        let after = (PENDING_VISITS.with(|v| v.get()), FOLDED.with(|f| f.get()));
        (out, after.0 - before.0, after.1 - before.1)
    }

    /// How many pins `n` the cliff tests make: past `PENDING_READ` and a
    /// full pending list, fewer under Miri.
    fn many() -> usize {
        if cfg!(miri) {
            4 * PENDING_READ
        } else {
            PENDING_MAX - 96
        }
    }

    /// Rule: a question asked under the lock reads at most `PENDING_READ`
    /// pins not yet in the index, however many are pending; more are
    /// folded into the index first, each pin once.
    #[test]
    fn a_query_reads_at_most_pending_read_unindexed_pins() {
        let mut t = Table::private();
        let n = many();
        let ids: Vec<PinId> = (0..n)
            .map(|i| pin(&mut t, 0x100_0000 + i * 64, 16))
            .collect();
        let (found, visits, folded) = counting(|| t.covers_point(0x100_0000 + (n - 1) * 64));
        assert!(found);
        assert!(visits <= PENDING_READ, "{visits} pending pins read");
        assert_eq!(folded, n, "every pending pin folded, once");
        // Fewer than the bound are read one by one, not folded.
        let more: Vec<PinId> = (0..PENDING_READ)
            .map(|i| pin(&mut t, 0x900_0000 + i * 64, 16))
            .collect();
        let (count, visits, folded) = counting(|| t.count_at(0x900_0000));
        assert_eq!((count, folded), (1, 0));
        assert!(visits <= PENDING_READ);
        let (hit, visits, _) = counting(|| t.overlapping(r(0x100_0000, 8)).map(|h| h.id));
        assert_eq!(hit, Some(ids[0]));
        assert!(visits <= PENDING_READ);
        for id in ids.into_iter().chain(more) {
            assert!(t.unpin(id).is_some());
        }
        assert_eq!(t.live_entries(), 0);
    }

    /// Rule: releasing one pin among many pending ones does O(1) work: no
    /// search of the pending list, whether released alone or as a short
    /// run, and every other pin stays found.
    #[test]
    fn an_unpin_among_many_pending_pins_does_constant_work() {
        let mut t = Table::private();
        let n = many();
        let mut ids: Vec<PinId> = (0..n)
            .map(|i| pin(&mut t, 0x100_0000 + i * 64, 16))
            .collect();
        let mut below = crate::test_rng::xorshift(15);
        let mut live = n;
        while ids.len() > n / 2 {
            let k = below(ids.len());
            let id = ids.swap_remove(k);
            let (_, visits, folded) = if k % 2 == 0 {
                counting(|| assert!(t.unpin(id).is_some()))
            } else {
                let mut span = Span::default();
                let out = counting(|| t.unpin_run([id].into_iter(), &mut span));
                assert!(!span.is_empty());
                out
            };
            assert!(visits <= 1 && folded == 0, "{visits} pending pins visited");
            live -= 1;
            assert_eq!(t.live_entries(), live);
        }
        // Every pin left is still where the pending list says.
        let mut rest: Vec<usize> = ids.iter().map(|id| t.entry(*id).start).collect();
        rest.sort();
        for a in rest {
            assert_eq!(t.count_at(a), 1);
        }
        for id in ids {
            assert!(t.unpin(id).is_some());
        }
        assert_eq!(t.live_entries(), 0);
    }

    /// Rule: a batch release sweeps the pending list at most once per run
    /// (O(1) per released pin), frees each slot once (also when the slab
    /// gives chunks back meanwhile), and leaves every other pin found.
    #[test]
    fn a_batch_release_sweeps_the_pending_list_once_and_frees_each_slot_once() {
        let burst = if cfg!(miri) {
            (super::super::slab::KEEP_CHUNKS + 2) * super::super::slab::CHUNK
        } else {
            PENDING_MAX - 96
        };
        let mut t = Table::private();
        // One pin indexed (folded by a query), the rest pending.
        let first = pin(&mut t, 0x10, 8);
        for i in 0..SCAN_SMALL {
            pin(&mut t, 0x20 + i, 1);
        }
        let _ = counting(|| t.covers_point(0x10));
        let ids: Vec<PinId> = (0..burst)
            .map(|i| pin(&mut t, 0x100_0000 + i * 32, 16))
            .collect();
        // Release all but every 37th of the first two chunks' worth,
        // interleaved with the indexed pin: the sweep path, with the slab
        // giving back the chunks that empty meanwhile.
        let stays = |i: usize| i % 37 == 0 && i < 2 * super::super::slab::CHUNK;
        let (stay, go): (Vec<_>, Vec<_>) = ids.iter().enumerate().partition(|(i, _)| stays(*i));
        let run: Vec<PinId> = core::iter::once(first)
            .chain(go.iter().map(|(_, id)| **id))
            .collect();
        let mut span = Span::default();
        let peak = t.heap_bytes();
        let (_, visits, _) = counting(|| t.unpin_run(run.iter().copied(), &mut span));
        assert!(
            visits <= 4 * run.len(),
            "{visits} pending visits for {} pins",
            run.len()
        );
        assert_eq!(span.region().addr(), 0x10);
        assert!(t.heap_bytes() < peak, "chunks given back during the sweep");
        assert_eq!(t.live_entries(), SCAN_SMALL + stay.len());
        assert_eq!(t.count_at(0x10), 0);
        for (i, _) in &go {
            assert!(!t.covers_point(0x100_0000 + i * 32));
        }
        for (i, _) in &stay {
            assert_eq!(t.count_at(0x100_0000 + i * 32), 1);
        }
        // Freed slots are reused once each: new ids are all distinct and
        // none names a pin that stayed.
        let again: Vec<PinId> = (0..go.len())
            .map(|i| pin(&mut t, 0x800_0000 + i * 32, 16))
            .collect();
        let mut all: Vec<u32> = again.iter().map(|id| id.0).collect();
        all.extend(stay.iter().map(|(_, id)| id.0));
        all.sort();
        all.dedup();
        assert_eq!(all.len(), go.len() + stay.len());
        // A run releasing every pin left empties the table at once.
        let everything: Vec<PinId> = again
            .into_iter()
            .chain(stay.iter().map(|(_, id)| **id))
            .collect();
        let mut span = Span::default();
        t.unpin_run(everything.into_iter(), &mut span);
        assert_eq!(t.live_entries(), SCAN_SMALL);
        assert!(!t.covers_point(0x800_0000) && !t.covers_point(0x100_0000));
        assert!(t.covers_point(0x20));
    }

    /// Rule: a released entry is free for every reader, also when a batch
    /// release emptied the table at once (its entries were marked
    /// detached, and the slab's front keeps its entries in place).
    #[test]
    fn a_batch_release_leaves_no_entry_looking_live() {
        let mut t = Table::private();
        for round in 0..2 {
            let ids: Vec<PinId> = (0..100)
                .map(|i| pin(&mut t, 0x4000_0000 + 64 * i, 16))
                .collect();
            let mut span = Span::default();
            t.unpin_run(ids.into_iter(), &mut span);
            assert_eq!(t.live_entries(), 0, "round {round}");
            let mut live = Vec::new();
            t.for_each_live(|region, count, _| live.push((region, count)));
            assert!(live.is_empty(), "round {round}: {} left", live.len());
            assert_eq!(t.overlapping(r(0, usize::MAX)).map(|h| h.region), None);
            let lone = pin(&mut t, 0x5000_0000, 8);
            let mut live = Vec::new();
            t.for_each_live(|region, count, _| live.push((region, count)));
            assert_eq!(live, [(r(0x5000_0000, 8), 1)], "round {round}");
            assert_eq!(t.unpin(lone), Some(r(0x5000_0000, 8)));
        }
    }

    /// Rule: every reader under the lock sees a pin whether it is in the
    /// scan list, pending or indexed: the same answers from each state.
    #[test]
    fn every_query_sees_pending_pins_as_it_sees_indexed_ones() {
        for fold_first in [false, true] {
            let mut t = Table::private();
            // A call group fills the scan list and stays there, so the
            // next pins are filed, pending, and no more than a query reads.
            let far: Vec<Region> = (0..SCAN_SMALL)
                .map(|i| r(0x7000_0000_0000 + i * 0x100, 1))
                .collect();
            t.pin_group(&far, Location::caller(), ThreadNumber(1), 0);
            let zero = pin(&mut t, 0x90_0000, 0);
            let wide = pin(&mut t, 0x5_0000, 1 << 20);
            let small = pin(&mut t, 0x5_0100, 16);
            if fold_first {
                for i in 0..=PENDING_READ {
                    pin(&mut t, 0x7100_0000_0000 + i * 64, 8);
                }
                let _ = counting(|| t.covers_point(0x10));
                assert!(t.filed.borrow().pending.is_empty());
            } else {
                assert_eq!(t.filed.borrow().pending.len(), 3);
            }
            assert!(t.covers_point(0x90_0000) && !t.covers_point(0x90_0001));
            assert_eq!(t.count_at(0x5_0100), 2);
            assert_eq!(t.covered_until(0x5_0100), Some(0x5_0000 + (1 << 20)));
            assert_eq!(t.overlapping(r(0x90_0000, 1)).map(|h| h.id), Some(zero));
            assert_eq!(
                t.overlapping(r(0x4_0000, 0x1_0001)).map(|h| h.id),
                Some(wide)
            );
            let mut seen = Vec::new();
            t.for_each_live(|region, count, _| seen.push((region.addr(), region.len(), count)));
            assert!(seen.contains(&(0x5_0100, 16, 1)) && seen.contains(&(0x90_0000, 0, 1)));
            assert_eq!(seen.len(), t.live_regions());
            assert_eq!(t.unpin(small), Some(r(0x5_0100, 16)));
            assert_eq!(t.count_at(0x5_0100), 1);
            // The pins were read where they were: pending, or indexed.
            let filed = t.filed.borrow();
            assert_eq!(filed.pending.len(), if fold_first { 0 } else { 2 });
            assert_eq!(
                filed.index.len(),
                if fold_first { PENDING_READ + 3 } else { 0 }
            );
        }
    }
}
