//! The checker's question about many referents at once: which is the first
//! whose extent no pin covers?
//!
//! A check of N referents asks it once per level of its walk, while the
//! calling thread's own `#[pointer_escapes]` call may have M regions
//! published (a `readv` of 16 buffers flowing through: M = 17). Comparing
//! each referent with every call pin cost N × M; here the call pins are
//! copied once, sorted by start, and their ends turned into a running
//! maximum, so "does one call pin cover `[a, e)`?" is a binary search:
//! the pins starting at or before `a` are a prefix, and one of them covers
//! the extent exactly when the furthest end among them reaches `e`.
//! O(M log M) once, then O(log M) per referent.
//!
//! Referents the call pins do not cover go to the shared table's index
//! (O(levels) each), remembering the last pin that covered one: consecutive
//! referents in one pinned buffer (iovec entries slicing one arena) cost a
//! comparison each. What none of that settles (a zero-length extent, one
//! covered only by several pins together or by static memory, or none) is
//! answered by the general piece-by-piece walk over the same copy.

use super::table::Table;
use super::{calls, covered_with, static_covers, CallView};
use crate::region::Region;
use crate::sys_vec::SysVec;
use core::mem::MaybeUninit;
use std::alloc::System;

/// Call pins copied onto the stack at most; more go to a `System` buffer.
const STACK_PINS: usize = 64;

/// The published call pins, sorted by start, with the furthest end among
/// each prefix: `reach[i]` is the largest end of `pins[..=i]`.
pub(super) struct SortedCallPins<'a> {
    pins: &'a [Region],
    reach: &'a [usize],
}

impl SortedCallPins<'_> {
    /// Whether one call pin covers all of `[addr, end)` (`addr < end`).
    #[inline]
    fn covers_whole(&self, addr: usize, end: usize) -> bool {
        let starting_by = self.pins.partition_point(|p| {
            count_comparison();
            p.addr() <= addr
        });
        // Every pin of the prefix starts at or before `addr`, so the one
        // reaching furthest covers `[addr, end)` if any of them does.
        starting_by > 0 && self.reach[starting_by - 1] >= end
    }
}

/// Runs `f` with the published call pins, copied once and sorted (on the
/// stack when they fit, else in a `System` buffer: never the global
/// allocator, as everywhere in the registry).
pub(super) fn with_call_pins<R>(f: impl FnOnce(&SortedCallPins<'_>) -> R) -> R {
    let mut pins = [const { MaybeUninit::<Region>::uninit() }; STACK_PINS];
    let mut reach = [const { MaybeUninit::<usize>::uninit() }; STACK_PINS];
    match calls::copy_regions(&mut pins) {
        Some(copied) => {
            let reach = prefix_reach(copied, &mut reach);
            f(&SortedCallPins {
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
            f(&SortedCallPins { pins: &all, reach })
        }
    }
}

/// Sorts `pins` by start and fills `out` (at least as long) with the
/// running maximum of their ends; returns that prefix of `out`.
fn prefix_reach<'o>(pins: &mut [Region], out: &'o mut [MaybeUninit<usize>]) -> &'o [usize] {
    // `sort_unstable` allocates nothing; call pins usually arrive in
    // address order (a call's buffers, allocated in turn), which it
    // recognises in one pass.
    pins.sort_unstable_by_key(|p| p.addr());
    let mut furthest = 0;
    for (slot, p) in out.iter_mut().zip(pins.iter()) {
        furthest = furthest.max(p.end());
        slot.write(furthest);
    }
    // SAFETY: the first `pins.len()` elements were written just above (`out`
    // is at least that long), and `MaybeUninit<usize>` has `usize`'s layout.
    unsafe { core::slice::from_raw_parts(out.as_ptr().cast::<usize>(), pins.len()) }
}

/// The index of the first item whose region is not entirely pinned (or
/// static): see `registry::first_uncovered`, which holds the lock for
/// `table` (the shared table, when it holds any pin).
pub(super) fn first_uncovered_in<T>(
    table: Option<&Table>,
    calls: &SortedCallPins<'_>,
    items: &[T],
    region: impl Fn(&T) -> Option<Region>,
) -> Option<usize> {
    // The extent of the last shared pin found covering a whole referent:
    // the table cannot change while its lock is held.
    let mut last_table_hit = (0usize, 0usize);
    let uncovered = |r: Region, last: &mut (usize, usize)| {
        if r.is_null() {
            return true;
        }
        let (addr, end) = (r.addr(), r.end());
        if r.is_empty() {
            return !covered_with(table, &CallView::Copied(calls.pins), r);
        }
        if calls.covers_whole(addr, end) || (last.0 <= addr && end <= last.1) {
            return false;
        }
        let by_table = table.is_some_and(|t| {
            t.find_covering_at_least(addr, r.len(), |hit| {
                let covers = hit.region.end() >= end;
                if covers {
                    *last = (hit.region.addr(), hit.region.end());
                }
                covers
            })
        });
        // Several pins together, or static memory: the general walk.
        !(by_table || static_covers(r) || covered_with(table, &CallView::Copied(calls.pins), r))
    };
    items
        .iter()
        .position(|it| region(it).is_none_or(|r| uncovered(r, &mut last_table_hit)))
}

#[cfg(test)]
std::thread_local! {
    /// Call pins looked at by `covers_whole` on this thread: the regression
    /// test of the N × M cliff counts this work instead of timing it.
    static COMPARISONS: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

#[inline]
fn count_comparison() {
    #[cfg(test)]
    COMPARISONS.with(|c| c.set(c.get() + 1));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::PinKind;
    use core::panic::Location;

    fn r(addr: usize, len: usize) -> Region {
        Region::from_parts(addr, len)
    }

    /// A check of N referents against the M call pins of the current call
    /// compares each referent with O(log M) of them, not all M: the
    /// `readv`-shaped check (16 buffers, each its own call pin) no longer
    /// grows with the product.
    #[test]
    fn a_check_compares_each_referent_with_log_many_call_pins() {
        const M: usize = 32;
        const N: usize = 4096;
        let base = 0x7a00_0000usize;
        let pins: Vec<Region> = (0..M).map(|i| r(base + i * 0x1000, 0x1000)).collect();
        let site = Location::caller();
        let token = calls::publish(&pins, site, 0).expect("a record with room");
        // Referents spread over all the pinned buffers, in no order.
        let items: Vec<Region> = (0..N)
            .map(|i| r(base + (i * 7919 % M) * 0x1000 + (i % 64) * 8, 8))
            .collect();
        COMPARISONS.with(|c| c.set(0));
        let found = super::super::first_uncovered(&items, |it| Some(*it));
        let compared = COMPARISONS.with(|c| c.get());
        calls::release(token);
        assert_eq!(found, None, "every referent lies in a call pin");
        // Binary search over 32 pins: at most 6 comparisons per referent.
        let per_referent = usize::BITS - M.leading_zeros();
        assert!(
            compared <= N * per_referent as usize,
            "{compared} comparisons for {N} referents and {M} call pins"
        );
        assert!(
            compared >= N,
            "each referent was compared with the call pins"
        );
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
        let shared = super::super::pin(r(base + 0x1000, 0x1000), PinKind::Pinner, site);
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
}
