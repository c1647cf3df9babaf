//! The checker's question about many referents at once: which is the first
//! whose extent no pin covers?
//!
//! A check of N referents asks it once per level of its walk. Asking each
//! referent of the shared table's index costs a few hash probes (about 130
//! instructions), and comparing each with the M regions the calling
//! thread's own `#[pointer_escapes]` call published cost N × M. Here both
//! kinds of pins are read as *sorted pins*: regions sorted by start, with
//! the furthest end among each prefix. "Does one pin cover `[a, e)`?" is
//! then a binary search: the pins starting at or before `a` are a prefix,
//! and one of them covers the extent exactly when the furthest end among
//! them reaches `e`. O(log M) per referent.
//!
//! - Call pins are copied and sorted once per question: O(M log M).
//! - The shared table's shards are copied and sorted into a per-thread
//!   snapshot that stays valid until one of them changes (each shard's
//!   generation count, bumped under its lock by every pin and unpin there;
//!   the snapshot is compared and read under those locks too; or without
//!   any lock, `settled_without_locks`, when one shard alone has ever held
//!   pins and its generation still equals the copy's). A snapshot is only built when
//!   the table holds few pins for the referents asked about (at most
//!   `2N + 16` entries, and `SNAPSHOT_MAX`): building costs what the probes
//!   it replaces would, so a check next to 10 000 unrelated pins probes the
//!   index instead of copying it, and a thread keeps at most a few dozen KiB.
//!
//! When all the pins are of one kind (a `Pinner`'s, with no call pins; or
//! a call's, with no shared pins), the referents one pin covers whole are
//! first settled by one tight pass that merges them with the sorted pins
//! (one step per referent when both come in address order, a binary
//! search otherwise); the general loop starts at the first it cannot
//! settle.
//!
//! What those do not settle (a zero-length extent, one covered only by several
//! pins together or by static memory, or none) is answered by the general
//! piece-by-piece walk, which reads the same copy of the call pins.

use super::{calls, covered_with, static_covers, CallView, Tables, SHARDS};
use crate::region::Region;
use crate::sys_vec::SysVec;
use core::cell::RefCell;
use core::mem::MaybeUninit;
use std::alloc::System;

/// A referent's extent that is neither null nor empty: what the checker's
/// quick walk asks about (it skips null and empty extents as it gathers
/// them), so that the settling pass need not check each again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Extent(Region);

impl Extent {
    /// `region` as an extent, or `None` if it is null or empty.
    #[inline]
    pub(crate) fn new(region: Region) -> Option<Extent> {
        (!region.is_null() && !region.is_empty()).then_some(Extent(region))
    }

    /// The extent's memory.
    #[inline]
    pub(crate) fn region(self) -> Region {
        self.0
    }
}

/// Call pins copied onto the stack at most; more go to a `System` buffer.
const STACK_PINS: usize = 64;

/// Pins sorted by start, with the furthest end among each prefix:
/// `reach[i]` is where `pins[i]` starts and the largest end of
/// `pins[..=i]`.
pub(super) struct SortedPins<'a> {
    pins: &'a [Region],
    reach: &'a [Reach],
}

/// A sorted pin's start, and the furthest end among it and the pins
/// sorted before it: the two words the coverage question reads per pin,
/// side by side (one bound check, one cache line for both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Reach {
    start: usize,
    furthest: usize,
}

impl SortedPins<'_> {
    /// Whether one of the pins covers all of `[addr, end)` (`addr < end`).
    /// `hint` is where the previous question's prefix ended, and is set to
    /// where this one's does: referents usually come in address order (a
    /// program's buffers, allocated in turn), so the answer is most often
    /// one or two pins further on, and otherwise found by a binary search.
    #[inline]
    fn covers_whole(&self, addr: usize, end: usize, hint: &mut usize) -> bool {
        let pins = self.reach;
        let starts_by = |p: &Reach| {
            count_comparison();
            p.start <= addr
        };
        // The pins starting at or before `addr` are `pins[..k]`.
        let mut k = (*hint).min(pins.len());
        if k > 0 && !starts_by(&pins[k - 1]) {
            k = pins[..k - 1].partition_point(starts_by);
        } else {
            let mut steps = 0;
            while let Some(p) = pins.get(k) {
                if !starts_by(p) {
                    break;
                }
                k += 1;
                steps += 1;
                if steps == 2 {
                    k += pins[k..].partition_point(starts_by);
                    break;
                }
            }
        }
        *hint = k;
        // Every pin of the prefix starts at or before `addr`, so the one
        // reaching furthest covers `[addr, end)` if any of them does.
        match k.checked_sub(1) {
            Some(last) => pins.get(last).is_some_and(|r| r.furthest >= end),
            None => false,
        }
    }
}

impl SortedPins<'_> {
    /// How many of `items`, from the first, one of these pins covers whole:
    /// the index of the first item it does not settle (null, empty, past
    /// the address space, or not covered by a single one of these pins),
    /// or `items.len()`. What it settles is covered; what it does not is
    /// left to the general question, which may still find it covered.
    #[inline]
    ///
    /// With `NONEMPTY`, every item's extent is known not to be null or
    /// empty (an [`Extent`]), and is not checked for it again.
    fn settle_prefix<T, const NONEMPTY: bool>(
        &self,
        items: &[T],
        region: impl Fn(&T) -> Option<Region>,
    ) -> usize {
        let all = self.reach;
        // `rest` are the pins not yet known to start by the referents seen
        // so far, and `furthest` the furthest end among those before them
        // (the prefix; 0 for none). Referents mostly come in address order,
        // as pins do: then each referent moves one pin from `rest` into the
        // prefix, a merge of the two sequences that reads each pin once, and
        // compares it once with the referent. The prefix may lag
        // (a pin starting by `addr` still in `rest`): its furthest end then
        // understates the answer, never overstates it, and a referent it
        // does not reach moves the prefix to exactly the pins starting by
        // its start (a binary search, O(log M)) before it is given up. A
        // referent behind the prefix is placed by a binary search too.
        let mut rest = all.iter();
        let mut furthest = 0;
        // The referents not yet settled: their count at the end says where
        // the first of them is.
        let mut left = items;
        while let [it, more @ ..] = left {
            let Some(r) = region(it) else {
                break;
            };
            let (addr, end) = (r.addr(), r.end());
            // `addr < end` also rules out empty extents; null is never
            // pinned. Both are the general question's.
            if !NONEMPTY && (addr == 0 || addr >= end) {
                break;
            }
            count_comparison();
            match rest.as_slice().first() {
                // The next pin starts by `addr`: one step.
                Some(next) if next.start <= addr => {
                    furthest = next.furthest;
                    rest.next();
                }
                // Behind the prefix's last pin: placed again.
                _ if addr < last_start(all, rest.as_slice()) => {
                    (furthest, rest) = prefix_by(all, addr);
                }
                _ => {}
            }
            // The pin reaching furthest among those starting by `addr`
            // covers `[addr, end)` if any one of them does.
            if furthest < end {
                // The prefix may lag behind `addr`: catch up, then ask again.
                if rest.as_slice().first().is_none_or(|next| next.start > addr) {
                    break;
                }
                (furthest, rest) = prefix_by(all, addr);
                if furthest < end {
                    break;
                }
            }
            left = more;
        }
        items.len() - left.len()
    }
}

/// The prefix of `all` (sorted by start) of the pins starting at or
/// before `addr`: the furthest end among its pins (0 for none: 0 reaches
/// no non-empty extent's end), and the pins after it. A binary search.
#[inline]
fn prefix_by(all: &[Reach], addr: usize) -> (usize, core::slice::Iter<'_, Reach>) {
    let k = all.partition_point(|p| {
        count_comparison();
        p.start <= addr
    });
    let (prefix, rest) = all.split_at(k.min(all.len()));
    (prefix.last().map_or(0, |last| last.furthest), rest.iter())
}

/// Where the last pin of `all` before `rest` (a suffix of `all`) starts;
/// 0 if none is.
#[inline]
fn last_start(all: &[Reach], rest: &[Reach]) -> usize {
    let k = all.len().saturating_sub(rest.len());
    k.checked_sub(1)
        .and_then(|last| all.get(last))
        .map_or(0, |p| p.start)
}

/// Runs `f` with the published call pins, copied once and sorted (on the
/// stack when they fit, else in a `System` buffer: never the global
/// allocator, as everywhere in the registry).
pub(super) fn with_call_pins<R>(f: impl FnOnce(&SortedPins<'_>) -> R) -> R {
    // The usual case outside `#[pointer_escapes]` calls: no call pin
    // anywhere (one load while no thread ever made one), nothing to copy.
    if !calls::any_published() {
        return f(&SortedPins {
            pins: &[],
            reach: &[],
        });
    }
    let mut pins = [const { MaybeUninit::<Region>::uninit() }; STACK_PINS];
    let mut reach = [const { MaybeUninit::<Reach>::uninit() }; STACK_PINS];
    match calls::copy_regions(&mut pins) {
        Some(copied) => {
            let reach = prefix_reach(copied, &mut reach);
            f(&SortedPins {
                pins: copied,
                reach,
            })
        }
        None => {
            let mut all = SysVec::new_in(System);
            calls::find(|p| {
                all.push(p.region);
                false
            });
            let mut reach = SysVec::with_capacity_in(all.len(), System);
            reach.resize(all.len(), MaybeUninit::uninit());
            let reach = prefix_reach(&mut all, &mut reach);
            f(&SortedPins { pins: &all, reach })
        }
    }
}

/// Sorts `pins` by start and fills `out` (at least as long) with their
/// starts and the running maximum of their ends; returns that prefix of
/// `out`.
fn prefix_reach<'o>(pins: &mut [Region], out: &'o mut [MaybeUninit<Reach>]) -> &'o [Reach] {
    // `sort_unstable` allocates nothing; call pins usually arrive in
    // address order (a call's buffers, allocated in turn), which it
    // recognises in one pass.
    pins.sort_unstable_by_key(|p| p.addr());
    let mut furthest = 0;
    for (slot, p) in out.iter_mut().zip(pins.iter()) {
        furthest = furthest.max(p.end());
        slot.write(Reach {
            start: p.addr(),
            furthest,
        });
    }
    // SAFETY: the first `pins.len()` elements were written just above (`out`
    // is at least that long), and `MaybeUninit<Reach>` has `Reach`'s layout.
    unsafe { core::slice::from_raw_parts(out.as_ptr().cast::<Reach>(), pins.len()) }
}

/// The shared table's pins, sorted, as of `generation`.
struct SharedSnapshot {
    /// The shards' generations the pins were copied at
    /// (`Tables::generations`); `None` before the first copy.
    generation: Option<[u64; SHARDS]>,
    pins: SysVec<Region>,
    reach: SysVec<MaybeUninit<Reach>>,
}

impl SharedSnapshot {
    /// The copied pins as sorted pins, once `rebuild` has finished a copy
    /// (`generation` is `Some`), else `None`.
    fn sorted(&self) -> Option<SortedPins<'_>> {
        self.generation?;
        let n = self.pins.len();
        // SAFETY: `rebuild` sized `reach` to `pins.len()` and initialised
        // all of it (`prefix_reach`) before setting `generation`, checked
        // just above (and cleared first by every rebuild);
        // `MaybeUninit<Reach>` has `Reach`'s layout.
        let reach = unsafe { core::slice::from_raw_parts(self.reach.as_ptr().cast::<Reach>(), n) };
        Some(SortedPins {
            pins: &self.pins,
            reach,
        })
    }
}

/// Shared table entries past which no snapshot is built, whatever the
/// check: 1024 regions and their starts and reaches are 32 KiB per thread.
const SNAPSHOT_MAX: usize = 1024;

std::thread_local! {
    static SHARED: RefCell<SharedSnapshot> = const {
        RefCell::new(SharedSnapshot {
            generation: None,
            pins: SysVec::new_in(System),
            reach: SysVec::new_in(System),
        })
    };
}

/// Makes this thread's snapshot exist (registering its destructor), so
/// that `with_shared_pins`, which runs under shard locks, never does. A
/// thread whose thread-locals are being destroyed gets no snapshot there.
pub(super) fn touch_thread_local() {
    let _ = SHARED.try_with(|_| ());
}

/// Runs `f` with a sorted snapshot of `table`'s pins when one is current or
/// worth building for `asks` referents, else with `None` (then each
/// referent asks the index). `table` holds the locks of the shards it reads.
fn with_shared_pins<R>(
    table: &Tables,
    asks: usize,
    f: impl FnOnce(Option<&SortedPins<'_>>) -> R,
) -> R {
    let mut f = Some(f);
    let generation = table.generations();
    let ran = SHARED.try_with(|cell| {
        // Busy only if `f` itself asked again (it does not): be safe.
        let mut snapshot = cell.try_borrow_mut().ok()?;
        // Compared inline, all words at once (their differences or-ed
        // together, which the compiler vectorises): a call to `memcmp`, or
        // a branch per word, costs more than the few words.
        let current = snapshot.generation.is_some_and(|g| {
            g.iter()
                .zip(&generation)
                .fold(0, |differ, (a, b)| differ | (a ^ b))
                == 0
        });
        if !current {
            let worth = table.live_entries() <= asks.saturating_mul(2).saturating_add(16);
            if !worth || table.live_entries() > SNAPSHOT_MAX {
                return None;
            }
            rebuild(&mut snapshot, table, generation);
        }
        let sorted = snapshot.sorted()?;
        let f = f.take()?;
        Some(f(Some(&sorted)))
    });
    match (ran, f.take()) {
        (Ok(Some(r)), _) => r,
        (_, Some(f)) => f(None),
        (_, None) => unreachable!("`f` ran but gave nothing back"),
    }
}

#[cold]
fn rebuild(s: &mut SharedSnapshot, table: &Tables, generation: [u64; SHARDS]) {
    s.generation = None;
    s.pins.clear();
    table.for_each_live(|r, _, _| s.pins.push(r));
    count_copied(s.pins.len());
    s.reach.clear();
    s.reach.resize(s.pins.len(), MaybeUninit::uninit());
    prefix_reach(&mut s.pins, &mut s.reach);
    s.generation = Some(generation);
}

/// The usual passing check without any lock: when no call pin is
/// published, one shard alone has ever held pins and its generation read
/// now equals the one this thread's sorted copy was taken at, the copy is
/// that shard's pins as of this moment; if it settles every item (each
/// covered whole by one pin), the answer is "none uncovered". `None` when
/// any of that does not hold: the caller asks under the locks, as always
/// (a failing check, or one the copy cannot settle, pays the settling
/// pass twice).
pub(super) fn settled_without_locks<T, const NONEMPTY: bool>(
    calls: &SortedPins<'_>,
    items: &[T],
    region: &impl Fn(&T) -> Option<Region>,
) -> Option<()> {
    if !calls.pins.is_empty() || items.is_empty() {
        return None;
    }
    let (s, generation) = super::shards::sole_shard_generation()?;
    SHARED
        .try_with(|cell| {
            let snapshot = cell.try_borrow().ok()?;
            let key = snapshot.generation?;
            // Taken with shard `s` alone locked: every other shard held no
            // pin then (and none has held one since: its bit is clear).
            let only_s = key.iter().enumerate().all(|(i, &g)| {
                if i == s {
                    g == generation
                } else {
                    g == u64::MAX
                }
            });
            if !only_s {
                return None;
            }
            let sorted = snapshot.sorted()?;
            (sorted.settle_prefix::<T, NONEMPTY>(items, region) == items.len()).then_some(())
        })
        .ok()
        .flatten()
}

/// The index of the first item whose region is not entirely pinned (or
/// static): see `registry::first_uncovered`, which holds the locks of the
/// shards holding pins in `table` (when any shard holds a pin).
pub(super) fn first_uncovered_in<T, const NONEMPTY: bool>(
    table: Option<&Tables>,
    calls: &SortedPins<'_>,
    items: &[T],
    region: impl Fn(&T) -> Option<Region>,
) -> Option<usize> {
    match table {
        None => first_uncovered_with::<T, NONEMPTY>(None, None, calls, items, region),
        Some(t) => with_shared_pins(t, items.len(), |shared| {
            first_uncovered_with::<T, NONEMPTY>(Some(t), shared, calls, items, region)
        }),
    }
}

fn first_uncovered_with<T, const NONEMPTY: bool>(
    table: Option<&Tables>,
    shared: Option<&SortedPins<'_>>,
    calls: &SortedPins<'_>,
    items: &[T],
    region: impl Fn(&T) -> Option<Region>,
) -> Option<usize> {
    let any_calls = !calls.pins.is_empty();
    // The usual check has its pins in one place: a `Pinner`'s in the shared
    // table (and no call pins), or a `#[pointer_escapes]` call's own (and no
    // shared pins). Then the referents one of those sorted pins covers
    // whole are settled by one tight pass, a merge of two mostly ascending
    // sequences; the general loop below takes over at the first referent
    // that pass cannot settle, and answers from there as it always did.
    let only = match (table, shared) {
        (None, _) if any_calls => Some(calls),
        (Some(_), Some(shared)) if !any_calls => Some(shared),
        _ => None,
    };
    let settled = match only {
        Some(pins) => pins.settle_prefix::<T, NONEMPTY>(items, &region),
        None => 0,
    };
    // All settled: none uncovered.
    let rest = items.get(settled..).filter(|rest| !rest.is_empty())?;
    // The extent of the last shared pin the index found covering a whole
    // referent: the table cannot change while its lock is held.
    let mut last_table_hit = (0usize, 0usize);
    let (mut call_hint, mut shared_hint) = (0, 0);
    for (i, it) in rest.iter().enumerate().map(|(i, it)| (settled + i, it)) {
        // An extent past the address space, or at null, is never pinned.
        let Some(r) = region(it).filter(|r| !r.is_null()) else {
            return Some(i);
        };
        let (addr, end) = (r.addr(), r.end());
        // The usual case first: one pin covers the whole, non-empty extent.
        if addr < end {
            if any_calls && calls.covers_whole(addr, end, &mut call_hint) {
                continue;
            }
            let by_table = match (table, shared) {
                (None, _) => false,
                (Some(_), Some(shared)) => shared.covers_whole(addr, end, &mut shared_hint),
                (Some(t), None) => {
                    let last = &mut last_table_hit;
                    (last.0 <= addr && end <= last.1)
                        || t.find_covering_at_least(addr, r.len(), |hit| {
                            let covers = hit.region.end() >= end;
                            if covers {
                                *last = (hit.region.addr(), hit.region.end());
                            }
                            covers
                        })
                }
            };
            if by_table || static_covers(r) {
                continue;
            }
        }
        // A zero-length extent, or one that only several pins together (or
        // none) cover: the general walk.
        if !covered_with(table, &CallView::Copied(calls.pins), r) {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
std::thread_local! {
    /// Call pins looked at by `covers_whole` on this thread: the regression
    /// test of the N × M cliff counts this work instead of timing it.
    static COMPARISONS: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

#[cfg(test)]
std::thread_local! {
    /// Shared pins copied into this thread's snapshots.
    static COPIED: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

#[inline]
fn count_comparison() {
    #[cfg(test)]
    COMPARISONS.with(|c| c.set(c.get() + 1));
}

#[inline]
fn count_copied(_n: usize) {
    #[cfg(test)]
    COPIED.with(|c| c.set(c.get() + _n));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::PinKind;
    use core::panic::Location;

    fn r(addr: usize, len: usize) -> Region {
        Region::from_parts(addr, len)
    }

    /// `pins` sorted as the checker sorts them, and the furthest end of
    /// each prefix (what `SortedPins` reads).
    fn sorted_with_reach(pins: &mut [Region]) -> Vec<Reach> {
        let mut reach = vec![MaybeUninit::uninit(); pins.len()];
        prefix_reach(pins, &mut reach).to_vec()
    }

    /// What `settle_prefix` must answer, by asking each pin: how many of
    /// `items`, from the first, one pin of `pins` covers whole.
    fn settled_by_asking_each_pin(pins: &[Region], items: &[Region]) -> usize {
        let by_one_pin = |it: &Region| {
            !it.is_null()
                && !it.is_empty()
                && pins
                    .iter()
                    .any(|p| p.addr() <= it.addr() && it.end() <= p.end())
        };
        items
            .iter()
            .position(|it| !by_one_pin(it))
            .unwrap_or(items.len())
    }

    /// A check of N referents against the M call pins of the current call
    /// compares each referent with O(log M) of them, not all M: the
    /// `readv`-shaped check (16 buffers, each its own call pin) no longer
    /// grows with the product.
    #[test]
    fn a_check_compares_each_referent_with_log_many_call_pins() {
        // As many as a record holds (8 under Miri, where this test checks
        // soundness more than the count), at most 24.
        const M: usize = if calls::RECORD_SLOTS < 24 {
            calls::RECORD_SLOTS
        } else {
            24
        };
        const N: usize = if cfg!(miri) { 256 } else { 4096 };
        // A thread of its own: its record is empty (the test harness may
        // run every test on one thread, whose record others use).
        std::thread::spawn(|| {
            let base = 0x7a00_0000usize;
            let pins: Vec<Region> = (0..M).map(|i| r(base + i * 0x1000, 0x1000)).collect();
            let site = Location::caller();
            let token = calls::publish(&pins, site, 0).expect("an empty record");
            // Referents spread over all the pinned buffers, in no order.
            let items: Vec<Region> = (0..N)
                .map(|i| r(base + (i * 7919 % M) * 0x1000 + (i % 64) * 8, 8))
                .collect();
            COMPARISONS.with(|c| c.set(0));
            let found = super::super::first_uncovered(&items, |it| Some(*it));
            let compared = COMPARISONS.with(|c| c.get());
            calls::release(token);
            assert_eq!(found, None, "every referent lies in a call pin");
            // One step back or two forward from the previous answer (at
            // most three comparisons), then a binary search over 24 pins
            // (five): at most 8 per referent, where comparing with every
            // pin took 24.
            let per_referent = 3 + (usize::BITS - M.leading_zeros()) as usize;
            assert!(
                compared <= N * per_referent,
                "{compared} comparisons for {N} referents and {M} call pins"
            );
            assert!(
                compared >= N,
                "each referent was compared with the call pins"
            );
        })
        .join()
        .expect("the check's thread");
    }

    /// The settling pass settles a referent only when one pin covers it
    /// whole, and stops at the first it cannot settle, whatever the order
    /// of referents and pins (ascending, descending, jumping, nested,
    /// overlapping, empty): checked against asking every pin in turn.
    #[test]
    fn settling_stops_at_the_first_referent_no_single_pin_covers() {
        let mut next = crate::test_rng::xorshift(0x9e37_79b9_7f4a_7c15u64);
        let rounds = if cfg!(miri) { 20 } else { 2000 };
        for round in 0..rounds {
            let m = next(12);
            let mut pins: Vec<Region> = (0..m)
                .map(|_| r(0x1000 + next(64) * 8, next(40) * 8))
                .collect();
            let reach = sorted_with_reach(&mut pins);
            let sorted = SortedPins {
                pins: &pins,
                reach: &reach,
            };
            let items: Vec<Region> = (0..next(24))
                .map(|i| match next(8) {
                    // Mostly ascending, sometimes behind or far ahead.
                    0 => r(0x1000 + next(70) * 8, next(16)),
                    1 => r(0, 8),
                    _ => r(0x1000 + (i * 16 + next(8)) % 560, 1 + next(24)),
                })
                .collect();
            assert_eq!(
                sorted.settle_prefix::<_, false>(&items, |it| Some(*it)),
                settled_by_asking_each_pin(&pins, &items),
                "round {round}: pins {pins:?}, items {items:?}"
            );
            // The same referents as extents (the quick walk's: the null and
            // empty ones left out, as it leaves them out), which the pass
            // does not check for being null or empty: the same answer.
            let extents: Vec<Extent> = items.iter().filter_map(|&it| Extent::new(it)).collect();
            let regions: Vec<Region> = extents.iter().map(|e| e.region()).collect();
            assert_eq!(
                sorted.settle_prefix::<_, true>(&extents, |e| Some(e.region())),
                settled_by_asking_each_pin(&pins, &regions),
                "round {round}: pins {pins:?}, extents {regions:?}"
            );
        }
    }

    /// An extent is never null or empty: those are refused, so that the
    /// settling pass may skip checking them.
    #[test]
    fn an_extent_is_neither_null_nor_empty() {
        assert_eq!(Extent::new(r(0, 8)), None);
        assert_eq!(Extent::new(r(0x1000, 0)), None);
        assert_eq!(Extent::new(r(0, 0)), None);
        let extent = Extent::new(r(0x1000, 8)).map(Extent::region);
        assert_eq!(extent, Some(r(0x1000, 8)));
    }

    /// The settling pass, against asking each pin, over every small case:
    /// up to three pins (duplicates, nested, touching, zero-length ones
    /// among them) and every two or three referents in any order (behind,
    /// equal, ahead, empty), both at address 0 (null: never settled) and
    /// against the end of the address space (`end == usize::MAX`). A
    /// referent is settled only when one pin covers it whole.
    #[test]
    fn settling_needs_one_pin_covering_the_whole_referent_in_every_small_case() {
        // Under Miri (pure arithmetic but for `prefix_reach`'s slice) a
        // smaller space: up to two pins over three addresses.
        let (span, most_pins) = if cfg!(miri) { (3, 2) } else { (7, 3) };
        for base in [0, usize::MAX - span] {
            let options: Vec<Region> = (0..span)
                .flat_map(|a| (0..=3.min(span - a)).map(move |len| r(base + a, len)))
                .collect();
            let n = options.len();
            let mut sets: Vec<Vec<Region>> = vec![vec![]];
            for i in 0..n {
                sets.push(vec![options[i]]);
                for j in i..n {
                    sets.push(vec![options[i], options[j]]);
                    for k in (j..n).filter(|_| most_pins >= 3) {
                        sets.push(vec![options[i], options[j], options[k]]);
                    }
                }
            }
            for mut pins in sets {
                let reach = sorted_with_reach(&mut pins);
                let sorted = SortedPins {
                    pins: &pins,
                    reach: &reach,
                };
                let check = |items: &[Region]| {
                    assert_eq!(
                        sorted.settle_prefix::<_, false>(items, |it| Some(*it)),
                        settled_by_asking_each_pin(&pins, items),
                        "pins {pins:?}, items {items:?}"
                    );
                };
                for &a in &options {
                    for &b in &options {
                        check(&[a, b]);
                        // Three referents only against up to one pin (the
                        // count stays in seconds).
                        if pins.len() <= 1 && !cfg!(miri) {
                            for &c in &options {
                                check(&[a, b, c]);
                            }
                        }
                    }
                }
            }
        }
    }

    /// The sorted view answers as the one-by-one comparison did: only a
    /// single pin covering the whole extent counts here, and what several
    /// pins cover together, or a zero-length extent, is still covered.
    #[test]
    fn covered_by_call_pins_is_the_same_question_in_any_order() {
        let base = 0x7b00_0000usize;
        let site = Location::caller();
        // Out of address order, nested, adjacent and zero-length pins.
        let pins = [
            r(base + 0x300, 0x100),
            r(base, 0x80),
            r(base + 0x10, 0x10),
            r(base + 0x400, 0x100),
            r(base + 0x900, 0),
        ];
        let token = calls::publish(&pins, site, 0).expect("a record with room");
        let ask = |items: &[Region]| super::super::first_uncovered(items, |it| Some(*it));
        let covered = [
            r(base, 0x80),
            r(base + 0x18, 8),
            r(base + 0x7f, 1),
            r(base + 0x300, 0x200), // two adjacent pins together
            r(base + 0x900, 0),     // a zero-length pin covers its address
        ];
        assert_eq!(ask(&covered), None);
        for (i, bad) in [
            r(base + 0x7f, 2),
            r(base + 0x80, 1),
            r(base + 0x2ff, 2),
            r(base + 0x500, 1),
            r(base + 0x900, 1),
        ]
        .into_iter()
        .enumerate()
        {
            let mut items = covered.to_vec();
            items.insert(2, bad);
            assert_eq!(ask(&items), Some(2), "case {i}: {bad:?} is not covered");
        }
        calls::release(token);
    }

    /// Referents covered by the shared table and by call pins in one
    /// question, with the first uncovered one named by its position.
    #[test]
    fn shared_and_call_pins_answer_together() {
        let base = 0x7c00_0000usize;
        let site = Location::caller();
        let shared = super::super::pin(r(base + 0x1000, 0x1000), PinKind::Pinner, site, 0);
        let token = calls::publish(&[r(base, 0x1000)], site, 0).expect("a record");
        let items = [
            r(base + 0x10, 0x10),
            r(base + 0x1010, 0x10),
            r(base + 0x1020, 0x10), // the remembered shared pin
            r(base + 0xff0, 0x20),  // straddles the two pins
            r(base + 0x2000, 1),
        ];
        let found = super::super::first_uncovered(&items, |it| Some(*it));
        calls::release(token);
        super::super::unpin(shared);
        assert_eq!(found, Some(4));
    }

    /// A snapshot of the shared table is never read after the table
    /// changed: a pin released since it was taken no longer covers
    /// anything (the generation moved), and the next question copies the
    /// table again.
    #[test]
    fn a_snapshot_of_shared_pins_is_stale_once_a_pin_goes() {
        let _size = super::super::tests::table_size_matters();
        let base = 0x7d00_0000usize;
        let site = Location::caller();
        let items: Vec<Region> = (0..16).map(|i| r(base + i * 0x100, 0x100)).collect();
        let ids: Vec<_> = items
            .iter()
            .map(|&it| super::super::pin(it, PinKind::Pinner, site, 0))
            .collect();
        let ask = |items: &[Region]| super::super::first_uncovered(items, |it| Some(*it));
        COPIED.with(|c| c.set(0));
        assert_eq!(ask(&items), None);
        assert!(
            COPIED.with(|c| c.get()) >= 16,
            "the first question copies the table"
        );
        COPIED.with(|c| c.set(0));
        assert_eq!(ask(&items), None);
        super::super::unpin(ids[5]);
        assert_eq!(ask(&items), Some(5), "the released pin is not seen");
        for &id in ids.iter().filter(|&&id| id != ids[5]) {
            super::super::unpin(id);
        }
        assert_eq!(ask(&items), Some(0));
    }

    /// A thread's snapshot reads every shard: a pin another thread makes in
    /// another shard after the snapshot was copied counts, and once released
    /// it no longer does (each shard's generation, and whether it held pins
    /// at all, are part of what the snapshot is current for).
    #[test]
    fn a_snapshot_is_stale_once_another_shard_changes() {
        use crate::origin::ThreadNumber;
        let base = 0x7c00_0000usize;
        let site = Location::caller();
        let items: Vec<Region> = (0..16).map(|i| r(base + i * 0x100, 0x100)).collect();
        let ids: Vec<_> = items[..15]
            .iter()
            .map(|&it| super::super::pin(it, PinKind::Pinner, site, 0))
            .collect();
        let ask = |items: &[Region]| super::super::first_uncovered(items, |it| Some(*it));
        assert_eq!(ask(&items), Some(15), "the last item is not pinned yet");
        // Pin the last item on a thread whose pins go to another shard.
        let here = ThreadNumber::current().0 as usize % super::super::SHARDS;
        let last = items[15];
        let elsewhere = loop {
            let (shard, id) = std::thread::spawn(move || {
                let shard = ThreadNumber::current().0 as usize % super::super::SHARDS;
                (
                    shard,
                    super::super::pin(last, PinKind::Pinner, Location::caller(), 0),
                )
            })
            .join()
            .expect("the pinning thread");
            if shard != here {
                break id;
            }
            super::super::unpin(id);
        };
        assert_eq!(ask(&items), None, "a pin in another shard counts");
        super::super::unpin(elsewhere);
        assert_eq!(ask(&items), Some(15), "and stops counting once released");
        for id in ids {
            super::super::unpin(id);
        }
    }

    /// Copying the shared table costs what probing it for each referent
    /// would: next to many unrelated pins, a check of a few referents
    /// probes the index and copies nothing; a check of many copies it.
    #[test]
    fn a_few_referents_never_copy_a_big_shared_table() {
        let _size = super::super::tests::table_size_matters();
        let base = 0x7e00_0000usize;
        let site = Location::caller();
        let ids: Vec<_> = (0..200)
            .map(|i| super::super::pin(r(base + i * 0x100, 0x100), PinKind::Pinner, site, 0))
            .collect();
        let few = [r(base + 0x100, 8), r(base + 0x2000, 8)];
        COPIED.with(|c| c.set(0));
        let found = super::super::first_uncovered(&few, |it| Some(*it));
        let copied_for_few = COPIED.with(|c| c.get());
        let many: Vec<Region> = (0..100).map(|i| r(base + i * 0x200, 0x100)).collect();
        let found_many = super::super::first_uncovered(&many, |it| Some(*it));
        let copied_for_many = COPIED.with(|c| c.get()) - copied_for_few;
        for id in ids {
            super::super::unpin(id);
        }
        assert_eq!((found, found_many), (None, None));
        assert_eq!(copied_for_few, 0, "2 referents against 200 pins: no copy");
        assert!(copied_for_many >= 200, "100 referents: the copy pays");
    }
}
