//! Call pins published per thread, as hazard pointers are.
//!
//! A `#[pointer_escapes]` call's pins exist for one call, made and released
//! on the calling thread (an `async fn`'s guard may be released elsewhere:
//! see "Release" below). Other threads only need to *see* them. So each
//! thread owns a `Record` in a static array: a small stack of published
//! regions that only its owner writes, and that every reader (queries, the
//! allocator's `dealloc`, the report) scans. Publishing or releasing a
//! call's pins is a handful of plain stores to the thread's own cache line
//! and one fence: no lock, no read-modify-write, nothing shared written.
//!
//! # Consistency for readers
//! A record's `state` word packs a sequence count (high half, odd while the
//! owner rewrites slots) and the published length (low half). The owner
//! bumps the count to odd, writes the new slots, then stores the even count
//! with the new length (Release); a reader loads the word (Acquire), copies
//! the slots below the length, fences (Acquire) and loads the word again: a
//! different word means the copy may be torn, and it retries (a seqlock).
//! Lowering the length changes the word too. The owner never waits.
//!
//! # Release
//! A call's token names its record and slots. Released by the owner with
//! its slots on top of the stack (the usual, nested case): one store of the
//! lower length. Otherwise (released out of order, or on another thread, as
//! an `async fn`'s future may be) the holder clears each slot's `live`
//! flag: the token is the only handle to those slots, so no two threads
//! ever write one slot at once, and the owner pops cleared slots off the
//! top the next time it publishes.
//!
//! # Against the allocator (the memory-ordering argument)
//! A `dealloc` on thread B of a block a call on thread A has pinned must
//! either see the pin and quarantine the block, or the pin's release must
//! see the quarantined block and free it; a block must never be stranded.
//! As with hazard pointers, both sides store, fence with `SeqCst`, then
//! load what the other stored:
//!
//! - A, releasing: stores the lower length (or clears `live`), `fence(SeqCst)`,
//!   then loads `QUARANTINED_BLOCKS` (`quarantine_pending`).
//! - B, under the registry lock: inserts the block into the quarantine and
//!   stores the new count, `fence(SeqCst)`, then scans every record.
//!
//! The two fences are ordered one way or the other in the single total
//! order of `SeqCst` fences. If A's is first, B's scan sees the release
//! and frees the block; if B's is first, A sees a non-zero count and takes
//! the lock (after B drops it) to free what no pin covers any more. Both may
//! happen; neither is missed. Publishing likewise ends with `fence(SeqCst)`:
//! a `dealloc` whose fence comes later sees the pin; one whose fence came
//! earlier decided before the pin existed, which is the program's own race
//! (freeing memory it is passing to C at the same moment), exactly as the
//! lock's order decided it before.
//!
//! # Threads
//! A thread claims a free record on its first call (one compare-exchange,
//! once) and gives it back from a thread-local destructor when it exits.
//! Records live in static memory and are never freed, so a reader may scan
//! one while its thread exits. A record whose slots are still held when its
//! thread exits (a leaked guard, a future moved to another thread) is never
//! reused: the holder may still clear them. A thread that finds no free
//! record, or calls while its thread-locals are being destroyed, or makes a
//! call with more regions than a record holds, pins in the shared table
//! instead: correct, only slower.
//!
//! Nothing here allocates or takes a lock.

use crate::origin::{Site, ThreadNumber};
use crate::region::Region;
use core::cell::Cell;
use core::mem::MaybeUninit;
use core::panic::Location;
use core::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};

/// Regions one thread can have published at once (nested calls together).
pub(crate) const RECORD_SLOTS: usize = if cfg!(miri) { 8 } else { 32 };
/// Threads with a record at once; later ones use the shared table.
const MAX_RECORDS: usize = if cfg!(miri) { 8 } else { 256 };

/// One published region.
struct Slot {
    start: AtomicUsize,
    len: AtomicUsize,
    site: AtomicPtr<Location<'static>>,
    born_ms: AtomicU32,
    /// Cleared by the token's holder when it releases the slot other than
    /// by lowering the length (see "Release").
    live: AtomicBool,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            site: AtomicPtr::new(core::ptr::null_mut()),
            born_ms: AtomicU32::new(0),
            live: AtomicBool::new(false),
        }
    }
}

const FREE: u8 = 0;
const OWNED: u8 = 1;
/// Its thread exited while some slot was held: reused once the holders
/// have released every slot (`reclaim_if_abandoned`).
const ABANDONED: u8 = 2;
/// A releaser is checking whether an abandoned record is empty now.
const RECLAIMING: u8 = 3;

/// One thread's published call pins. Aligned so that two threads' records
/// never share a cache line.
#[repr(align(128))]
struct Record {
    /// Sequence count (high 32 bits; odd while slots change) and published
    /// length (low 32 bits).
    state: AtomicU64,
    owner: AtomicU8,
    /// The owner's `ThreadNumber`, for the report.
    thread: AtomicU32,
    slots: [Slot; RECORD_SLOTS],
}

impl Record {
    const fn new() -> Record {
        Record {
            state: AtomicU64::new(0),
            owner: AtomicU8::new(FREE),
            thread: AtomicU32::new(0),
            slots: [const { Slot::new() }; RECORD_SLOTS],
        }
    }
}

#[inline]
fn split(word: u64) -> (u32, usize) {
    ((word >> 32) as u32, (word & 0xffff_ffff) as usize)
}

#[inline]
fn join(seq: u32, len: usize) -> u64 {
    (seq as u64) << 32 | len as u64
}

static RECORDS: [Record; MAX_RECORDS] = [const { Record::new() }; MAX_RECORDS];
/// Records at or past this index were never claimed: readers stop here.
static USED: AtomicUsize = AtomicUsize::new(0);

/// `MY_RECORD` values besides `index + 1`.
const UNCLAIMED: u32 = 0;
const NO_RECORD: u32 = u32::MAX;

thread_local! {
    // `const` initialiser and no destructor: readable in any TLS destructor.
    static MY_RECORD: Cell<u32> = const { Cell::new(UNCLAIMED) };
    // Its destructor gives the record back when the thread exits.
    static RECORD_GUARD: RecordGuard = const { RecordGuard };
}

struct RecordGuard;

impl Drop for RecordGuard {
    fn drop(&mut self) {
        let mine = MY_RECORD.with(|m| m.replace(NO_RECORD));
        if mine != UNCLAIMED && mine != NO_RECORD {
            give_back(mine as usize - 1);
        }
    }
}

/// The thread is done with record `i`: free it for another thread unless
/// some slot is still held. Marked abandoned first and checked after the
/// fence, as a releaser on another thread clears its slot, fences and then
/// looks at the owner: one of the two sees the other and frees it.
fn give_back(i: usize) {
    let rec = &RECORDS[i];
    rec.owner.store(ABANDONED, Ordering::Release);
    fence(Ordering::SeqCst);
    reclaim_if_abandoned(rec);
}

/// `len` less the released slots on top of the stack.
#[inline]
fn live_len(rec: &Record, mut len: usize) -> usize {
    while len > 0 && !rec.slots[len - 1].live.load(Ordering::Acquire) {
        len -= 1;
    }
    len
}

/// The calling thread's record, claiming one on first use.
#[inline]
fn my_record() -> Option<usize> {
    match MY_RECORD.try_with(Cell::get) {
        Ok(UNCLAIMED) => claim(),
        Ok(NO_RECORD) | Err(_) => None,
        Ok(i) => Some(i as usize - 1),
    }
}

#[cold]
fn claim() -> Option<usize> {
    // Marked first: a thread tries once.
    MY_RECORD.with(|m| m.set(NO_RECORD));
    // A thread whose thread-locals are being destroyed cannot register the
    // guard's destructor; it is exiting, so it uses the shared table.
    if RECORD_GUARD.try_with(|_| ()).is_err() {
        return None;
    }
    let thread = ThreadNumber::current().0;
    for (i, rec) in RECORDS.iter().enumerate() {
        if rec
            .owner
            .compare_exchange(FREE, OWNED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            rec.thread.store(thread, Ordering::Relaxed);
            USED.fetch_max(i + 1, Ordering::Release);
            super::note_call_record_claimed();
            MY_RECORD.with(|m| m.set(i as u32 + 1));
            return Some(i);
        }
    }
    None
}

/// A published call's slots: what releases them.
#[derive(Debug)]
pub(crate) struct CallToken {
    record: u32,
    base: u32,
    count: u32,
}

/// Publishes `regions` (at least one) as this thread's call pins, or
/// returns `None` when they must go to the shared table instead (no
/// record, or not enough free slots).
#[inline]
pub(crate) fn publish(regions: &[Region], site: Site, born_ms: u32) -> Option<CallToken> {
    let r = my_record()?;
    let rec = &RECORDS[r];
    // Only this thread writes `state`: a plain load sees its own last store.
    let (seq, len) = split(rec.state.load(Ordering::Relaxed));
    let base = live_len(rec, len);
    let k = regions.len();
    if k == 0 || k > RECORD_SLOTS - base {
        return None;
    }
    rec.state
        .store(join(seq.wrapping_add(1), base), Ordering::Relaxed);
    // Orders the odd count before the slot stores, for readers that see
    // any of them (the seqlock's writer side).
    fence(Ordering::Release);
    for (slot, region) in rec.slots[base..base + k].iter().zip(regions) {
        slot.start.store(region.addr(), Ordering::Relaxed);
        slot.len.store(region.len(), Ordering::Relaxed);
        slot.site.store(
            site as *const Location<'static> as *mut _,
            Ordering::Relaxed,
        );
        slot.born_ms.store(born_ms, Ordering::Relaxed);
        slot.live.store(true, Ordering::Relaxed);
    }
    rec.state
        .store(join(seq.wrapping_add(2), base + k), Ordering::Release);
    // Hazard-pointer fence: a `dealloc` whose own fence follows this one
    // sees the pins (module docs).
    fence(Ordering::SeqCst);
    Some(CallToken {
        record: r as u32,
        base: base as u32,
        count: k as u32,
    })
}

/// Releases a published call's pins and returns the smallest region holding
/// them all (what the quarantine may now let go of). Ends with the fence
/// that pairs with the allocator's (module docs): the caller may then read
/// whether anything is quarantined.
pub(crate) fn release(token: CallToken) -> Region {
    let rec = &RECORDS[token.record as usize];
    let (base, end) = (token.base as usize, (token.base + token.count) as usize);
    let mut span = super::table::Span::default();
    for slot in &rec.slots[base..end] {
        span.add(Region::from_parts(
            slot.start.load(Ordering::Relaxed),
            slot.len.load(Ordering::Relaxed),
        ));
    }
    let own = MY_RECORD.try_with(Cell::get).ok() == Some(token.record + 1);
    let (seq, len) = split(rec.state.load(Ordering::Relaxed));
    if own && len == end {
        // The usual case: the newest call on its own thread. One store.
        let len = live_len(rec, base);
        rec.state.store(join(seq, len), Ordering::Release);
    } else {
        for slot in &rec.slots[base..end] {
            slot.live.store(false, Ordering::Release);
        }
        fence(Ordering::SeqCst);
        reclaim_if_abandoned(rec);
        return span.region();
    }
    fence(Ordering::SeqCst);
    span.region()
}

/// Frees `rec` for another thread if its thread has exited and no slot is
/// held any more. The releaser that moves it to `RECLAIMING` writes its
/// `state` (its owner is gone, so nobody else does); a releaser arriving
/// meanwhile waits and looks again, so the last release always frees it.
#[cold]
fn reclaim_if_abandoned(rec: &Record) {
    let mut spins = 0u32;
    loop {
        match rec.owner.compare_exchange(
            ABANDONED,
            RECLAIMING,
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            Ok(_) => {
                let (seq, len) = split(rec.state.load(Ordering::Relaxed));
                let len = live_len(rec, len);
                rec.state.store(join(seq, len), Ordering::Release);
                let next = if len == 0 { FREE } else { ABANDONED };
                rec.owner.store(next, Ordering::Release);
                return;
            }
            Err(RECLAIMING) if spins < 64 => {
                spins += 1;
                core::hint::spin_loop();
            }
            Err(RECLAIMING) => std::thread::yield_now(),
            Err(_) => return,
        }
    }
}

/// A published call pin, as a reader copied it.
#[derive(Clone, Copy)]
pub(crate) struct Published {
    pub(crate) region: Region,
    pub(crate) site: Site,
    pub(crate) born_ms: u32,
    pub(crate) thread: ThreadNumber,
}

/// Calls `f` with every published call pin, each record copied
/// consistently (see "Consistency for readers"), until `f` returns true;
/// returns whether it did. Never waits for a lock; retries a record its
/// owner is rewriting.
pub(crate) fn find(mut f: impl FnMut(&Published) -> bool) -> bool {
    let used = USED.load(Ordering::Acquire);
    // Not zeroed first: a query must not pay a kilobyte of stores.
    let mut copy = [const { MaybeUninit::<Copied>::uninit() }; RECORD_SLOTS];
    for rec in &RECORDS[..used] {
        let n = match snapshot(rec, &mut copy) {
            0 => continue,
            n => n,
        };
        let thread = ThreadNumber(rec.thread.load(Ordering::Relaxed));
        for copied in &copy[..n] {
            // SAFETY: `snapshot` wrote the first `n` elements.
            let (start, len, site, born_ms) = unsafe { copied.assume_init() };
            if site.is_null() {
                continue; // released (see `snapshot`)
            }
            // SAFETY: every non-null value stored in a slot's `site` is a
            // `&'static Location` (`publish`), and one atomic load reads a
            // whole pointer.
            let site: Site = unsafe { &*site };
            let p = Published {
                region: Region::from_parts(start, len),
                site,
                born_ms,
                thread,
            };
            if f(&p) {
                return true;
            }
        }
    }
    false
}

type Copied = (usize, usize, *mut Location<'static>, u32);

/// Copies `rec`'s published slots into `out` and returns how many (the
/// first that many elements of `out` are then initialised); a slot whose
/// `live` flag is clear gets a null site.
fn snapshot(rec: &Record, out: &mut [MaybeUninit<Copied>; RECORD_SLOTS]) -> usize {
    let mut spins = 0u32;
    loop {
        let before = rec.state.load(Ordering::Acquire);
        let (seq, len) = split(before);
        if len == 0 {
            return 0;
        }
        if seq % 2 == 0 {
            let len = len.min(RECORD_SLOTS);
            for (o, slot) in out.iter_mut().zip(&rec.slots[..len]) {
                let live = slot.live.load(Ordering::Acquire);
                o.write((
                    slot.start.load(Ordering::Relaxed),
                    slot.len.load(Ordering::Relaxed),
                    if live {
                        slot.site.load(Ordering::Relaxed)
                    } else {
                        core::ptr::null_mut()
                    },
                    slot.born_ms.load(Ordering::Relaxed),
                ));
            }
            fence(Ordering::Acquire);
            if rec.state.load(Ordering::Relaxed) == before {
                return len;
            }
        }
        // The owner is mid-write: a few stores, never a wait of its own.
        if spins < 64 {
            spins += 1;
            core::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// Copies every published call pin's region into `out`, for a caller that
/// asks many questions at once (the checker's walks): one consistent read
/// of each record instead of one per question. `None` when they do not
/// all fit (the caller then copies them into storage that grows).
pub(crate) fn copy_regions(out: &mut [MaybeUninit<Region>]) -> Option<&mut [Region]> {
    let mut n = 0;
    let overflow = find(|p| match out.get_mut(n) {
        Some(slot) => {
            slot.write(p.region);
            n += 1;
            false
        }
        None => true,
    });
    if overflow {
        return None;
    }
    // SAFETY: the first `n` elements were written just above, and
    // `MaybeUninit<Region>` has `Region`'s layout.
    Some(unsafe { core::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<Region>(), n) })
}

/// Whether some thread has call pins published: a load per thread that ever
/// made a call with pins.
// Inlined into the allocator's `dealloc`: a process where no thread ever
// made a call pin pays one load and a branch here; the scan is out of line.
#[inline]
pub(crate) fn any_published() -> bool {
    let used = USED.load(Ordering::Acquire);
    used != 0 && any_published_in(used)
}

#[inline(never)]
fn any_published_in(used: usize) -> bool {
    RECORDS[..used.min(MAX_RECORDS)]
        .iter()
        .any(|rec| split(rec.state.load(Ordering::Acquire)).1 != 0)
}

/// Whether a published call pin covers `addr`.
pub(crate) fn covers_point(addr: usize) -> bool {
    find(|p| p.region.contains(addr))
}

/// How many published call pins cover `addr`.
pub(crate) fn count_at(addr: usize) -> usize {
    let mut n = 0;
    find(|p| {
        n += p.region.contains(addr) as usize;
        false
    });
    n
}

/// Some published call pin sharing a byte with `block`.
pub(crate) fn overlapping(block: Region) -> Option<Published> {
    let mut hit = None;
    find(|p| {
        if p.region.overlaps(&block) {
            hit = Some(*p);
        }
        hit.is_some()
    });
    hit
}

/// Makes every other thread's record readable in a `fork()` child, whose
/// only thread is the caller: a record left mid-write (odd count) by a
/// thread that does not exist in the child keeps what it had published
/// before that write (the length in the word is the old one). Those
/// threads' pins stay, as the shared table's do.
///
/// # Safety
/// Only in a freshly forked child, before any other thread exists.
#[cfg_attr(miri, allow(dead_code))]
pub(super) unsafe fn repair_after_fork() {
    let used = USED.load(Ordering::Relaxed);
    for rec in &RECORDS[..used] {
        let (seq, len) = split(rec.state.load(Ordering::Relaxed));
        if seq % 2 == 1 {
            rec.state
                .store(join(seq.wrapping_add(1), len), Ordering::Release);
        }
        if rec.owner.load(Ordering::Relaxed) == OWNED {
            // Its thread is gone in the child (the forking thread's own
            // record is marked owned again below, from its thread-local,
            // which the child keeps). With nothing held it can be reused.
            let held = live_len(rec, split(rec.state.load(Ordering::Relaxed)).1);
            let next = if held == 0 { FREE } else { ABANDONED };
            rec.owner.store(next, Ordering::Relaxed);
        }
    }
    if let Ok(mine) = MY_RECORD.try_with(Cell::get) {
        if mine != UNCLAIMED && mine != NO_RECORD {
            RECORDS[mine as usize - 1]
                .owner
                .store(OWNED, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(addr: usize, len: usize) -> Region {
        Region::from_parts(addr, len)
    }

    #[test]
    fn nested_calls_publish_and_release_in_order() {
        let site = Location::caller();
        let a = publish(&[r(0x7100_0000, 16)], site, 0).expect("a record");
        let b = publish(&[r(0x7100_1000, 8), r(0x7100_2000, 0)], site, 0).expect("room");
        assert!(covers_point(0x7100_0000 + 15) && !covers_point(0x7100_0000 + 16));
        assert!(
            covers_point(0x7100_2000),
            "a zero-length pin covers its address"
        );
        assert_eq!(count_at(0x7100_1000), 1);
        // The span released reaches the zero-length pin's address, which
        // that pin pins (a quarantined block starting there is looked at).
        assert_eq!(release(b), r(0x7100_1000, 0x1001));
        assert!(!covers_point(0x7100_1000));
        assert!(covers_point(0x7100_0000));
        release(a);
        assert!(!covers_point(0x7100_0000));
    }

    #[test]
    fn out_of_order_releases_free_their_slots() {
        let site = Location::caller();
        let a = publish(&[r(0x7200_0000, 16)], site, 0).expect("a record");
        let b = publish(&[r(0x7200_1000, 16)], site, 0).expect("room");
        release(a);
        assert!(!covers_point(0x7200_0000) && covers_point(0x7200_1000));
        release(b);
        assert!(!covers_point(0x7200_1000));
        // Both slots were popped: the whole record is free again.
        let all = [r(0x7200_0000, 1); RECORD_SLOTS];
        let c = publish(&all, site, 0).expect("every slot free");
        assert_eq!(count_at(0x7200_0000), RECORD_SLOTS);
        assert!(publish(&[r(0x7200_0000, 1)], site, 0).is_none(), "full");
        release(c);
        assert_eq!(count_at(0x7200_0000), 0);
    }

    #[test]
    fn pins_released_on_another_thread_are_gone_for_everyone() {
        let site = Location::caller();
        let token = publish(&[r(0x7300_0000, 32)], site, 0).expect("a record");
        std::thread::spawn(move || {
            assert!(covers_point(0x7300_0000 + 31));
            release(token);
            assert!(!covers_point(0x7300_0000));
        })
        .join()
        .unwrap();
        assert!(!covers_point(0x7300_0000));
        let again = publish(&[r(0x7300_0000, 1)], site, 0).expect("slot reused");
        release(again);
    }
}
