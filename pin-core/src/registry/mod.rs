//! The process-wide pin registry: counted pins, the questions everybody asks
//! about them (`is_pinned`, `is_region_pinned`, `pin_count`, "does any pin
//! overlap this block?"), and the quarantine of heap blocks freed while
//! pinned.
//!
//! This is the only module that knows how pins are stored. Two stores:
//! - the shared tables (`table`, see there) of lasting pins (`Pinner`,
//!   `OwnedPin`, `with_pinned`) and of the rare call that does not fit a
//!   thread's record: `SHARDS` of them, each under its own spin lock, a
//!   thread pinning into the shard of its thread number (so pins made on
//!   different threads take different locks), each shard's live count
//!   mirrored beside its lock so that the common questions skip the
//!   shards holding nothing; the quarantine of blocks freed while pinned
//!   and the allocator's event log live apart, under their own lock;
//! - the per-thread records of `calls`, where `#[pointer_escapes]` calls
//!   publish their pins without any lock, as hazard pointers are published.
//!
//! Every query reads both. `docs/registry.md` says what each operation
//! touches and costs with N threads.
//!
//! The registry knows nothing of the layers above it (report, allocator,
//! checker): they call it, and tell it what it needs (`note_guarded_frees`).
//!
//! The registry never allocates through the global allocator and never calls
//! user code or the inner allocator while holding a lock, so the pin-aware
//! allocator can consult it from `dealloc` without recursion or deadlock.
//!
//! # Lock order
//! The quarantine's lock (`QUARANTINE`) before any shard's; shards'
//! among themselves in ascending index (`Tables` locks several at once that
//! way). No other lock exists: each shard's hints are written under its
//! own lock, the quarantine's summary under the quarantine's.
//! Nothing takes the quarantine's lock while holding a shard's: an unpin
//! that finds the quarantine non-empty drops its shard's lock first.

mod calls;
mod events;
mod fork;
mod hints;
mod ids;
mod lock;
mod mirror;
mod quarantine;
mod quarantine_hints;
mod shards;
mod slab;
mod snapshot;
mod table;

pub use events::{AllocEvent, AllocEventKind};
pub(crate) use ids::PinIds;
pub(crate) use snapshot::Extent;
pub(crate) use table::PinId;
use table::{Hit, GROUP_MAX};

pub(crate) use quarantine::{
    alloc_facts, freed_while_pinned, quarantine_if_pinned, unpin_owned, QuarantineRelease,
};
pub use quarantine::{frees_looked_up_under_lock, quarantine_blocks_examined, quarantine_lookups};
pub(crate) use shards::note_guarded_frees;

use crate::origin::{PinKind, Site, ThreadNumber};
use crate::region::Region;
use crate::statics;
use allocator_api2::vec::Vec as SysVec;
use core::sync::atomic::Ordering;
use quarantine::{release_if_quarantined, QUARANTINED_BLOCKS};
use shards::*;
use std::alloc::System;
use table::Span;

// ---------------------------------------------------------------- pinning

/// Pins `region` once on behalf of the calling thread, in its shard,
/// born at `born` (a `coarse_now_ms` stamp, or `UNDATED`: the caller
/// decides whether anybody may read the pin's age).
/// Inlined into its one caller (`Pinner::add`): a call's register saves
/// were a tenth of a pin's instructions.
#[inline]
pub(crate) fn pin(region: Region, kind: PinKind, site: Site, born: u32) -> PinId {
    let thread = pinning_thread();
    let s = thread.0 as usize % SHARDS;
    let id = change_shard_of_a_pinner(s).pin(region, kind, site, thread, born);
    global_id(s, id)
}

/// Pins every region of `regions` under one lock acquisition, born at
/// `born` (as for [`pin`]), appending the handles to `out` (which must
/// have room: the caller reserves first, so no allocation happens under
/// the lock).
pub(crate) fn pin_all(regions: &[Region], kind: PinKind, site: Site, born: u32, out: &mut PinIds) {
    if regions.is_empty() {
        return;
    }
    let thread = pinning_thread();
    let s = thread.0 as usize % SHARDS;
    out.reserve(regions.len());
    let mut table = change_shard_of_a_pinner(s);
    // A null region pins nothing (see `Region::new`).
    for &region in regions.iter().filter(|r| !r.is_null()) {
        let id = table.pin(region, kind, site, thread, born);
        out.push(global_id(s, id));
    }
}

/// How one `#[pointer_escapes]` call holds its pins (see [`pin_call`]).
#[derive(Debug)]
pub(crate) enum CallPinned {
    /// Nothing to pin, or pinned one entry each into the caller's `each`.
    Elsewhere,
    /// Published in the calling thread's record: no lock taken.
    Published(calls::CallToken),
    /// One group in the shared table (the thread's record was full).
    Group(PinId),
}

/// Pins the regions of one `#[pointer_escapes]` call: published in the
/// calling thread's record when they fit (no lock, no shared write), else
/// as one group in the shared table when there are at most `GROUP_MAX`,
/// else one entry each, appended to `each`. Born at `born`, as for [`pin`].
pub(crate) fn pin_call(regions: &[Region], site: Site, born: u32, each: &mut PinIds) -> CallPinned {
    if regions.is_empty() {
        return CallPinned::Elsewhere;
    }
    crate::memory::register_thread();
    if let Some(token) = calls::publish(regions, site, born) {
        return CallPinned::Published(token);
    }
    if regions.len() > GROUP_MAX {
        pin_all(regions, PinKind::Call, site, born, each);
        return CallPinned::Elsewhere;
    }
    let thread = ThreadNumber::current();
    let s = thread.0 as usize % SHARDS;
    use_shard(s);
    let id = change_shard(s).pin_group(regions, site, thread, born);
    CallPinned::Group(global_id(s, id))
}

/// Releases what [`pin_call`] returned (`Elsewhere` pins are released with
/// [`unpin_all`] by their holder). A published call's release takes the
/// lock only when the quarantine holds a block, and then frees what no pin
/// covers any more within the released span.
pub(crate) fn unpin_call(pinned: CallPinned) {
    match pinned {
        CallPinned::Elsewhere => {}
        CallPinned::Group(id) => unpin(id),
        CallPinned::Published(token) => {
            let released = calls::release(token);
            // After `release`'s SeqCst fence: pairs with the allocator's
            // (see `calls`, "Against the allocator", and `quarantine_hints`).
            if QUARANTINED_BLOCKS.load(Ordering::Relaxed) != 0 {
                release_if_quarantined(released);
            }
        }
    }
}

/// Releases one pin.
#[inline]
pub(crate) fn unpin(id: PinId) {
    unpin_all(core::slice::from_ref(&id));
}

/// Releases every pin in `ids` under one lock acquisition per run of
/// handles from one shard (a holder's pins are all in its thread's shard
/// unless it moved between threads), then returns to their inner allocator
/// the quarantined blocks no pin overlaps any more. Only quarantined blocks
/// within the span of what was released are looked at: releasing a pin far
/// from every quarantined block costs a binary search, whatever the
/// quarantine holds.
#[inline]
pub(crate) fn unpin_all(ids: &[PinId]) {
    match ids {
        [] => {}
        // A pinner's usual load, without the runs and the span.
        &[id] => unpin_one(id),
        _ => unpin_many(ids),
    }
}

/// Inlined into `unpin_all`'s callers for the reason `pin` is (`inline`
/// alone left it a call of its own inside `Pinner`'s release: 16
/// instructions of register saves per unpin).
#[inline(always)]
fn unpin_one(id: PinId) {
    let (s, local) = split_id(id);
    let mut table = change_shard_of_a_pinner(s);
    let released = table.unpin(local);
    // Inside the critical section, as in `unpin_many`.
    let quarantined = QUARANTINED_BLOCKS.load(Ordering::Relaxed) != 0;
    drop(table);
    if quarantined {
        if let Some(released) = released {
            release_if_quarantined(released);
        }
    }
}

fn unpin_many(ids: &[PinId]) {
    let mut released = Span::default();
    let mut quarantined = false;
    let mut rest = ids;
    while let Some(&first) = rest.first() {
        let s = split_id(first).0;
        let run = rest.iter().take_while(|&&id| split_id(id).0 == s).count();
        let mut table = change_shard_of_a_pinner(s);
        table.unpin_run(rest[..run].iter().map(|&id| split_id(id).1), &mut released);
        // Inside the critical section: pairs with `quarantine_if_pinned`,
        // which stores the count before it takes this shard's lock.
        quarantined |= QUARANTINED_BLOCKS.load(Ordering::Relaxed) != 0;
        drop(table);
        rest = &rest[run..];
    }
    if quarantined && !released.is_empty() {
        release_if_quarantined(released.region());
    }
}

// ---------------------------------------------------------------- queries

/// Whether `ptr` lies inside a pinned region (a zero-length pin pins its
/// own address) or in the program's static memory (string literals,
/// `static`s and code are never freed or moved, so they count as pinned, as
/// Go treats non-heap memory).
///
/// ```
/// use pointer_escapes::{is_pinned, Pinner};
///
/// let buf = vec![0u8; 32];
/// assert!(!is_pinned(buf.as_ptr()));
/// let mut pinner = Pinner::new();
/// let p = pinner.pin_slice(&buf);
/// assert!(is_pinned(p) && is_pinned(unsafe { p.add(31) }));
/// assert!(!is_pinned(unsafe { p.add(32) }));
/// drop(pinner);
/// assert!(!is_pinned(buf.as_ptr()));
///
/// assert!(is_pinned("string literals are static".as_ptr()));
/// ```
#[inline]
pub fn is_pinned<T: ?Sized>(ptr: *const T) -> bool {
    let addr = ptr.cast::<u8>() as usize;
    if addr == 0 {
        return false;
    }
    // The shards' mirrors first (no lock); the rest out of line, so that
    // the common yes costs no register saves for paths it does not take.
    match mirrors_cover_point(addr) {
        Ok(()) => true,
        Err(undecided) => is_pinned_beyond_mirrors(addr, undecided),
    }
}

/// `is_pinned` past the mirrors: the shards they could not answer for
/// (`undecided`), under their locks, then the call records and static
/// memory.
#[inline(never)]
fn is_pinned_beyond_mirrors(addr: usize, undecided: u32) -> bool {
    shards_cover_point(addr, undecided) || calls::covers_point(addr) || statics::is_static(addr)
}

/// Whether every byte of `[ptr, ptr + len)` is covered by pins (several
/// overlapping or adjacent pins together count) or by static memory. A
/// zero-length range asks about its address, as [`is_pinned`] does. A range
/// whose end overflows is never pinned.
///
/// ```
/// use pointer_escapes::{is_region_pinned, Pinner};
///
/// let buf = [0u8; 64];
/// let mut pinner = Pinner::new();
/// pinner.pin_slice(&buf[..32]);
/// pinner.pin_slice(&buf[32..]);
/// assert!(is_region_pinned(buf.as_ptr(), 64));
/// assert!(!is_region_pinned(buf.as_ptr(), 65));
/// ```
pub fn is_region_pinned<T: ?Sized>(ptr: *const T, len: usize) -> bool {
    match Region::new(ptr, len) {
        Ok(region) => region_covered(region),
        Err(_) => false,
    }
}

pub(crate) fn region_covered(region: Region) -> bool {
    if region.is_null() {
        return false;
    }
    if region.is_empty() {
        return is_pinned(region.addr() as *const u8);
    }
    if !shared_pins() {
        return covered_in(None, region);
    }
    let tables = Tables::lock_live();
    covered_in(Some(&tables), region)
}

/// The index of the first item whose region is not entirely pinned (or
/// static), asking about all of them under one lock acquisition; `None`
/// when all are. `region` gives `None` for an item that can never be pinned
/// (an extent past the address space). Used by the checker, whose walks ask
/// about many referents at once.
pub(crate) fn first_uncovered<T>(
    items: &[T],
    region: impl Fn(&T) -> Option<Region>,
) -> Option<usize> {
    first_uncovered_by::<T, false>(items, region)
}

/// [`first_uncovered`] of extents known to be neither null nor empty.
#[inline]
pub(crate) fn first_uncovered_extents(extents: &[snapshot::Extent]) -> Option<usize> {
    first_uncovered_by::<_, true>(extents, |e| Some(e.region()))
}

/// [`first_uncovered`]; with `NONEMPTY`, every item's extent is known to be
/// neither null nor empty, and is not checked for it again.
fn first_uncovered_by<T, const NONEMPTY: bool>(
    items: &[T],
    region: impl Fn(&T) -> Option<Region>,
) -> Option<usize> {
    // Every published call pin read once for all the items, and sorted:
    // O(log M) per item against M call pins (see `snapshot`).
    snapshot::with_call_pins(|calls| {
        if !shared_pins() {
            return snapshot::first_uncovered_in::<T, NONEMPTY>(None, calls, items, &region);
        }
        // The snapshot's thread-local is first touched here, outside any
        // lock: registering its destructor may allocate, and an allocation
        // under a shard's lock could reach the pin-aware allocator, which
        // takes that lock.
        snapshot::touch_thread_local();
        // One thread's lasting pins, unchanged since this thread last
        // asked: answered from its sorted copy, no lock taken.
        if snapshot::settled_without_locks::<T, NONEMPTY>(calls, items, &region).is_some() {
            return None;
        }
        let tables = Tables::lock_live();
        snapshot::first_uncovered_in::<T, NONEMPTY>(Some(&tables), calls, items, &region)
    })
}

/// Where `covered_with` finds the published call pins: read from the
/// records, or copied from them once for many questions.
enum CallView<'a> {
    Live,
    Copied(&'a [Region]),
}

impl CallView<'_> {
    fn find(&self, mut f: impl FnMut(Region) -> bool) -> bool {
        match self {
            CallView::Live => calls::find(|p| f(p.region)),
            CallView::Copied(regions) => regions.iter().any(|&r| f(r)),
        }
    }

    fn covers_point(&self, addr: usize) -> bool {
        self.find(|r| r.contains(addr))
    }

    /// Whether one non-empty pin covers all of `[addr, end)` (`addr <
    /// end`): two subtractions and two comparisons per pin.
    #[inline]
    fn covers_whole(&self, addr: usize, end: usize) -> bool {
        let covers = |r: Region| {
            let (start, len) = (r.addr(), r.len());
            addr.wrapping_sub(start) < len && end.wrapping_sub(start) <= len
        };
        match self {
            CallView::Live => calls::find(|p| covers(p.region)),
            CallView::Copied(regions) => regions.iter().any(|&r| covers(r)),
        }
    }

    fn covered_until(&self, addr: usize) -> Option<usize> {
        let mut best = None;
        self.find(|r| {
            if !r.is_empty() && r.contains(addr) {
                best = best.max(Some(r.end()));
            }
            false
        });
        best
    }
}

/// Whether pins (of `table`, when the shared table holds any, and the
/// published call pins) or static memory cover every byte of `region`.
#[inline]
fn covered_in(table: Option<&Tables>, region: Region) -> bool {
    covered_with(table, &CallView::Live, region)
}

#[inline]
fn covered_with(table: Option<&Tables>, calls: &CallView<'_>, region: Region) -> bool {
    let (addr, end) = (region.addr(), region.end());
    if region.is_empty() {
        return table.is_some_and(|t| t.covers_point(addr))
            || calls.covers_point(addr)
            || statics::is_static(addr);
    }
    // The usual case: one pin (or static segment) covers the whole region.
    if calls.covers_whole(addr, end)
        || table.is_some_and(|t| {
            t.find_covering_at_least(addr, region.len(), |hit| hit.region.end() >= end)
        })
        || static_covers(region)
    {
        return true;
    }
    // Otherwise walk it piece by piece, pins and static memory together.
    let mut cursor = addr;
    while cursor < end {
        let by_table = table.and_then(|t| t.covered_until(cursor));
        let by_call = calls.covered_until(cursor);
        let by_static = statics::segment_containing(cursor).map(|(_, end)| end);
        match by_table.max(by_call).max(by_static) {
            Some(next) => cursor = next,
            None => return false,
        }
    }
    true
}

/// How much of `region` is covered by pins that outlive the current call
/// (`Pinner`, `OwnedPin`, `with_pinned`: every kind but `PinKind::Call`)
/// together with static memory. What C may keep after a call returns must
/// be covered like this: a call's own pins end when it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LastingCover {
    /// Every byte (for a zero-length region: its address).
    All,
    /// Some bytes but not all.
    Part,
    /// No byte.
    None,
}

/// See [`LastingCover`]. One lock acquisition; no allocation.
pub(crate) fn covered_by_lasting_pins(region: Region) -> LastingCover {
    if region.is_null() {
        return LastingCover::None;
    }
    if !shared_pins() {
        return match static_covers(region) {
            true => LastingCover::All,
            false if statics::is_static(region.addr()) => LastingCover::Part,
            false => LastingCover::None,
        };
    }
    lasting_cover_in(&Tables::lock_live(), region)
}

fn lasting_cover_in(table: &Tables, region: Region) -> LastingCover {
    let lasting = |hit: &Hit| table.entry(hit.id).kind() != PinKind::Call;
    if region.is_empty() {
        // A zero-length region asks about its address, which a zero-length
        // pin covers too (as `is_pinned` says).
        let pinned = table.find_covering(region.addr(), |hit| lasting(&hit));
        return match pinned || statics::is_static(region.addr()) {
            true => LastingCover::All,
            false => LastingCover::None,
        };
    }
    // The furthest end among non-empty lasting pins (or static memory)
    // covering `addr`, as `covered_in` walks all pins.
    let lasting_until = |addr: usize| {
        let mut best = statics::segment_containing(addr).map(|(_, end)| end);
        table.find_covering(addr, |hit| {
            if !hit.region.is_empty() && lasting(&hit) {
                best = best.max(Some(hit.region.end()));
            }
            false
        });
        best
    };
    let mut cursor = region.addr();
    let mut covered_any = false;
    while cursor < region.end() {
        match lasting_until(cursor) {
            Some(end) => {
                covered_any = true;
                cursor = end;
            }
            None => {
                if covered_any {
                    return LastingCover::Part;
                }
                // Is any later byte covered? Ask the overlap index once.
                let rest = Region::from_parts(cursor, region.end() - cursor);
                return match lasting_overlap(table, rest) {
                    true => LastingCover::Part,
                    false => LastingCover::None,
                };
            }
        }
    }
    LastingCover::All
}

/// Whether a lasting pin or static memory shares a byte with `region`.
fn lasting_overlap(table: &Tables, region: Region) -> bool {
    let mut any = false;
    table.for_each_live(|r, _, e| {
        any |= e.kind() != PinKind::Call && r.overlaps(&region);
    });
    any || statics::segment_containing(region.addr()).is_some()
}

fn static_covers(region: Region) -> bool {
    match statics::segment_containing(region.addr()) {
        Some((_, end)) => region.end() <= end,
        None => false,
    }
}

/// How many live pins cover the address (0: none). Static memory is always
/// pinned but holds no pins, so it counts 0.
///
/// ```
/// use pointer_escapes::{pin_count, Pinner};
///
/// let x = 5u32;
/// let mut a = Pinner::new();
/// let mut b = Pinner::new();
/// a.pin(&x);
/// b.pin(&x);
/// assert_eq!(pin_count(&x), 2);
/// drop(a);
/// assert_eq!(pin_count(&x), 1);
/// ```
pub fn pin_count<T: ?Sized>(ptr: *const T) -> usize {
    let addr = ptr.cast::<u8>() as usize;
    if addr == 0 {
        return 0;
    }
    let shared = match any_live_hints(|h| h.may_cover(addr)) {
        true => Tables::lock_live().count_at(addr),
        false => 0,
    };
    shared + calls::count_at(addr)
}

/// What the report and allocator events say about one pin.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PinFacts {
    pub(crate) region: Region,
    pub(crate) count: u32,
    pub(crate) kind: PinKind,
    pub(crate) site: Site,
    pub(crate) thread: ThreadNumber,
    pub(crate) born_ms: u32,
}

impl PinFacts {
    /// `count` pins of `region` recorded by entry `e`.
    fn of(region: Region, count: u32, e: &table::Entry) -> PinFacts {
        PinFacts {
            region,
            count,
            kind: e.kind(),
            site: e.site,
            thread: e.thread(),
            born_ms: e.born_ms,
        }
    }
}

fn facts(table: &Tables, hit: Hit) -> PinFacts {
    PinFacts::of(hit.region, hit.count, table.entry(hit.id))
}

impl From<&calls::Published> for PinFacts {
    fn from(p: &calls::Published) -> PinFacts {
        PinFacts {
            region: p.region,
            count: 1,
            kind: PinKind::Call,
            site: p.site,
            thread: p.thread,
            born_ms: p.born_ms,
        }
    }
}

/// Some pin, shared or published by a call, sharing a byte with `block`.
fn overlapping_pin(table: &Tables, block: Region) -> Option<PinFacts> {
    match table.overlapping(block) {
        Some(hit) => Some(facts(table, hit)),
        None => calls::overlapping(block).map(|p| PinFacts::from(&p)),
    }
}

/// A copy of every live pin, for the report. Collected into System-allocated
/// storage under the lock and converted afterwards.
pub(crate) fn live_pins() -> Vec<PinFacts> {
    let copied = {
        let tables = Tables::lock_live();
        let mut out = SysVec::with_capacity_in(tables.live_regions(), System);
        tables.for_each_live(|region, count, e| out.push(PinFacts::of(region, count, e)));
        out
    };
    // Published call pins, read without the lock (their owners never wait
    // for it), into storage that may grow: not under the lock.
    let mut published = Vec::new();
    calls::find(|p| {
        published.push(PinFacts::from(p));
        false
    });
    copied.iter().copied().chain(published).collect()
}

/// False when no live pin can share a byte with `block`: lock-free, a few
/// loads. True means "ask `overlaps_pin` or `quarantine_if_pinned`".
#[inline]
pub(crate) fn may_overlap_pin(block: Region) -> bool {
    match pin_places() {
        // One load answers a process that never pinned (the allocator asks
        // on every free), and names the one set of hints to ask in the
        // usual case with pins live: one thread's lasting pins.
        PinPlaces::None => false,
        PinPlaces::Sole(hints) => hints.may_overlap(block),
        PinPlaces::Several => {
            let used = SHARDS_IN_USE.load(Ordering::Acquire);
            any_live_hints_in(used & SHARD_BITS_MASK, |h| h.may_overlap(block))
                || (used & CALL_RECORDS_BIT != 0 && calls::any_published())
        }
    }
}

/// Whether any live pin shares a byte with `block`.
pub(crate) fn overlaps_pin(block: Region) -> bool {
    (any_live_hints(|h| h.may_overlap(block)) && Tables::lock_live().overlapping(block).is_some())
        || calls::overlapping(block).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;
    use core::panic::Location;

    /// Held by the tests whose assertions depend on how many pins the
    /// shared tables hold (a checker's copy of them is made only while
    /// they are small: `snapshot`) and by the tests that keep hundreds of
    /// pins live, so that the first never see the second's pins.
    pub(super) static TABLE_SIZE_MATTERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// `TABLE_SIZE_MATTERS`, also after a test holding it failed.
    pub(super) fn table_size_matters() -> std::sync::MutexGuard<'static, ()> {
        TABLE_SIZE_MATTERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    std::thread_local! {
        /// How many times this thread took each shard's lock (work, not
        /// time: what `pins_made_on_two_threads_take_different_locks`
        /// counts).
        pub(super) static SHARD_LOCKS_TAKEN_HERE: [Cell<usize>; SHARDS] =
            const { [const { Cell::new(0) }; SHARDS] };
    }

    /// Pins and unpins `n` times on a new thread; returns the shard its
    /// handles named and the shard locks that thread took.
    fn pin_on_new_thread(target: &'static [u8; 64], n: usize) -> (usize, [usize; SHARDS]) {
        std::thread::spawn(move || {
            let region = Region::of(target);
            let mut shard = None;
            for _ in 0..n {
                let id = pin(region, PinKind::Pinner, Location::caller(), 0);
                let (s, _) = split_id(id);
                assert!(shard.is_none_or(|seen| seen == s), "one thread, one shard");
                shard = Some(s);
                unpin(id);
            }
            let taken = SHARD_LOCKS_TAKEN_HERE.with(|t| core::array::from_fn(|s| t[s].get()));
            (shard.unwrap_or(SHARDS), taken)
        })
        .join()
        .unwrap()
    }

    /// Rule: lasting pins made on different threads do not serialise on
    /// one process-wide lock. A thread's pins and unpins take its own
    /// shard's lock and no other (counted per thread, not timed), and two
    /// threads numbered into different shards take different locks.
    /// Threads other tests start meanwhile may land two of ours in one
    /// shard, so a second thread is started until one lands elsewhere.
    #[test]
    fn pins_made_on_two_threads_take_different_locks() {
        static TARGET: [u8; 64] = [0; 64];
        let n = if cfg!(miri) { 20 } else { 1000 };
        let (first, taken) = pin_on_new_thread(&TARGET, n);
        let only_own = |shard: usize, taken: [usize; SHARDS]| {
            assert_eq!(taken[shard], 2 * n, "one lock per pin and per unpin");
            assert_eq!(taken.iter().sum::<usize>(), 2 * n, "no other shard's lock");
        };
        only_own(first, taken);
        let mut attempts = 0;
        loop {
            let (second, taken) = pin_on_new_thread(&TARGET, n);
            only_own(second, taken);
            if second != first {
                break;
            }
            attempts += 1;
            assert!(
                attempts < 4 * SHARDS,
                "every new thread landed in shard {first}"
            );
        }
    }

    /// Rule: every change of a shard's pins is published, an unwind out of
    /// the change included: afterwards the shard's word is even under its
    /// lock and its mirror answers for the pin made before the panic. (The
    /// word used to stay odd, sending every lock-free reader to the lock.)
    /// Read under the shard's lock, so another thread's change in the same
    /// shard cannot make the answer move. (One made between the unwind and
    /// that lock, by a test running at once on a thread of the same shard,
    /// would publish too and hide a missing publication: the test can miss
    /// the fault then, never report one that is not there.)
    #[test]
    fn a_change_that_unwinds_is_still_published() {
        static TARGET: [u8; 16] = [0; 16];
        let thread = pinning_thread();
        let s = thread.0 as usize % SHARDS;
        let unwound = std::panic::catch_unwind(|| {
            let mut change = change_shard_of_a_pinner(s);
            change.pin(
                Region::of(&TARGET),
                PinKind::Pinner,
                Location::caller(),
                thread,
                0,
            );
            panic!("a change unwinds");
        });
        assert!(unwound.is_err());
        let addr = TARGET.as_ptr() as usize;
        let local = {
            let table = lock_shard(s);
            let mirror = mirror_of(s);
            assert_eq!(mirror.generation() & 1, 0, "the word was left odd");
            if table.few_pins(mirror::MIRROR_MAX).is_some() {
                assert_eq!(
                    mirror.covers_point(addr),
                    Some(true),
                    "the pin is not mirrored"
                );
            }
            let mut found = None;
            table.find_covering(addr, |hit| {
                found = Some(hit.id);
                true
            });
            found.expect("the pin made before the panic is in the table")
        };
        unpin(global_id(s, local));
    }

    /// Rule: a change of shard `s` is made under shard `s`'s lock. A guard
    /// of another shard's lock is refused before the mirror is touched
    /// (debug builds: the check is a `debug_assert`).
    #[test]
    #[cfg(debug_assertions)]
    fn a_change_begun_with_another_shards_lock_is_refused() {
        let s = pinning_thread().0 as usize % SHARDS;
        let other = (s + 1) % SHARDS;
        let refused = std::panic::catch_unwind(|| ShardChange::begin(other, lock_shard(s)));
        assert!(refused.is_err(), "a change began under the wrong lock");
        // Shard `other`'s word was never made odd (read under its lock,
        // where every change that began has been published), and the
        // wrong guard was released on the way out.
        let word = {
            let _held = lock_shard(other);
            mirror_of(other).generation()
        };
        assert_eq!(word & 1, 0, "the wrong shard's change was begun");
        drop(lock_shard(s));
    }

    /// The registry sits below the report, the allocator, the checker and
    /// the pin holders: they call it, never the other way round (a call up
    /// from here is how the allocator path would end up in code that
    /// allocates or locks).
    #[test]
    fn the_registry_never_calls_up() {
        let sources = [
            ("mod.rs", include_str!("mod.rs")),
            ("calls.rs", include_str!("calls.rs")),
            ("events.rs", include_str!("events.rs")),
            ("fork.rs", include_str!("fork.rs")),
            ("hints.rs", include_str!("hints.rs")),
            ("ids.rs", include_str!("ids.rs")),
            ("lock.rs", include_str!("lock.rs")),
            ("mirror.rs", include_str!("mirror.rs")),
            ("quarantine.rs", include_str!("quarantine.rs")),
            ("quarantine_hints.rs", include_str!("quarantine_hints.rs")),
            ("shards.rs", include_str!("shards.rs")),
            ("snapshot.rs", include_str!("snapshot.rs")),
            ("table.rs", include_str!("table.rs")),
        ];
        let above = ["report", "alloc", "check", "pinner", "owned", "call"];
        for (file, text) in sources {
            // This test names them itself, as strings.
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
            // One pass over each file (cheap under Miri too): every path
            // from the crate root, by its first module.
            for (at, _) in code.match_indices("crate::") {
                let rest = &code[at + "crate::".len()..];
                let module = rest
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or("");
                assert!(
                    !above.contains(&module),
                    "registry/{file} calls up into `{module}`"
                );
            }
        }
    }
}
