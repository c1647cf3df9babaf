//! The shared tables of lasting pins, in `SHARDS` shards: each shard's
//! table under its own spin lock with its live count, its mirror of a few
//! pins (whose sequence word is its generation) and lock-free hints beside
//! it; the word saying which shards (and whether
//! any thread's call record) ever held a pin; and `Tables`, several shards
//! locked together in the lock order for questions whose answer may
//! combine pins of several shards. `docs/registry.md` says why the table
//! is sharded by pinning thread and what each operation touches.

use super::fork;
use super::hints::Hints;
use super::lock::{SpinGuard, SpinLock};
use super::mirror::{Mirror, MIRROR_MAX};
use super::slab;
use super::table::{self, Hit, PinId, Table};
use crate::origin::ThreadNumber;
use crate::region::Region;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

/// Bits of a `PinId` naming its shard (the top ones; the rest is the
/// entry's id in that shard's slab, `slab::ID_BITS`).
pub(super) const SHARD_BITS: u32 = 3;
/// Shared tables, each under its own lock. A thread pins into shard
/// `thread number % SHARDS`: threads numbered one after the other (as a
/// program's workers are) never share a lock until there are more than
/// `SHARDS` of them pinning at once. Eight keeps the readers' walk over
/// the shards' live counts short (eight loads, each shard on its own line).
pub(super) const SHARDS: usize = 1 << SHARD_BITS;
const _: () = assert!(SHARD_BITS + slab::ID_BITS == 32);

/// One shared table, its lock and its live count on their own cache line:
/// a thread pinning and unpinning into its shard writes no line another
/// pinning thread writes.
#[repr(align(128))]
pub(super) struct Shard {
    pub(super) table: SpinLock<Table>,
    /// Live entries in `table`, stored under its lock (Release) after
    /// every change: readers skip a shard whose count is 0 without its lock.
    live: AtomicUsize,
    /// The table's pins while they are few, for point questions without
    /// the lock (`mirror`). Its sequence word is the shard's generation:
    /// it moves under the lock on every pin and unpin (`ShardChange`), and
    /// a checker's sorted copy of the shard's pins (`snapshot`) is current
    /// while it has not. Per shard, so that pinning threads never write one
    /// shared counter.
    mirror: Mirror,
}

/// Each shard's lock-free hints (see `hints`): its own set, written only
/// under its lock, so a set never has two writers and pinning threads in
/// different shards write no hint in common. 1.5 MiB each of zeroed
/// statics, touched only where pins are filed.
pub(super) static SHARD_HINTS: [Hints; SHARDS] = [const { Hints::new(false) }; SHARDS];

pub(super) const fn shard(s: usize) -> Shard {
    Shard {
        table: SpinLock::new(Table::new(&SHARD_HINTS[s])),
        live: AtomicUsize::new(0),
        mirror: Mirror::new(),
    }
}

pub(super) static SHARD_TABLES: [Shard; SHARDS] = [
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
pub(super) static SHARDS_IN_USE: AtomicU32 = AtomicU32::new(0);
pub(super) const SHARD_BITS_MASK: u32 = (1 << SHARDS) - 1;
pub(super) const CALL_RECORDS_BIT: u32 = 1 << 31;

/// Which hints a free must ask, in the one word the allocator reads first:
/// `NO_PIN_YET`, then `s + 1` while shard `s` is the only shard that ever
/// held a pin and no thread ever claimed a call record (the usual case, one
/// thread's lasting pins: the free asks that shard's hints and nothing
/// else), then `SEVERAL` (the free reads `SHARDS_IN_USE`). It only moves
/// forward, by compare-and-swap on its own value (`note_sole`), so two
/// threads first using two shards at once leave `SEVERAL` in either order.
/// Changed before the `SHARDS_IN_USE` bit it accompanies is set, and that
/// bit is read with Acquire by every thread that finds it set: a pin that
/// happens-before a free comes after the change, and the free sees it.
static SOLE_SHARD: AtomicU32 = AtomicU32::new(NO_PIN_YET);
const NO_PIN_YET: u32 = 0;
const SEVERAL: u32 = u32::MAX;

/// Moves `SOLE_SHARD` forward for `next` (a shard's `s + 1`, or `SEVERAL`).
#[cold]
fn note_sole(next: u32) {
    let mut now = SOLE_SHARD.load(Ordering::Acquire);
    loop {
        let wanted = match now {
            NO_PIN_YET => next,
            _ if now == next => return,
            _ => SEVERAL,
        };
        match SOLE_SHARD.compare_exchange_weak(now, wanted, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return,
            Err(seen) => now = seen,
        }
    }
}

/// Where the pins a free must look for may be (see `SOLE_SHARD`).
pub(super) enum PinPlaces {
    /// Nowhere: no pin was ever made.
    None,
    /// Only in these hints' shard: no other shard ever held a pin and no
    /// thread ever published call pins.
    Sole(&'static Hints),
    /// Several shards, or call records: read `SHARDS_IN_USE`.
    Several,
}

/// One load: where pins may be (see `PinPlaces`).
#[inline(always)]
pub(super) fn pin_places() -> PinPlaces {
    let sole = SOLE_SHARD.load(Ordering::Acquire);
    if sole == NO_PIN_YET {
        return PinPlaces::None;
    }
    // Indexed, not `get`: a reference to the whole array would cost Miri a
    // walk of every shard's atomics (see `hints::HINT_BITS`).
    let s = sole.wrapping_sub(1) as usize;
    match s < SHARDS {
        true => PinPlaces::Sole(&SHARD_HINTS[s]),
        false => PinPlaces::Several,
    }
}

/// Told by `calls` when a thread claims a record, before it publishes
/// anything there: a pin published there happens-after this store, so a
/// reader that must see the pin sees the bit (and `SOLE_SHARD` no longer
/// names one shard).
pub(super) fn note_call_record_claimed() {
    if SHARDS_IN_USE.load(Ordering::Acquire) & CALL_RECORDS_BIT == 0 {
        note_sole(SEVERAL);
        SHARDS_IN_USE.fetch_or(CALL_RECORDS_BIT, Ordering::Release);
    }
}

/// The shards that have ever held a pin, as bits.
#[inline]
pub(super) fn shards_in_use() -> u32 {
    SHARDS_IN_USE.load(Ordering::Acquire) & SHARD_BITS_MASK
}

/// Takes shard `s`'s lock, installing the fork handlers on first use (see
/// `fork`): every critical section on a shard starts here (a change of its
/// pins through `change_shard`).
#[inline]
pub(super) fn lock_shard(s: usize) -> SpinGuard<'static, Table> {
    fork::install_handlers();
    lock_shard_of_a_pinner(s)
}

/// `lock_shard` for a thread that has made a lasting pin before
/// (`pinning_thread` installed the fork handlers on its first one) or that
/// holds a handle such a pin returned: the handlers are in place, and the
/// pin and unpin paths skip the check.
#[inline]
fn lock_shard_of_a_pinner(s: usize) -> SpinGuard<'static, Table> {
    #[cfg(test)]
    super::tests::SHARD_LOCKS_TAKEN_HERE.with(|taken| taken[s].set(taken[s].get() + 1));
    SHARD_TABLES[s].table.lock()
}

/// A change of shard `s`'s pins under way: the shard's lock held and its
/// mirror's word made odd (`Mirror::begin_change`, before the table
/// changes). Dropping it ends the change: the mirror and the live count are
/// published (`Mirror::publish`), then the lock is released. Every change
/// of a shard's pins is made through one (`change_shard`), so none can
/// forget its publication, and an unwind out of a change publishes too
/// (the word used to stay odd, sending every lock-free reader to the lock
/// for good).
pub(super) struct ShardChange {
    s: usize,
    // Dropped after `drop` has published: the lock goes last.
    table: SpinGuard<'static, Table>,
}

impl ShardChange {
    /// Begins a change of shard `s`, whose lock `table` holds (taken for a
    /// question first, whose answer decided that a change is due). A guard
    /// of another shard's lock would make two lock holders write one
    /// mirror: the callers pass `lock_shard(s)`'s, and debug builds check.
    #[inline]
    pub(super) fn begin(s: usize, table: SpinGuard<'static, Table>) -> ShardChange {
        debug_assert!(
            table.holds(&SHARD_TABLES[s].table),
            "a ShardChange of shard {s} begun with another shard's lock"
        );
        SHARD_TABLES[s].mirror.begin_change();
        ShardChange { s, table }
    }
}

impl core::ops::Deref for ShardChange {
    type Target = Table;
    #[inline]
    fn deref(&self) -> &Table {
        &self.table
    }
}

impl core::ops::DerefMut for ShardChange {
    #[inline]
    fn deref_mut(&mut self) -> &mut Table {
        &mut self.table
    }
}

impl Drop for ShardChange {
    #[inline]
    fn drop(&mut self) {
        let shard = &SHARD_TABLES[self.s];
        // Written only under the shard's lock: loads and stores, no
        // read-modify-write.
        shard.mirror.publish(self.table.few_pins(MIRROR_MAX));
        shard
            .live
            .store(self.table.live_entries(), Ordering::Release);
    }
}

/// Shard `s`'s mirror, for tests that read its word under the lock.
#[cfg(test)]
pub(super) fn mirror_of(s: usize) -> &'static Mirror {
    &SHARD_TABLES[s].mirror
}

/// Begins a change of shard `s`'s pins (see `ShardChange`), taking its
/// lock as `lock_shard` does.
#[inline]
pub(super) fn change_shard(s: usize) -> ShardChange {
    ShardChange::begin(s, lock_shard(s))
}

/// `change_shard` for a thread that has made a lasting pin before, as
/// `lock_shard_of_a_pinner` is.
#[inline]
pub(super) fn change_shard_of_a_pinner(s: usize) -> ShardChange {
    ShardChange::begin(s, lock_shard_of_a_pinner(s))
}

/// The handle of entry `local` of shard `s`.
#[inline]
pub(super) fn global_id(s: usize, local: PinId) -> PinId {
    PinId(((s as u32) << slab::ID_BITS) | local.0)
}

/// The shard of a handle, and its entry's id there.
#[inline]
pub(super) fn split_id(id: PinId) -> (usize, PinId) {
    (
        (id.0 >> slab::ID_BITS) as usize,
        PinId(id.0 & ((1 << slab::ID_BITS) - 1)),
    )
}

/// Whether any shard holds a pin (call pins published per thread are not
/// counted: see [`calls::any_published`]).
#[inline]
pub(super) fn shared_pins() -> bool {
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

/// When exactly one shard has ever held a pin (one thread's lasting pins,
/// the usual program), that shard and its generation as of now, read
/// without its lock; else `None`. A pin that happens-before the call has
/// set its shard's bit and moved its generation before that (both read
/// with Acquire here), so equal to a generation read under the lock means
/// the same pins as then: what lets the checker reuse its sorted copy of
/// them without locking (`snapshot::settled_without_locks`).
#[inline]
pub(super) fn sole_shard_generation() -> Option<(usize, u64)> {
    let used = shards_in_use();
    if !used.is_power_of_two() {
        return None;
    }
    let s = used.trailing_zeros() as usize % SHARDS;
    Some((s, SHARD_TABLES[s].mirror.generation_now()))
}

/// Whether a shard's mirror shows a pin covering `addr`, asked of every
/// shard holding pins, without any lock: `Ok(())` when one does, else
/// `Err` with the shards whose mirrors could not say (they hold more pins
/// than a mirror does, or were changing): `shards_cover_point` asks those.
/// Small and inlined: `is_pinned`'s answer for a pinned address, most of
/// the time.
#[inline]
pub(super) fn mirrors_cover_point(addr: usize) -> Result<(), u32> {
    let mut used = shards_in_use();
    let mut undecided = 0;
    while used != 0 {
        let s = used.trailing_zeros() as usize % SHARDS;
        used &= used - 1;
        let shard = &SHARD_TABLES[s];
        if shard.live.load(Ordering::Acquire) == 0 {
            continue;
        }
        match shard.mirror.covers_point(addr) {
            Some(true) => return Ok(()),
            Some(false) => {}
            None => undecided |= 1 << s,
        }
    }
    Err(undecided)
}

/// Whether a pin of one of the shards in `shards` covers `addr`: each
/// asked, when its hints do not rule `addr` out, under its lock, one at a
/// time, as one pin answers a point question (no pin spans two shards).
pub(super) fn shards_cover_point(addr: usize, mut shards: u32) -> bool {
    while shards != 0 {
        let s = shards.trailing_zeros() as usize % SHARDS;
        shards &= shards - 1;
        if SHARD_HINTS[s].may_cover(addr) && lock_shard(s).covers_point(addr) {
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
pub(super) fn any_live_hints(hinted: impl FnMut(&'static Hints) -> bool) -> bool {
    any_live_hints_in(shards_in_use(), hinted)
}

/// `any_live_hints` over the shards of `used`.
#[inline]
pub(super) fn any_live_hints_in(
    mut used: u32,
    mut hinted: impl FnMut(&'static Hints) -> bool,
) -> bool {
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
pub(super) struct Tables {
    guards: [Option<SpinGuard<'static, Table>>; SHARDS],
}

impl Tables {
    /// The shards holding pins now (their live counts, read without their
    /// locks, say which). A shard whose count reads 0 holds no pin that
    /// happened before this call; one pinned concurrently is the caller's
    /// own race with that pin, as it was when one lock decided it.
    pub(super) fn lock_live() -> Tables {
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
    pub(super) fn lock_all() -> Tables {
        Tables {
            guards: core::array::from_fn(|s| Some(lock_shard(s))),
        }
    }

    pub(super) fn each(&self) -> impl Iterator<Item = (usize, &Table)> {
        self.guards
            .iter()
            .enumerate()
            .filter_map(|(s, g)| g.as_deref().map(|t| (s, t)))
    }

    /// The entry behind a hit these tables returned.
    pub(super) fn entry(&self, id: PinId) -> &table::Entry {
        let (s, local) = split_id(id);
        match &self.guards[s] {
            Some(t) => t.entry(local),
            // Hits come from locked shards only.
            None => unreachable!("a hit from a shard that is not locked"),
        }
    }

    #[inline]
    pub(super) fn find_covering(&self, addr: usize, f: impl FnMut(Hit) -> bool) -> bool {
        self.find_covering_at_least(addr, 0, f)
    }

    pub(super) fn find_covering_at_least(
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

    pub(super) fn covers_point(&self, addr: usize) -> bool {
        self.each().any(|(_, t)| t.covers_point(addr))
    }

    pub(super) fn count_at(&self, addr: usize) -> usize {
        self.each().map(|(_, t)| t.count_at(addr)).sum()
    }

    pub(super) fn covered_until(&self, addr: usize) -> Option<usize> {
        self.each().filter_map(|(_, t)| t.covered_until(addr)).max()
    }

    pub(super) fn overlapping(&self, block: Region) -> Option<Hit> {
        self.each().find_map(|(s, t)| {
            t.overlapping(block).map(|hit| Hit {
                id: global_id(s, hit.id),
                ..hit
            })
        })
    }

    pub(super) fn for_each_live(&self, mut f: impl FnMut(Region, u32, &table::Entry)) {
        for (_, t) in self.each() {
            t.for_each_live(&mut f);
        }
    }

    pub(super) fn live_regions(&self) -> usize {
        self.each().map(|(_, t)| t.live_regions()).sum()
    }

    /// Live entries of the locked shards.
    pub(super) fn live_entries(&self) -> usize {
        self.each().map(|(_, t)| t.live_entries()).sum()
    }

    /// What the locked shards' pins are as of now: each locked shard's
    /// generation (read under its lock, where it is written), and
    /// `u64::MAX` (never a generation a shard reaches) for a shard not
    /// locked, which held no pin when these were locked. Equal keys mean
    /// equal pins.
    pub(super) fn generations(&self) -> [u64; SHARDS] {
        core::array::from_fn(|s| match self.guards[s] {
            Some(_) => SHARD_TABLES[s].mirror.generation(),
            None => u64::MAX,
        })
    }
}

/// Whether some `PinAwareAlloc` serves frees in this process: set by the
/// allocator (`note_guarded_frees`), read when the shared table decides at
/// its first pin whether to keep the lock-free hints its frees consult.
pub(super) static GUARDED_FREES: AtomicBool = AtomicBool::new(false);

/// Told by the pin-aware allocator at its first allocation: frees are
/// guarded from now on, so lock-free hints are worth keeping.
pub(crate) fn note_guarded_frees() {
    GUARDED_FREES.store(true, Ordering::Relaxed);
}

std::thread_local! {
    /// The calling thread's number once it has done what its first lasting
    /// pin needs (`first_pin_on_this_thread`), else 0. A `const`
    /// thread-local without a destructor: read from inside the allocator
    /// too, it never registers anything or allocates.
    static PINNING_THREAD: core::cell::Cell<u32> = const { core::cell::Cell::new(0) };
}

/// The calling thread's number, for a pin into its shard: one thread-local
/// load once the thread has pinned before. The first time it registers the
/// thread (its stack's bounds, for `memory`), numbers it and marks its
/// shard in use (`use_shard`): a thread's shard never changes and the bit
/// is never cleared, so once per thread is enough.
#[inline]
pub(super) fn pinning_thread() -> ThreadNumber {
    match PINNING_THREAD.with(core::cell::Cell::get) {
        0 => first_pin_on_this_thread(),
        n => ThreadNumber(n),
    }
}

#[cold]
fn first_pin_on_this_thread() -> ThreadNumber {
    // Before this thread's first lock (see `lock_shard_of_a_pinner`).
    fork::install_handlers();
    crate::memory::register_thread();
    let thread = ThreadNumber::current();
    use_shard(thread.0 as usize % SHARDS);
    PINNING_THREAD.with(|t| t.set(thread.0));
    thread
}

/// Marks shard `s` as in use before its first pin (see `SHARDS_IN_USE` and
/// `SOLE_SHARD`): one load once it is. Acquire, so that a thread finding
/// the bit set by another also comes after that thread's `SOLE_SHARD`
/// change (see there).
#[inline]
pub(super) fn use_shard(s: usize) {
    let bit = 1u32 << s;
    if SHARDS_IN_USE.load(Ordering::Acquire) & bit == 0 {
        note_sole(s as u32 + 1);
        SHARDS_IN_USE.fetch_or(bit, Ordering::Release);
    }
}
