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
mod quarantine_hints;
mod slab;
mod snapshot;
mod table;

pub use events::{AllocEvent, AllocEventKind};
pub(crate) use events::{EventLog, RECENT_EVENTS};
pub(crate) use ids::PinIds;
pub(crate) use table::PinId;
use table::{Hit, GROUP_MAX};

use crate::origin::{coarse_now_ms, PinKind, Site, ThreadNumber};
use crate::region::Region;
use crate::statics;
use allocator_api2::vec::Vec as SysVec;
use core::alloc::Layout;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use hints::Hints;
use lock::{SpinGuard, SpinLock};
use std::alloc::System;
use table::{Quarantined, Span, Table};

// ---------------------------------------------------------------- shards

/// Bits of a `PinId` naming its shard (the top ones; the rest is the
/// entry's id in that shard's slab, `slab::ID_BITS`).
const SHARD_BITS: u32 = 3;
/// Shared tables, each under its own lock. A thread pins into shard
/// `thread number % SHARDS`: threads numbered one after the other (as a
/// program's workers are) never share a lock until there are more than
/// `SHARDS` of them pinning at once. Eight keeps the readers' walk over
/// the shards' live counts short (eight loads, each shard on its own line).
const SHARDS: usize = 1 << SHARD_BITS;
const _: () = assert!(SHARD_BITS + slab::ID_BITS == 32);

/// One shared table, its lock and its live count on their own cache line:
/// a thread pinning and unpinning into its shard writes no line another
/// pinning thread writes.
#[repr(align(128))]
struct Shard {
    table: SpinLock<Table>,
    /// Live entries in `table`, stored under its lock (Release) after
    /// every change: readers skip a shard whose count is 0 without its lock.
    live: AtomicUsize,
    /// Changes of `table`'s pins, bumped under its lock by every pin and
    /// unpin (`publish_live`): a checker's sorted copy of the shard's pins
    /// (`snapshot`) is current while this has not moved. Per shard, so that
    /// pinning threads never write one shared counter.
    generation: AtomicU64,
}

/// Each shard's lock-free hints (see `hints`): its own set, written only
/// under its lock, so a set never has two writers and pinning threads in
/// different shards write no hint in common. 1.5 MiB each of zeroed
/// statics, touched only where pins are filed.
static SHARD_HINTS: [Hints; SHARDS] = [const { Hints::new(false) }; SHARDS];

const fn shard(s: usize) -> Shard {
    Shard {
        table: SpinLock::new(Table::new(&SHARD_HINTS[s])),
        live: AtomicUsize::new(0),
        generation: AtomicU64::new(0),
    }
}

static SHARD_TABLES: [Shard; SHARDS] = [
    shard(0),
    shard(1),
    shard(2),
    shard(3),
    shard(4),
    shard(5),
    shard(6),
    shard(7),
];
const _: () = assert!(SHARDS == 8, "SHARD_TABLES names every shard");

/// One bit per shard that has ever held a pin (`SHARD_BITS_MASK`), set
/// (once) before its first pin, and `CALL_RECORDS_BIT`, set (once) before
/// the first call pin is published in a thread's record: "no pin of any
/// kind anywhere" is then this one load, the allocator's whole question in
/// a process that never pinned, and readers walk only the shards in use.
static SHARDS_IN_USE: AtomicU32 = AtomicU32::new(0);
const SHARD_BITS_MASK: u32 = (1 << SHARDS) - 1;
const CALL_RECORDS_BIT: u32 = 1 << 31;

/// Told by `calls` when a thread claims a record, before it publishes
/// anything there: a pin published there happens-after this store, so a
/// reader that must see the pin sees the bit.
pub(super) fn note_call_record_claimed() {
    if SHARDS_IN_USE.load(Ordering::Relaxed) & CALL_RECORDS_BIT == 0 {
        SHARDS_IN_USE.fetch_or(CALL_RECORDS_BIT, Ordering::Release);
    }
}

/// The shards that have ever held a pin, as bits.
#[inline]
fn shards_in_use() -> u32 {
    SHARDS_IN_USE.load(Ordering::Acquire) & SHARD_BITS_MASK
}

/// Takes shard `s`'s lock, installing the fork handlers on first use (see
/// `fork`): every critical section on a shard starts here.
#[inline]
fn lock_shard(s: usize) -> SpinGuard<'static, Table> {
    fork::install_handlers();
    #[cfg(test)]
    tests::SHARD_LOCKS_TAKEN_HERE.with(|taken| taken[s].set(taken[s].get() + 1));
    SHARD_TABLES[s].table.lock()
}

/// Every change of a shard's pins ends here, under its lock.
fn publish_live(s: usize, table: &Table) {
    let shard = &SHARD_TABLES[s];
    // Written only under the shard's lock: a load and a store, no
    // read-modify-write.
    let generation = shard.generation.load(Ordering::Relaxed).wrapping_add(1);
    shard.generation.store(generation, Ordering::Relaxed);
    shard.live.store(table.live_entries(), Ordering::Release);
}

/// The handle of entry `local` of shard `s`.
#[inline]
fn global_id(s: usize, local: PinId) -> PinId {
    PinId(((s as u32) << slab::ID_BITS) | local.0)
}

/// The shard of a handle, and its entry's id there.
#[inline]
fn split_id(id: PinId) -> (usize, PinId) {
    (
        (id.0 >> slab::ID_BITS) as usize,
        PinId(id.0 & ((1 << slab::ID_BITS) - 1)),
    )
}

/// Whether any shard holds a pin (call pins published per thread are not
/// counted: see [`calls::any_published`]).
#[inline]
fn shared_pins() -> bool {
    let mut used = shards_in_use();
    while used != 0 {
        let s = used.trailing_zeros() as usize % SHARDS;
        used &= used - 1;
        if SHARD_TABLES[s].live.load(Ordering::Acquire) != 0 {
            return true;
        }
    }
    false
}

/// Whether `f` says yes for some shard holding pins whose hints do not rule
/// it out (`hinted`, lock-free), each asked under its own lock, one at a
/// time: for questions about one address, which one pin answers (no pin
/// spans two shards).
#[inline]
fn any_live_shard(
    mut hinted: impl FnMut(&'static Hints) -> bool,
    mut f: impl FnMut(&Table) -> bool,
) -> bool {
    let mut used = shards_in_use();
    while used != 0 {
        let s = used.trailing_zeros() as usize % SHARDS;
        used &= used - 1;
        if SHARD_TABLES[s].live.load(Ordering::Acquire) != 0
            && hinted(&SHARD_HINTS[s])
            && f(&lock_shard(s))
        {
            return true;
        }
    }
    false
}

/// Whether some shard that ever held pins has hints that do not rule out
/// what `hinted` asks (lock-free: the hints of each shard in use). False
/// proves no shared pin is there; true means "ask the tables". A shard's
/// live count is not read first: the hints of a shard holding no pin hold
/// no extent and say "no" by themselves (or "maybe" while not kept), and
/// the allocator asks this on every free.
#[inline]
fn any_live_hints(hinted: impl FnMut(&'static Hints) -> bool) -> bool {
    any_live_hints_in(shards_in_use(), hinted)
}

/// `any_live_hints` over the shards of `used`.
#[inline]
fn any_live_hints_in(mut used: u32, mut hinted: impl FnMut(&'static Hints) -> bool) -> bool {
    while used != 0 {
        let s = used.trailing_zeros() as usize % SHARDS;
        used &= used - 1;
        if hinted(&SHARD_HINTS[s]) {
            return true;
        }
    }
    false
}

/// Shard tables locked together, in ascending order (the lock order among
/// shards), for a question whose answer may combine pins of several shards
/// (a region covered half by one thread's pin and half by another's).
struct Tables {
    guards: [Option<SpinGuard<'static, Table>>; SHARDS],
}

impl Tables {
    /// The shards holding pins now (their live counts, read without their
    /// locks, say which). A shard whose count reads 0 holds no pin that
    /// happened before this call; one pinned concurrently is the caller's
    /// own race with that pin, as it was when one lock decided it.
    fn lock_live() -> Tables {
        let mut guards = [const { None }; SHARDS];
        let mut used = shards_in_use();
        while used != 0 {
            let s = used.trailing_zeros() as usize % SHARDS;
            used &= used - 1;
            if SHARD_TABLES[s].live.load(Ordering::Acquire) != 0 {
                guards[s] = Some(lock_shard(s));
            }
        }
        Tables { guards }
    }

    /// Every shard, whatever its live count: what the quarantine's
    /// decisions take, so that they are ordered by each shard's lock
    /// against every unpin (see `quarantine_if_pinned`).
    fn lock_all() -> Tables {
        Tables {
            guards: core::array::from_fn(|s| Some(lock_shard(s))),
        }
    }

    fn each(&self) -> impl Iterator<Item = (usize, &Table)> {
        self.guards
            .iter()
            .enumerate()
            .filter_map(|(s, g)| g.as_deref().map(|t| (s, t)))
    }

    /// The entry behind a hit these tables returned.
    fn entry(&self, id: PinId) -> &table::Entry {
        let (s, local) = split_id(id);
        match &self.guards[s] {
            Some(t) => t.entry(local),
            // Hits come from locked shards only.
            None => unreachable!("a hit from a shard that is not locked"),
        }
    }

    #[inline]
    fn find_covering(&self, addr: usize, f: impl FnMut(Hit) -> bool) -> bool {
        self.find_covering_at_least(addr, 0, f)
    }

    fn find_covering_at_least(
        &self,
        addr: usize,
        min_len: usize,
        mut f: impl FnMut(Hit) -> bool,
    ) -> bool {
        self.each().any(|(s, t)| {
            t.find_covering_at_least(addr, min_len, |hit| {
                f(Hit {
                    id: global_id(s, hit.id),
                    ..hit
                })
            })
        })
    }

    fn covers_point(&self, addr: usize) -> bool {
        self.each().any(|(_, t)| t.covers_point(addr))
    }

    fn count_at(&self, addr: usize) -> usize {
        self.each().map(|(_, t)| t.count_at(addr)).sum()
    }

    fn covered_until(&self, addr: usize) -> Option<usize> {
        self.each().filter_map(|(_, t)| t.covered_until(addr)).max()
    }

    fn overlapping(&self, block: Region) -> Option<Hit> {
        self.each().find_map(|(s, t)| {
            t.overlapping(block).map(|hit| Hit {
                id: global_id(s, hit.id),
                ..hit
            })
        })
    }

    fn for_each_live(&self, mut f: impl FnMut(Region, u32, &table::Entry)) {
        for (_, t) in self.each() {
            t.for_each_live(&mut f);
        }
    }

    fn live_regions(&self) -> usize {
        self.each().map(|(_, t)| t.live_regions()).sum()
    }

    /// Live entries of the locked shards.
    fn live_entries(&self) -> usize {
        self.each().map(|(_, t)| t.live_entries()).sum()
    }

    /// What the locked shards' pins are as of now: each locked shard's
    /// generation (read under its lock, where it is written), and
    /// `u64::MAX` (never a generation a shard reaches) for a shard not
    /// locked, which held no pin when these were locked. Equal keys mean
    /// equal pins.
    fn generations(&self) -> [u64; SHARDS] {
        core::array::from_fn(|s| match self.guards[s] {
            Some(_) => SHARD_TABLES[s].generation.load(Ordering::Relaxed),
            None => u64::MAX,
        })
    }
}

// ---------------------------------------------------------------- quarantine home

/// Blocks freed or moved while pinned, and what the allocator did with
/// them: one home for every shard, under its own lock (taken before any
/// shard's).
struct Quarantine {
    /// Sorted by address (they are distinct live allocations, so they never
    /// overlap): a release looks only at the blocks near what it released.
    quarantine: SysVec<Quarantined, System>,
    quarantined_bytes: usize,
    events: EventLog,
}

static QUARANTINE: SpinLock<Quarantine> = SpinLock::new(Quarantine {
    quarantine: SysVec::new_in(System),
    quarantined_bytes: 0,
    events: EventLog::new(),
});

/// Takes the quarantine's lock (fork handlers installed first, as for a
/// shard's).
#[inline]
fn locked() -> SpinGuard<'static, Quarantine> {
    fork::install_handlers();
    QUARANTINE.lock()
}

/// Blocks in the quarantine, mirrored (stored under its lock) so that a
/// released pin can tell without that lock whether anything may wait for
/// it. A released call pin reads it after its release's `SeqCst` fence
/// (see `calls`, "Against the allocator"); an unpin from a shard reads it
/// inside the shard's critical section (see `quarantine_if_pinned`).
static QUARANTINED_BLOCKS: AtomicUsize = AtomicUsize::new(0);

fn publish_quarantined(q: &Quarantine) {
    QUARANTINED_BLOCKS.store(q.quarantine.len(), Ordering::Relaxed);
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

/// Marks shard `s` as in use before its first pin (see `SHARDS_IN_USE`):
/// one load once it is.
#[inline]
fn use_shard(s: usize) {
    let bit = 1u32 << s;
    if SHARDS_IN_USE.load(Ordering::Relaxed) & bit == 0 {
        SHARDS_IN_USE.fetch_or(bit, Ordering::Release);
    }
}

/// Pins `region` once on behalf of the calling thread, in its shard.
pub(crate) fn pin(region: Region, kind: PinKind, site: Site) -> PinId {
    crate::memory::register_thread();
    let thread = ThreadNumber::current();
    let s = thread.0 as usize % SHARDS;
    let born = coarse_now_ms();
    use_shard(s);
    let mut table = lock_shard(s);
    let id = table.pin(region, kind, site, thread, born);
    publish_live(s, &table);
    global_id(s, id)
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
    let s = thread.0 as usize % SHARDS;
    let born = coarse_now_ms();
    out.reserve(regions.len());
    use_shard(s);
    let mut table = lock_shard(s);
    // A null region pins nothing (see `Region::new`).
    for &region in regions.iter().filter(|r| !r.is_null()) {
        let id = table.pin(region, kind, site, thread, born);
        out.push(global_id(s, id));
    }
    publish_live(s, &table);
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
    let s = thread.0 as usize % SHARDS;
    use_shard(s);
    let mut table = lock_shard(s);
    let id = table.pin_group(regions, site, thread, born);
    publish_live(s, &table);
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

fn unpin_one(id: PinId) {
    let (s, local) = split_id(id);
    let mut table = lock_shard(s);
    let released = table.unpin(local);
    publish_live(s, &table);
    // Inside the critical section, as in `unpin_many`.
    let quarantined = QUARANTINED_BLOCKS.load(Ordering::Relaxed) != 0;
    drop(table);
    if quarantined {
        if let Some(released) = released {
            release_if_quarantined(released);
        }
    }
}

/// The quarantine's lock, and its blocks within `released` freed unless a
/// pin still overlaps them; nothing at all when the quarantine's lock-free
/// summary says no quarantined block is within `released` (then a release
/// beside 10 000 quarantined blocks costs a few loads: `quarantine_hints`).
/// Called after the release was made visible (a shard's critical section,
/// or a call record's release fence) and the quarantine count read non-zero.
fn release_if_quarantined(released: Region) {
    if !quarantine_hints::may_hold(released) {
        return;
    }
    QUARANTINE_LOOKUPS.fetch_add(1, Ordering::Relaxed);
    let q = locked();
    if !q.quarantine.is_empty() {
        release_quarantine(q, released);
    }
}

fn unpin_many(ids: &[PinId]) {
    let mut released = Span::default();
    let mut quarantined = false;
    let mut rest = ids;
    while let Some(&first) = rest.first() {
        let s = split_id(first).0;
        let run = rest.iter().take_while(|&&id| split_id(id).0 == s).count();
        let mut table = lock_shard(s);
        for &id in &rest[..run] {
            if let Some(r) = table.unpin(split_id(id).1) {
                released.add(r);
            }
        }
        publish_live(s, &table);
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
    (SHARDS_IN_USE.load(Ordering::Relaxed) != 0
        && any_live_shard(|h| h.may_cover(addr), |t| t.covers_point(addr)))
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
    // Every published call pin read once for all the items, and sorted:
    // O(log M) per item against M call pins (see `snapshot`).
    snapshot::with_call_pins(|calls| {
        if !shared_pins() {
            return snapshot::first_uncovered_in(None, calls, items, &region);
        }
        // The snapshot's thread-local is first touched here, outside any
        // lock: registering its destructor may allocate, and an allocation
        // under a shard's lock could reach the pin-aware allocator, which
        // takes that lock.
        snapshot::touch_thread_local();
        let tables = Tables::lock_live();
        snapshot::first_uncovered_in(Some(&tables), calls, items, &region)
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
        let q = locked();
        let mut recent = [None; RECENT_EVENTS];
        for (slot, ev) in recent.iter_mut().zip(q.events.recent()) {
            *slot = Some(*ev);
        }
        let tables: usize = (0..SHARDS).map(|s| lock_shard(s).heap_bytes()).sum();
        (
            recent,
            q.events.freed_while_pinned,
            q.events.moved_while_pinned,
            q.quarantine.len(),
            q.quarantined_bytes,
            tables + q.quarantine.capacity() * core::mem::size_of::<Quarantined>(),
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
    // One load answers a process that never pinned (the allocator asks on
    // every free).
    let used = SHARDS_IN_USE.load(Ordering::Acquire);
    if used == 0 {
        return false;
    }
    let shards = used & SHARD_BITS_MASK;
    // The usual case, one thread's lasting pins: one shard's hints, asked
    // without the loop.
    let by_shards = match shards & shards.wrapping_sub(1) {
        0 => {
            shards != 0 && SHARD_HINTS[shards.trailing_zeros() as usize % SHARDS].may_overlap(block)
        }
        _ => any_live_hints_in(shards, |h| h.may_overlap(block)),
    };
    by_shards || (used & CALL_RECORDS_BIT != 0 && calls::any_published())
}

/// Whether any live pin shares a byte with `block`.
pub(crate) fn overlaps_pin(block: Region) -> bool {
    (any_live_hints(|h| h.may_overlap(block)) && Tables::lock_live().overlapping(block).is_some())
        || calls::overlapping(block).is_some()
}

/// The allocator's question and action in one critical section of the
/// quarantine: if a live pin overlaps `block`, keep the block (quarantine
/// it), record the event and return the facts of that pin; otherwise return
/// `None` and the caller frees it. A pin released in between cannot strand
/// a block in quarantine:
///
/// - a call pin's release pairs with the `SeqCst` fence below (`calls`,
///   "Against the allocator");
/// - a shared pin's release happens in its shard's critical section, which
///   also reads `QUARANTINED_BLOCKS`. The block is inserted and that count
///   stored *before* this function takes every shard's lock to look for
///   pins. Each shard's lock orders the two critical sections: if the
///   unpin's came first, the look finds the pin gone and the block is
///   freed here; if the look's came first, it found the pin and kept the
///   block, and the unpin, acquiring the lock this look released, reads a
///   non-zero count and frees the block once its pin is gone (taking the
///   quarantine's lock after dropping its shard's). Every shard is looked
///   at, whatever its live count: a count read without the lock is not
///   ordered by it. The unpin needs no fence of its own.
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
    let mut q = locked();
    // The usual negative answer, without touching the quarantine. A pin
    // made after this read is the program's own race with this free (see
    // `calls` and `Tables::lock_live`); one released meanwhile was no
    // reason to keep it.
    overlapping_pin(&Tables::lock_live(), block)?;
    if q.quarantine.try_reserve(1).is_err() {
        // Out of memory for the bookkeeping: leaking the block is the only
        // choice that keeps C's pointer valid, if a pin covers it.
        let pin = overlapping_pin(&Tables::lock_live(), block)?;
        return Some(AllocEvent::new(event, block, pin, ThreadNumber::current()));
    }
    // Quarantined first and looked for pins after (see above). Sorted by
    // address; the memmove this costs is paid only by a free or realloc of
    // a pinned block, the rare event.
    let at = q.quarantine.partition_point(|b| b.addr < block.addr());
    q.quarantine.insert(
        at,
        Quarantined {
            addr: block.addr(),
            layout,
            release,
            freed: event == AllocEventKind::FreedWhilePinned,
        },
    );
    publish_quarantined(&q);
    // In the lock-free summary before the fence and before any shard's
    // lock: a release ordered after this free by either reads it there.
    quarantine_hints::quarantined(block);
    core::sync::atomic::fence(Ordering::SeqCst);
    let found = overlapping_pin(&Tables::lock_all(), block);
    let Some(pin) = found else {
        q.quarantine.remove(at);
        publish_quarantined(&q);
        quarantine_hints::left(block);
        return None;
    };
    q.quarantined_bytes += layout.size();
    let ev = AllocEvent::new(event, block, pin, ThreadNumber::current());
    q.events.record(ev);
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
    holds_freed(&locked(), region)
}

/// Releases pin `id` and says whether a block overlapping `region` had been
/// freed under it (see [`freed_while_pinned`]), atomically with respect to
/// frees: no free can slip in between the answer and the unpin.
/// Quarantined blocks no pin overlaps any more are then freed, once.
///
/// The usual case takes the pin's shard's lock alone: an empty quarantine,
/// read inside that critical section, means no free of a pinned block has
/// looked at this shard yet (`quarantine_if_pinned` stores the count before
/// it does), so the answer is "not freed" and a free that comes after finds
/// the pin gone. Otherwise the quarantine's lock is taken first (the lock
/// order), then the shard's again.
pub(crate) fn unpin_owned(id: PinId, region: Region) -> bool {
    let (s, local) = split_id(id);
    {
        let mut table = lock_shard(s);
        if QUARANTINED_BLOCKS.load(Ordering::Relaxed) == 0 {
            table.unpin(local);
            publish_live(s, &table);
            return false;
        }
    }
    let q = locked();
    let freed = !region.is_empty() && holds_freed(&q, region);
    let released = {
        let mut table = lock_shard(s);
        let released = table.unpin(local);
        publish_live(s, &table);
        released
    };
    if let Some(released) = released {
        if !q.quarantine.is_empty() && quarantine_hints::may_hold(released) {
            release_quarantine(q, released);
        }
    }
    freed
}

fn holds_freed(q: &Quarantine, region: Region) -> bool {
    let window = quarantine_window(&q.quarantine, region);
    q.quarantine[window]
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
/// covered them went away. Pins are looked for in every shard (as
/// `quarantine_if_pinned`'s second look does), under their locks, taken
/// after the quarantine's.
fn release_quarantine(mut reg: SpinGuard<'_, Quarantine>, released: Region) {
    const BATCH: usize = 16;
    // Blocks below this address were looked at already (the lock is
    // dropped between batches, so the window is found again each time).
    let mut from = 0usize;
    loop {
        let mut ready: [Option<Quarantined>; BATCH] = [None; BATCH];
        let mut n = 0;
        let table = &mut *reg;
        let window = quarantine_window(&table.quarantine, released);
        if window.is_empty() {
            return;
        }
        let tables = Tables::lock_all();
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
            if tables.overlapping(block).is_none() && calls::overlapping(block).is_none() {
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
        drop(tables);
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
    use super::*;
    use core::cell::Cell;
    use core::panic::Location;

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
                let id = pin(region, PinKind::Pinner, Location::caller());
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

    /// Frees a block `std::alloc::alloc` gave, counting the frees in the
    /// `AtomicUsize` that `counter` points at.
    ///
    /// # Safety
    /// `counter` points at a live `AtomicUsize`; `ptr` came from
    /// `std::alloc::alloc(layout)` and is freed once.
    unsafe fn counted_free(counter: *const (), ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's promise: `counter` is a live `AtomicUsize`.
        unsafe { &*counter.cast::<AtomicUsize>() }.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the caller's promise.
        unsafe { std::alloc::dealloc(ptr, layout) }
    }

    /// How the quarantine hands back a test's blocks: through
    /// `std::alloc::dealloc`, counted in `freed` (a test's own static, so
    /// that tests running at once count apart).
    fn counting_release(freed: &'static AtomicUsize) -> QuarantineRelease {
        QuarantineRelease {
            allocator: (freed as *const AtomicUsize).cast(),
            free: counted_free,
        }
    }

    /// Rule: a block freed while a pin covers it stays allocated until the
    /// last such pin goes, and is then freed exactly once, whichever
    /// threads made and release that pin (its shard is the pinning
    /// thread's, the free and the release happen on two others).
    #[test]
    fn a_block_freed_under_another_threads_pin_waits_for_its_release() {
        static FREED: AtomicUsize = AtomicUsize::new(0);
        let layout = Layout::from_size_align(48, 8).unwrap();
        // SAFETY: the layout's size is not zero.
        let block = unsafe { std::alloc::alloc(layout) };
        assert!(!block.is_null());
        let region = Region::from_parts(block as usize, 48);
        let id = std::thread::spawn(move || pin(region, PinKind::Pinner, Location::caller()))
            .join()
            .unwrap();
        let release = counting_release(&FREED);
        let kept = std::thread::spawn(move || {
            quarantine_if_pinned(region, layout, release, AllocEventKind::FreedWhilePinned)
                .is_some()
        })
        .join()
        .unwrap();
        assert!(kept, "the pin made on another thread is seen");
        assert_eq!(FREED.load(Ordering::SeqCst), 0);
        assert!(freed_while_pinned(region));
        std::thread::spawn(move || unpin(id)).join().unwrap();
        assert_eq!(FREED.load(Ordering::SeqCst), 1, "freed once, at the unpin");
        assert!(!freed_while_pinned(region));
    }

    /// Rule: a free racing the release of the pin that covers its block
    /// either frees the block itself or leaves it to that release, which
    /// then frees it: exactly once, never stranded in quarantine, whichever
    /// of the free's look at the pin's shard and the unpin's critical
    /// section comes first (the lock-ordered pairing of `quarantine_if_pinned`
    /// and `unpin_one`). The pin is made on a third thread, so its shard is
    /// not the freeing or releasing thread's. Counted in rounds, not time.
    #[test]
    fn a_free_racing_the_unpin_of_its_block_frees_it_once() {
        static FREED: AtomicUsize = AtomicUsize::new(0);
        let release = counting_release(&FREED);
        let layout = Layout::from_size_align(64, 8).unwrap();
        let rounds = if cfg!(miri) { 8 } else { 2000 };
        let (mut kept_rounds, mut freed_rounds) = (0, 0);
        let pinner = std::thread::spawn(move || {
            (0..rounds)
                .map(|_| {
                    // SAFETY: the layout's size is not zero.
                    let block = unsafe { std::alloc::alloc(layout) } as usize;
                    assert_ne!(block, 0);
                    let region = Region::from_parts(block, 64);
                    (region, pin(region, PinKind::Pinner, Location::caller()))
                })
                .collect::<Vec<_>>()
        })
        .join()
        .unwrap();
        let start = std::sync::Arc::new(std::sync::Barrier::new(2));
        for (region, id) in pinner {
            let before = FREED.load(Ordering::SeqCst);
            let go = std::sync::Arc::clone(&start);
            let unpinner = std::thread::spawn(move || {
                go.wait();
                unpin(id);
            });
            start.wait();
            let kept =
                quarantine_if_pinned(region, layout, release, AllocEventKind::FreedWhilePinned);
            unpinner.join().unwrap();
            match kept {
                Some(_) => kept_rounds += 1,
                None => {
                    freed_rounds += 1;
                    // SAFETY: not quarantined: the free is the caller's.
                    unsafe { std::alloc::dealloc(region.addr() as *mut u8, layout) };
                    FREED.fetch_add(1, Ordering::SeqCst);
                }
            }
            assert_eq!(
                FREED.load(Ordering::SeqCst),
                before + 1,
                "freed exactly once, by the free or by the release (kept: {})",
                kept.is_some()
            );
        }
        assert_eq!(kept_rounds + freed_rounds, rounds);
    }

    /// Rule: a block freed under a pin is freed once its last pin goes,
    /// never stranded in quarantine, also when that pin is zero-length (it
    /// pins its own address, as `is_pinned` and the allocator's overlap
    /// test have it) and is released in one batch with others: a pinner's
    /// unpin, a call group's release, a published call's release. Each of
    /// those looks only at quarantined blocks within the span of what it
    /// released, and that span must reach the zero-length pin's address
    /// even when nothing else released lies at or past it.
    #[test]
    fn a_block_kept_for_a_zero_length_pin_is_freed_by_a_batch_release() {
        static FREED: AtomicUsize = AtomicUsize::new(0);
        let release = counting_release(&FREED);
        let layout = Layout::from_size_align(48, 8).unwrap();
        // Three ways of releasing two pins at once: a pinner's batch, a
        // call group in a shard, a call published in this thread's record.
        type Pin = fn(Region, Region) -> Box<dyn FnOnce()>;
        let batch: Pin = |below, zero| {
            let site = Location::caller();
            let ids = [
                pin(below, PinKind::Pinner, site),
                pin(zero, PinKind::Pinner, site),
            ];
            Box::new(move || unpin_all(&ids))
        };
        let group: Pin = |below, zero| {
            let id = {
                let s = ThreadNumber::current().0 as usize % SHARDS;
                use_shard(s);
                let mut table = lock_shard(s);
                let id = table.pin_group(
                    &[below, zero],
                    Location::caller(),
                    ThreadNumber::current(),
                    0,
                );
                publish_live(s, &table);
                global_id(s, id)
            };
            Box::new(move || unpin(id))
        };
        let published: Pin = |below, zero| {
            let mut each = PinIds::new();
            let pinned = pin_call(&[below, zero], Location::caller(), &mut each);
            assert!(each.as_slice().is_empty());
            Box::new(move || unpin_call(pinned))
        };
        for (how, pin_two) in [("batch", batch), ("group", group), ("published", published)] {
            // Two blocks: a pin of some bytes of the lower one, and a
            // zero-length pin at the start of the higher one, which is
            // then freed.
            // SAFETY: the layout's size is not zero.
            let blocks = [(); 2].map(|_| unsafe { std::alloc::alloc(layout) } as usize);
            assert!(blocks.iter().all(|&b| b != 0));
            let (lo, hi) = (blocks[0].min(blocks[1]), blocks[0].max(blocks[1]));
            let release_both = pin_two(Region::from_parts(lo, 8), Region::from_parts(hi, 0));
            let before = FREED.load(Ordering::SeqCst);
            let freed_block = Region::from_parts(hi, 48);
            let kept = quarantine_if_pinned(
                freed_block,
                layout,
                release,
                AllocEventKind::FreedWhilePinned,
            );
            assert!(kept.is_some(), "{how}: the zero-length pin keeps its block");
            release_both();
            assert_eq!(
                FREED.load(Ordering::SeqCst),
                before + 1,
                "{how}: the block is freed when its last pin goes"
            );
            assert!(!freed_while_pinned(freed_block));
            // SAFETY: allocated above with this layout, never freed.
            unsafe { std::alloc::dealloc(lo as *mut u8, layout) };
        }
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
            ("quarantine_hints.rs", include_str!("quarantine_hints.rs")),
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
