//! The quarantine: heap blocks freed or moved while a pin overlapped
//! them, kept allocated (out of their allocator's reach) until no pin
//! overlaps them, then handed back to the allocator they came from, once.
//! Its own lock (`QUARANTINE`, taken before any shard's), its lock-free
//! count and summary (`quarantine_hints`), the allocator's one question
//! and action (`quarantine_if_pinned`), and the releases that free what no
//! pin covers any more. `docs/registry.md`, "Memory ordering", says why a
//! free and an unpin racing over one block free it once.

use super::events::{AllocEvent, AllocEventKind, EventLog, RECENT_EVENTS};
use super::lock::{SpinGuard, SpinLock};
use super::shards::{change_shard, lock_shard, shared_pins, split_id, ShardChange, Tables, SHARDS};
use super::table::{PinId, Quarantined};
use super::{calls, fork, may_overlap_pin, overlapping_pin, quarantine_hints};
use crate::origin::ThreadNumber;
use crate::region::Region;
use allocator_api2::vec::Vec as SysVec;
use core::alloc::Layout;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::alloc::System;

/// Blocks freed or moved while pinned, and what the allocator did with
/// them: one home for every shard, under its own lock (taken before any
/// shard's).
pub(super) struct Quarantine {
    /// Sorted by address (they are distinct live allocations, so they never
    /// overlap): a release looks only at the blocks near what it released.
    quarantine: SysVec<Quarantined, System>,
    quarantined_bytes: usize,
    events: EventLog,
}

pub(super) static QUARANTINE: SpinLock<Quarantine> = SpinLock::new(Quarantine {
    quarantine: SysVec::new_in(System),
    quarantined_bytes: 0,
    events: EventLog::new(),
});

/// Takes the quarantine's lock (fork handlers installed first, as for a
/// shard's).
#[inline]
pub(super) fn locked() -> SpinGuard<'static, Quarantine> {
    fork::install_handlers();
    QUARANTINE.lock()
}

/// Blocks in the quarantine, mirrored (stored under its lock) so that a
/// released pin can tell without that lock whether anything may wait for
/// it. A released call pin reads it after its release's `SeqCst` fence
/// (see `calls`, "Against the allocator"); an unpin from a shard reads it
/// inside the shard's critical section (see `quarantine_if_pinned`).
pub(super) static QUARANTINED_BLOCKS: AtomicUsize = AtomicUsize::new(0);

pub(super) fn publish_quarantined(q: &Quarantine) {
    QUARANTINED_BLOCKS.store(q.quarantine.len(), Ordering::Relaxed);
}

/// The quarantine's lock, and its blocks within `released` freed unless a
/// pin still overlaps them; nothing at all when the quarantine's lock-free
/// summary says no quarantined block is within `released` (then a release
/// beside 10 000 quarantined blocks costs a few loads: `quarantine_hints`).
/// Called after the release was made visible (a shard's critical section,
/// or a call record's release fence) and the quarantine count read non-zero.
pub(super) fn release_if_quarantined(released: Region) {
    if !quarantine_hints::may_hold(released) {
        return;
    }
    QUARANTINE_LOOKUPS.fetch_add(1, Ordering::Relaxed);
    let q = locked();
    if !q.quarantine.is_empty() {
        release_quarantine(q, released);
    }
}

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
        let table = lock_shard(s);
        if QUARANTINED_BLOCKS.load(Ordering::Relaxed) == 0 {
            // In the critical section that read the count.
            ShardChange::begin(s, table).unpin(local);
            return false;
        }
    }
    let q = locked();
    let freed = !region.is_empty() && holds_freed(&q, region);
    let released = change_shard(s).unpin(local);
    if let Some(released) = released {
        if !q.quarantine.is_empty() && quarantine_hints::may_hold(released) {
            release_quarantine(q, released);
        }
    }
    freed
}

pub(super) fn holds_freed(q: &Quarantine, region: Region) -> bool {
    let window = quarantine_window(&q.quarantine, region);
    q.quarantine[window]
        .iter()
        .any(|q| q.freed && Region::from_parts(q.addr, q.layout.size()).overlaps(&region))
}

/// The indices of the (sorted, disjoint) quarantined blocks that may
/// overlap `region`: a zero-length region stands for its own address.
pub(super) fn quarantine_window(
    quarantine: &[Quarantined],
    region: Region,
) -> core::ops::Range<usize> {
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
pub(super) static FREES_LOOKED_UP: AtomicUsize = AtomicUsize::new(0);

/// How many frees (or moves) through `PinAwareAlloc` took the registry's
/// lock to ask whether a pin overlaps the block, since the process started
/// (work, for regression tests; not public API).
pub fn frees_looked_up_under_lock() -> usize {
    FREES_LOOKED_UP.load(Ordering::Relaxed)
}

/// How many releases looked for quarantined blocks to free (took the lock
/// for it, or searched the quarantine under it): counted for the
/// regression test of "a release far from every quarantined block".
pub(super) static QUARANTINE_LOOKUPS: AtomicUsize = AtomicUsize::new(0);

/// How many releases of pins looked for quarantined blocks to free since
/// the process started (work, for regression tests; not public API).
pub fn quarantine_lookups() -> usize {
    QUARANTINE_LOOKUPS.load(Ordering::Relaxed)
}

/// How many quarantined blocks releases have looked at, in all: the
/// regression tests of the "scan the whole quarantine" cliff count this
/// work instead of timing it.
pub(super) static QUARANTINE_EXAMINED: AtomicUsize = AtomicUsize::new(0);

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
pub(super) fn release_quarantine(mut reg: SpinGuard<'_, Quarantine>, released: Region) {
    pub(super) const BATCH: usize = 16;
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

#[cfg(test)]
mod tests {
    use super::super::shards::{global_id, use_shard};
    use super::super::{pin, pin_call, unpin, unpin_all, unpin_call, PinIds};
    use super::*;
    use crate::origin::PinKind;
    use core::panic::Location;

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
        let id = std::thread::spawn(move || pin(region, PinKind::Pinner, Location::caller(), 0))
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
        // Up to 2000 pins live at once.
        let _size = super::super::tests::table_size_matters();
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
                    (region, pin(region, PinKind::Pinner, Location::caller(), 0))
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
                pin(below, PinKind::Pinner, site, 0),
                pin(zero, PinKind::Pinner, site, 0),
            ];
            Box::new(move || unpin_all(&ids))
        };
        let group: Pin = |below, zero| {
            let id = {
                let s = ThreadNumber::current().0 as usize % SHARDS;
                use_shard(s);
                let id = change_shard(s).pin_group(
                    &[below, zero],
                    Location::caller(),
                    ThreadNumber::current(),
                    0,
                );
                global_id(s, id)
            };
            Box::new(move || unpin(id))
        };
        let published: Pin = |below, zero| {
            let mut each = PinIds::new();
            let pinned = pin_call(&[below, zero], Location::caller(), 0, &mut each);
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
}
