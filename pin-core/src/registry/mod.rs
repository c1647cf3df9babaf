//! The process-wide pin registry: counted pins, the questions everybody asks
//! about them (`is_pinned`, `is_region_pinned`, `pin_count`, "does any pin
//! overlap this block?"), and the quarantine of heap blocks freed while
//! pinned.
//!
//! This is the only module that knows how pins are stored. Two stores:
//! - the shared `table` (see there) of lasting pins (`Pinner`, `OwnedPin`,
//!   `with_pinned`) and of the rare call that does not fit a thread's
//!   record, guarded by one spin lock; `LIVE_ENTRIES` mirrors whether it
//!   holds anything so that the common questions cost one atomic load while
//!   it does not;
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
//! user code or the inner allocator while holding its lock, so the pin-aware
//! allocator can consult it from `dealloc` without recursion or deadlock.

mod calls;
mod events;
mod fork;
mod hints;
mod ids;
mod lock;
mod quarantine_hints;
mod slab;
mod table;

pub use events::{AllocEvent, AllocEventKind};
pub(crate) use events::{EventLog, RECENT_EVENTS};
pub(crate) use ids::PinIds;
pub(crate) use table::PinId;
use table::{Hit, GROUP_MAX};

use crate::origin::{coarse_now_ms, PinKind, Site, ThreadNumber};
use crate::region::Region;
use crate::statics;
use core::alloc::Layout;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use lock::SpinLock;
use table::{Quarantined, Span, Table};

struct Registry {
    table: Table,
    events: EventLog,
}

static REGISTRY: SpinLock<Registry> = SpinLock::new(Registry {
    table: Table::new(),
    events: EventLog::new(),
});

/// Takes the registry's lock, installing the fork handlers on first use
/// (see `fork`): every critical section starts here.
#[inline]
fn locked() -> lock::SpinGuard<'static, Registry> {
    fork::install_handlers();
    REGISTRY.lock()
}

/// Live entries in the table, mirrored for lock-free "anything pinned?".
static LIVE_ENTRIES: AtomicUsize = AtomicUsize::new(0);

/// Whether the shared table holds any pin (call pins published per thread
/// are not counted: see [`calls::any_published`]).
#[inline]
fn shared_pins() -> bool {
    LIVE_ENTRIES.load(Ordering::Acquire) != 0
}

/// Blocks in the quarantine, mirrored (stored under the lock) so that a
/// released call pin can tell without the lock whether anything may wait
/// for it. Read after the release's `SeqCst` fence: see `calls`, "Against
/// the allocator".
static QUARANTINED_BLOCKS: AtomicUsize = AtomicUsize::new(0);

fn publish_quarantined(table: &Table) {
    QUARANTINED_BLOCKS.store(table.quarantine.len(), Ordering::Relaxed);
}

fn publish_live(table: &Table) {
    LIVE_ENTRIES.store(table.live_entries(), Ordering::Release);
}

/// Whether some `PinAwareAlloc` serves frees in this process: set by the
/// allocator (`note_guarded_frees`), read when the shared table decides at
/// its first pin whether to keep the lock-free hints its frees consult.
static GUARDED_FREES: AtomicBool = AtomicBool::new(false);

/// Told by the pin-aware allocator at its first allocation: frees are
/// guarded from now on, so lock-free hints are worth keeping.
pub(crate) fn note_guarded_frees() {
    GUARDED_FREES.store(true, Ordering::Relaxed);
}

// ---------------------------------------------------------------- pinning

/// Pins `region` once on behalf of the calling thread.
pub(crate) fn pin(region: Region, kind: PinKind, site: Site) -> PinId {
    crate::memory::register_thread();
    let thread = ThreadNumber::current();
    let born = coarse_now_ms();
    let mut reg = locked();
    let id = reg.table.pin(region, kind, site, thread, born);
    publish_live(&reg.table);
    id
}

/// Pins every region of `regions` under one lock acquisition, appending the
/// handles to `out` (which must have room: the caller reserves first, so no
/// allocation happens under the lock).
pub(crate) fn pin_all(regions: &[Region], kind: PinKind, site: Site, out: &mut PinIds) {
    if regions.is_empty() {
        return;
    }
    crate::memory::register_thread();
    let thread = ThreadNumber::current();
    let born = coarse_now_ms();
    out.reserve(regions.len());
    let mut reg = locked();
    // A null region pins nothing (see `Region::new`).
    for &region in regions.iter().filter(|r| !r.is_null()) {
        let id = reg.table.pin(region, kind, site, thread, born);
        out.push(id);
    }
    publish_live(&reg.table);
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
/// else one entry each, appended to `each`.
pub(crate) fn pin_call(regions: &[Region], site: Site, each: &mut PinIds) -> CallPinned {
    if regions.is_empty() {
        return CallPinned::Elsewhere;
    }
    crate::memory::register_thread();
    let born = coarse_now_ms();
    if let Some(token) = calls::publish(regions, site, born) {
        return CallPinned::Published(token);
    }
    if regions.len() > GROUP_MAX {
        pin_all(regions, PinKind::Call, site, each);
        return CallPinned::Elsewhere;
    }
    let thread = ThreadNumber::current();
    let mut reg = locked();
    let id = reg.table.pin_group(regions, site, thread, born);
    publish_live(&reg.table);
    CallPinned::Group(id)
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
            // (`quarantine_hints`, "Ordering against the allocator").
            if QUARANTINED_BLOCKS.load(Ordering::Relaxed) != 0
                && quarantine_hints::may_hold(released)
            {
                QUARANTINE_LOOKUPS.fetch_add(1, Ordering::Relaxed);
                let reg = locked();
                if !reg.table.quarantine.is_empty() {
                    release_quarantine(reg, released);
                }
            }
        }
    }
}

/// Releases one pin.
pub(crate) fn unpin(id: PinId) {
    unpin_all(core::slice::from_ref(&id));
}

/// Releases every pin in `ids` under one lock acquisition, then returns to
/// their inner allocator the quarantined blocks no pin overlaps any more.
/// Only quarantined blocks within the span of what was released are looked
/// at: releasing a pin far from every quarantined block costs a binary
/// search, whatever the quarantine holds.
pub(crate) fn unpin_all(ids: &[PinId]) {
    if ids.is_empty() {
        return;
    }
    let mut reg = locked();
    let mut released = Span::default();
    for &id in ids {
        if let Some(r) = reg.table.unpin(id) {
            released.add(r);
        }
    }
    publish_live(&reg.table);
    if !released.is_empty()
        && !reg.table.quarantine.is_empty()
        && quarantine_hints::may_hold(released.region())
    {
        release_quarantine(reg, released.region());
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
    (shared_pins() && hints::may_cover(addr) && locked().table.covers_point(addr))
        || calls::covers_point(addr)
        || statics::is_static(addr)
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
    let reg = locked();
    covered_in(Some(&reg.table), region)
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
    // Every published call pin read once for all the items, when they fit.
    let mut buf = [const { core::mem::MaybeUninit::<Region>::uninit() }; 64];
    let calls = match calls::copy_regions(&mut buf) {
        Some(copied) => CallView::Copied(copied),
        None => CallView::Live,
    };
    let uncovered = |table: Option<&Table>| {
        items.iter().position(|it| {
            region(it).is_none_or(|r| r.is_null() || !covered_with(table, &calls, r))
        })
    };
    if !shared_pins() {
        return uncovered(None);
    }
    let reg = locked();
    uncovered(Some(&reg.table))
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
fn covered_in(table: Option<&Table>, region: Region) -> bool {
    covered_with(table, &CallView::Live, region)
}

#[inline]
fn covered_with(table: Option<&Table>, calls: &CallView<'_>, region: Region) -> bool {
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
    let reg = REGISTRY.lock();
    lasting_cover_in(&reg.table, region)
}

fn lasting_cover_in(table: &Table, region: Region) -> LastingCover {
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
fn lasting_overlap(table: &Table, region: Region) -> bool {
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
    let shared = match shared_pins() && hints::may_cover(addr) {
        true => locked().table.count_at(addr),
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

fn facts(table: &Table, hit: Hit) -> PinFacts {
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
fn overlapping_pin(table: &Table, block: Region) -> Option<PinFacts> {
    match table.overlapping(block) {
        Some(hit) => Some(facts(table, hit)),
        None => calls::overlapping(block).map(|p| PinFacts::from(&p)),
    }
}

/// A copy of every live pin, for the report. Collected into System-allocated
/// storage under the lock and converted afterwards.
pub(crate) fn live_pins() -> Vec<PinFacts> {
    let copied = {
        let reg = locked();
        let mut out = allocator_api2::vec::Vec::with_capacity_in(
            reg.table.live_regions(),
            std::alloc::System,
        );
        reg.table
            .for_each_live(|region, count, e| out.push(PinFacts::of(region, count, e)));
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

/// Allocator events and quarantine totals, for the report.
pub(crate) struct AllocFacts {
    pub(crate) recent: Vec<AllocEvent>,
    pub(crate) freed_while_pinned: u64,
    pub(crate) moved_while_pinned: u64,
    pub(crate) quarantined_blocks: usize,
    pub(crate) quarantined_bytes: usize,
    pub(crate) registry_bytes: usize,
}

pub(crate) fn alloc_facts() -> AllocFacts {
    let (recent, freed, moved, blocks, bytes, registry_bytes) = {
        let reg = locked();
        let mut recent = [None; RECENT_EVENTS];
        for (slot, ev) in recent.iter_mut().zip(reg.events.recent()) {
            *slot = Some(*ev);
        }
        (
            recent,
            reg.events.freed_while_pinned,
            reg.events.moved_while_pinned,
            reg.table.quarantine.len(),
            reg.table.quarantined_bytes,
            reg.table.heap_bytes(),
        )
    };
    AllocFacts {
        recent: recent.iter().flatten().copied().collect(),
        freed_while_pinned: freed,
        moved_while_pinned: moved,
        quarantined_blocks: blocks,
        quarantined_bytes: bytes,
        registry_bytes,
    }
}

// ---------------------------------------------------------------- quarantine

/// How to hand a quarantined block back to the allocator it came from.
#[derive(Clone, Copy)]
pub(crate) struct QuarantineRelease {
    /// The allocator (a `&'static` inner allocator, type-erased).
    pub(crate) allocator: *const (),
    /// Frees `ptr` with `layout` through `allocator`.
    pub(crate) free: unsafe fn(*const (), *mut u8, Layout),
}

// SAFETY: `allocator` points at a `GlobalAlloc` that lives in a `static`
// (`PinAwareAlloc` documents this) and `GlobalAlloc` is `Sync`; freeing
// through it from any thread is what the allocator promises.
unsafe impl Send for QuarantineRelease {}

/// False when no live pin can share a byte with `block`: lock-free, a few
/// loads. True means "ask `overlaps_pin` or `quarantine_if_pinned`".
#[inline]
pub(crate) fn may_overlap_pin(block: Region) -> bool {
    (shared_pins() && hints::may_overlap(block)) || calls::any_published()
}

/// Whether any live pin shares a byte with `block`.
pub(crate) fn overlaps_pin(block: Region) -> bool {
    (shared_pins() && hints::may_overlap(block) && locked().table.overlapping(block).is_some())
        || calls::overlapping(block).is_some()
}

/// The allocator's question and action in one critical section: if a live
/// pin overlaps `block`, keep the block (quarantine it), record the event and
/// return the facts of that pin; otherwise return `None` and the caller frees
/// it. Doing both under one lock means a pin released in between cannot
/// strand a block in quarantine.
pub(crate) fn quarantine_if_pinned(
    block: Region,
    layout: Layout,
    release: QuarantineRelease,
    event: AllocEventKind,
) -> Option<AllocEvent> {
    if !may_overlap_pin(block) {
        return None;
    }
    FREES_LOOKED_UP.fetch_add(1, Ordering::Relaxed);
    let mut reg = locked();
    // The usual negative answer, without touching the quarantine. A call
    // pin published after this read is the program's own race with this
    // free (`calls`); one released meanwhile was no reason to keep it.
    overlapping_pin(&reg.table, block)?;
    if reg.table.quarantine.try_reserve(1).is_err() {
        // Out of memory for the bookkeeping: leaking the block is the only
        // choice that keeps C's pointer valid, if a pin covers it.
        let pin = overlapping_pin(&reg.table, block)?;
        return Some(AllocEvent::new(event, block, pin, ThreadNumber::current()));
    }
    // Quarantined first and looked for pins after, with the fence between
    // (`calls`, "Against the allocator"): a call pin released meanwhile
    // either is seen gone here or sees the block in the quarantine.
    // Sorted by address; the memmove this costs is paid only by a free or
    // realloc of a pinned block, the rare event.
    let at = reg
        .table
        .quarantine
        .partition_point(|q| q.addr < block.addr());
    reg.table.quarantine.insert(
        at,
        Quarantined {
            addr: block.addr(),
            layout,
            release,
            freed: event == AllocEventKind::FreedWhilePinned,
        },
    );
    publish_quarantined(&reg.table);
    quarantine_hints::quarantined(block);
    core::sync::atomic::fence(Ordering::SeqCst);
    let Some(pin) = overlapping_pin(&reg.table, block) else {
        reg.table.quarantine.remove(at);
        publish_quarantined(&reg.table);
        quarantine_hints::left(block);
        return None;
    };
    reg.table.quarantined_bytes += layout.size();
    let ev = AllocEvent::new(event, block, pin, ThreadNumber::current());
    reg.events.record(ev);
    Some(ev)
}

/// Whether a block overlapping `region` sits in the quarantine because it
/// was freed (not moved by `realloc`): its value's destructor has run.
///
/// Asked by an owner whose storage is `region` while its pin is live. Such
/// a block must have been freed under that pin: a quarantined block stays
/// allocated in its inner allocator, so no storage allocated later can
/// overlap it.
pub(crate) fn freed_while_pinned(region: Region) -> bool {
    if region.is_empty() || !shared_pins() {
        return false;
    }
    holds_freed(&locked().table, region)
}

/// Releases pin `id` and says whether a block overlapping `region` had been
/// freed under it (see [`freed_while_pinned`]), both under one lock
/// acquisition so that no free can slip in between the answer and the
/// unpin. Quarantined blocks no pin overlaps any more are then freed, once.
pub(crate) fn unpin_owned(id: PinId, region: Region) -> bool {
    let mut reg = locked();
    let freed = !region.is_empty() && holds_freed(&reg.table, region);
    let released = reg.table.unpin(id);
    publish_live(&reg.table);
    if let Some(released) = released {
        if !reg.table.quarantine.is_empty() && quarantine_hints::may_hold(released) {
            release_quarantine(reg, released);
        }
    }
    freed
}

fn holds_freed(table: &Table, region: Region) -> bool {
    let window = quarantine_window(&table.quarantine, region);
    table.quarantine[window]
        .iter()
        .any(|q| q.freed && Region::from_parts(q.addr, q.layout.size()).overlaps(&region))
}

/// The indices of the (sorted, disjoint) quarantined blocks that may
/// overlap `region`: a zero-length region stands for its own address.
fn quarantine_window(quarantine: &[Quarantined], region: Region) -> core::ops::Range<usize> {
    let start = region.addr();
    let end = region.end().max(start.saturating_add(1));
    // Blocks are disjoint and sorted by start, so they are sorted by end
    // too: the first that ends after `start` begins the window.
    let lo = quarantine.partition_point(|q| q.addr.saturating_add(q.layout.size()) <= start);
    let hi = lo + quarantine[lo..].partition_point(|q| q.addr < end);
    lo..hi
}

/// How many frees the lock-free hints could not clear (each then took the
/// lock to look the block up): the regression test of "a free beside a
/// pinned buffer takes the lock" counts this work instead of timing it.
static FREES_LOOKED_UP: AtomicUsize = AtomicUsize::new(0);

/// How many frees (or moves) through `PinAwareAlloc` took the registry's
/// lock to ask whether a pin overlaps the block, since the process started
/// (work, for regression tests; not public API).
pub fn frees_looked_up_under_lock() -> usize {
    FREES_LOOKED_UP.load(Ordering::Relaxed)
}

/// How many releases looked for quarantined blocks to free (took the lock
/// for it, or searched the quarantine under it): counted for the
/// regression test of "a release far from every quarantined block".
static QUARANTINE_LOOKUPS: AtomicUsize = AtomicUsize::new(0);

/// How many releases of pins looked for quarantined blocks to free since
/// the process started (work, for regression tests; not public API).
pub fn quarantine_lookups() -> usize {
    QUARANTINE_LOOKUPS.load(Ordering::Relaxed)
}

/// How many quarantined blocks releases have looked at, in all: the
/// regression tests of the "scan the whole quarantine" cliff count this
/// work instead of timing it.
static QUARANTINE_EXAMINED: AtomicUsize = AtomicUsize::new(0);

/// How many quarantined blocks unpins have looked at since the process
/// started (work, for regression tests; not public API).
pub fn quarantine_blocks_examined() -> usize {
    QUARANTINE_EXAMINED.load(Ordering::Relaxed)
}

/// Frees, after dropping the lock, every quarantined block within
/// `released` (the span of the pins just released) that no live pin
/// overlaps any more. Blocks outside it are not looked at: no pin that
/// covered them went away.
fn release_quarantine(mut reg: lock::SpinGuard<'_, Registry>, released: Region) {
    QUARANTINE_LOOKUPS.fetch_add(1, Ordering::Relaxed);
    const BATCH: usize = 16;
    // Blocks below this address were looked at already (the lock is
    // dropped between batches, so the window is found again each time).
    let mut from = 0usize;
    loop {
        let mut ready: [Option<Quarantined>; BATCH] = [None; BATCH];
        let mut n = 0;
        let table = &mut reg.table;
        let window = quarantine_window(&table.quarantine, released);
        let start =
            window.start + table.quarantine[window.clone()].partition_point(|q| q.addr < from);
        // Compact in place, keeping the order: `keep` is where the next
        // block that stays goes.
        let mut keep = start;
        let mut i = start;
        while i < window.end && n < BATCH {
            let q = table.quarantine[i];
            QUARANTINE_EXAMINED.fetch_add(1, Ordering::Relaxed);
            from = q.addr.saturating_add(1);
            let block = Region::from_parts(q.addr, q.layout.size());
            if table.overlapping(block).is_none() && calls::overlapping(block).is_none() {
                table.quarantined_bytes -= q.layout.size();
                quarantine_hints::left(block);
                ready[n] = Some(q);
                n += 1;
            } else {
                table.quarantine[keep] = q;
                keep += 1;
            }
            i += 1;
        }
        // Close the gap the ready blocks left.
        if i > keep {
            let len = table.quarantine.len();
            table.quarantine.copy_within(i..len, keep);
            table.quarantine.truncate(len - (i - keep));
        }
        let more = i < window.end;
        publish_quarantined(table);
        drop(reg);
        for q in ready.iter().flatten() {
            // SAFETY: the block came from this allocator with this layout and
            // was never freed (it was quarantined instead); no pin covers it
            // any more, so C has been told it may no longer use it.
            unsafe { (q.release.free)(q.release.allocator, q.addr as *mut u8, q.layout) };
        }
        if !more {
            return;
        }
        reg = locked();
    }
}

#[cfg(test)]
mod tests {
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
            ("quarantine_hints.rs", include_str!("quarantine_hints.rs")),
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
