//! A shard's few pins, mirrored in atomics for point questions asked
//! without its lock.
//!
//! `is_pinned` on a pinned address used to take the lock of every shard
//! holding pins, one at a time: a lock pair is about half of what Go's
//! `IsPinnedOnPinned` costs, and the table's lookup behind it the rest
//! (issue 15's `is_pinned_on_pinned` row). Most programs hold a handful of
//! lasting pins at a time, so each shard also keeps, while it holds at most
//! `MIRROR_MAX` pins and all of them sit in its scan list (nothing
//! indexed), their extents here. A reader tests the address against them
//! and takes no lock; a shard holding more says so (`TOO_MANY`), and its
//! readers take the lock as before.
//!
//! # A sequence lock made of atomics
//! Every field is an atomic, so a reader racing with the writer reads
//! stale or mixed values, never undefined behaviour; the sequence word
//! tells it which. The writer (the shard's lock holder, ending a `ShardChange`, the
//! only writer) makes the word odd, rewrites the extents, and makes it even
//! again with a Release store; a reader loads it (Acquire), reads the
//! extents, issues an Acquire fence and loads it again: equal and even
//! means the extents it read are those of one moment between two changes
//! (the pattern of the Linux kernel's seqcount and of crossbeam's
//! `SeqLock`; Boehm, "Can seqlocks get along with programming language
//! memory models?", 2012, the fence version). A reader that sees a change
//! under way answers from the lock instead: it never waits or retries.
//!
//! The word also serves as the shard's *generation*: it moves on every
//! change of the shard's pins (by two), and the checker's sorted copy of
//! the shard's pins (`snapshot`) is current while it has not moved. Under
//! the shard's lock it is always even.
//!
//! # Why the answers are right
//! A pin that happens-before the question was mirrored (or `TOO_MANY`
//! stored) before the Release store of an even word the reader's Acquire
//! load sees or follows, so a consistent read finds it. An unpin is the
//! same: its rewrite leaves the extent out. An answer read between two
//! changes is the answer the locked table gave at that moment.

use super::table::ScanItem;
use core::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Extents a mirror holds: enough for the pins a program usually holds at
/// once in one shard (`Pinner` benchmarks, a few buffers handed to C),
/// and small enough that the mirror and its word fit two cache lines.
pub(super) const MIRROR_MAX: usize = 6;

/// `len` when the shard holds more pins than the mirror (or any indexed
/// pin): readers ask the table under its lock.
const TOO_MANY: u32 = u32::MAX;

/// One shard's mirror (see the module).
pub(super) struct Mirror {
    /// Odd while the writer rewrites the extents; moves by two per change
    /// (the shard's generation).
    seq: AtomicU64,
    /// Extents in use, or `TOO_MANY`. Starts at 0: a shard that never held
    /// a pin mirrors none.
    len: AtomicU32,
    /// Each pin's first byte and its reach: its length, or 1 for a
    /// zero-length pin, which covers its own address (`ScanItem::reach`).
    starts: [AtomicUsize; MIRROR_MAX],
    reaches: [AtomicUsize; MIRROR_MAX],
}

impl Mirror {
    pub(super) const fn new() -> Mirror {
        Mirror {
            seq: AtomicU64::new(0),
            len: AtomicU32::new(0),
            starts: [const { AtomicUsize::new(0) }; MIRROR_MAX],
            reaches: [const { AtomicUsize::new(0) }; MIRROR_MAX],
        }
    }

    /// A change of the shard's pins begins: called under its lock before
    /// the table changes (`shards::ShardChange::begin`), it makes the word odd,
    /// so that lock-free readers take the lock, which the writer holds,
    /// until `publish` ends the change. Before the table changes, not
    /// after: the table's changes become visible without the lock through
    /// the allocator's hints (an unpin lowers them, Release), and a thread
    /// that saw a hint lowered (a block freed as unpinned) must not then
    /// read the old pins here or in the checker's copy keyed by the old
    /// word (`an_unpin_seen_through_the_hints_is_seen_by_every_lock_free_reader`).
    /// A word left odd by a change that panicked moves on by two: odd
    /// still, and never a value a reader holds.
    #[inline]
    pub(super) fn begin_change(&self) {
        let seq = self.seq.load(Ordering::Relaxed);
        // Even `seq` gives `seq + 1`; odd (a change that panicked) gives
        // `seq + 2`: odd either way, without a branch.
        let odd = seq.wrapping_add(1) | 1;
        self.seq.store(odd, Ordering::Relaxed);
        // Orders the odd word before every store of the change (the
        // table's hints, the extents `publish` writes): a reader that
        // reads any of them and then the word sees it odd or moved on.
        fence(Ordering::Release);
    }

    /// The shard's pins changed: mirror `pins` (every live pin's extent,
    /// when there are at most `MIRROR_MAX`, else `None`) and end the change
    /// `begin_change` began, making the word even (Release). Called under
    /// the shard's lock only, after every change (`ShardChange`'s drop).
    #[inline]
    pub(super) fn publish(&self, pins: Option<&[ScanItem]>) {
        let seq = self.seq.load(Ordering::Relaxed);
        debug_assert!(seq & 1 == 1, "a change published without begin_change");
        let done = (seq | 1).wrapping_add(1);
        // A big table stays `TOO_MANY`: no extent to write. The word is
        // still stored with Release, as every even word: a reader that
        // loads it (Acquire) must also see the `TOO_MANY` stored before
        // it, by this thread or by another lock holder (stored Relaxed, a
        // reader confirmed an older publication's extents with it).
        if pins.is_none() && self.len.load(Ordering::Relaxed) == TOO_MANY {
            self.seq.store(done, Ordering::Release);
            return;
        }
        let len = match pins {
            Some(pins) if pins.len() <= MIRROR_MAX => {
                for ((pin, start), reach) in pins.iter().zip(&self.starts).zip(&self.reaches) {
                    start.store(pin.start, Ordering::Relaxed);
                    reach.store(pin.reach, Ordering::Relaxed);
                }
                pins.len() as u32
            }
            _ => TOO_MANY,
        };
        self.len.store(len, Ordering::Relaxed);
        self.seq.store(done, Ordering::Release);
    }

    /// Whether a mirrored pin covers `addr`: `Some` answer when the mirror
    /// holds every pin of the shard and was read between two changes,
    /// `None` when the caller must ask the table under its lock.
    #[inline]
    pub(super) fn covers_point(&self, addr: usize) -> Option<bool> {
        self.covers_point_with_word(addr)
            .map(|(_, covered)| covered)
    }

    /// `covers_point`'s answer with the word that confirmed it: the answer
    /// is that of the pins published when the word was stored.
    #[inline]
    fn covers_point_with_word(&self, addr: usize) -> Option<(u64, bool)> {
        let seq = self.seq.load(Ordering::Acquire);
        let len = self.len.load(Ordering::Relaxed);
        if seq & 1 != 0 || len as usize > MIRROR_MAX {
            return None;
        }
        let mut covered = false;
        for i in 0..len as usize {
            let start = self.starts[i].load(Ordering::Relaxed);
            let reach = self.reaches[i].load(Ordering::Relaxed);
            covered |= addr.wrapping_sub(start) < reach;
        }
        // Orders the loads above before the word's second load (see the
        // module): if the writer stored any value they read, this sees the
        // word moved.
        fence(Ordering::Acquire);
        (self.seq.load(Ordering::Relaxed) == seq).then_some((seq, covered))
    }

    /// The shard's generation: read under its lock, where it is even and
    /// moves on every change of its pins.
    pub(super) fn generation(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }

    /// The generation read without the lock (Acquire): odd while a change
    /// is being published, so never equal to one read under the lock then;
    /// equal to one read under the lock, the shard's pins are what they
    /// were then (every change moves it before the writer's lock is
    /// released, and it never comes back: 2^63 changes would wrap it).
    pub(super) fn generation_now(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::{PinKind, ThreadNumber};
    use crate::region::Region;
    use crate::registry::table::{PinId, Table};
    use core::panic::Location;

    fn pin(table: &mut Table, start: usize, len: usize) -> PinId {
        let region = Region::from_parts(start, len);
        table.pin(
            region,
            PinKind::Pinner,
            Location::caller(),
            ThreadNumber(1),
            0,
        )
    }

    /// Rule: the mirror answers a point question exactly as the table it
    /// mirrors, or not at all. Random pins and unpins (zero-length ones,
    /// overlapping ones, more than `MIRROR_MAX` live), each followed by the
    /// publication a `ShardChange` makes, and after each every address of
    /// the arena asked of both. Fails if the mirror keeps a released pin,
    /// misses a new one, answers for a shard holding more than it mirrors,
    /// or treats a zero-length pin as covering nothing. (Declining while
    /// the table's pins are few and all in its scan list would only cost
    /// speed; it is checked too.)
    #[test]
    fn the_mirror_answers_as_the_table_or_not_at_all() {
        const ARENA: usize = 0x1000;
        const SPAN: usize = 48;
        let steps = if cfg!(miri) { 60 } else { 2000 };
        let mut next = crate::test_rng::xorshift(0x5eed_1e55);
        let (mut table, mirror) = (Table::private(), Mirror::new());
        let mut live: Vec<PinId> = Vec::new();
        let (mut answered, mut declined) = (0usize, 0usize);
        for _ in 0..steps {
            mirror.begin_change();
            if live.len() > 2 * MIRROR_MAX || (!live.is_empty() && next(2) == 0) {
                let id = live.swap_remove(next(live.len()));
                table.unpin(id);
            } else {
                live.push(pin(&mut table, ARENA + next(SPAN), next(4)));
            }
            mirror.publish(table.few_pins(MIRROR_MAX));
            for addr in ARENA - 1..ARENA + SPAN + 4 {
                match mirror.covers_point(addr) {
                    Some(answer) => {
                        assert_eq!(answer, table.covers_point(addr), "at {addr:#x}");
                        answered += 1;
                    }
                    None => {
                        // Only for a table that is not all in its scan
                        // list or holds too many (`few_pins`).
                        assert!(
                            table.few_pins(MIRROR_MAX).is_none(),
                            "declined, {} live",
                            live.len()
                        );
                        declined += 1;
                    }
                }
            }
        }
        assert!(
            answered > 0 && declined > 0,
            "both paths taken: {answered} / {declined}"
        );
    }

    /// Rule: the mirror's word moves on every change of the shard's pins
    /// (it is the generation the checker's sorted copy is keyed by), also
    /// while the shard holds more pins than it mirrors, and is even between
    /// changes.
    #[test]
    fn the_generation_moves_on_every_change_and_is_even_between() {
        let (mut table, mirror) = (Table::private(), Mirror::new());
        let mut seen = vec![mirror.generation()];
        let mut ids = Vec::new();
        for i in 0..2 * MIRROR_MAX {
            mirror.begin_change();
            ids.push(pin(&mut table, 0x10_000 + 64 * i, 8));
            mirror.publish(table.few_pins(MIRROR_MAX));
            seen.push(mirror.generation());
        }
        for id in ids {
            mirror.begin_change();
            table.unpin(id);
            mirror.publish(table.few_pins(MIRROR_MAX));
            seen.push(mirror.generation());
        }
        assert!(seen.iter().all(|g| g % 2 == 0), "{seen:?}");
        assert!(seen.windows(2).all(|w| w[0] != w[1]), "{seen:?}");
    }

    /// Rule: an answer is that of the pins published at the word that
    /// confirmed it, also when the word moved for a change the mirror does
    /// not hold (a shard that stays `TOO_MANY`): every word a reader can
    /// load must order what was published before it, or the reader
    /// confirms extents of an older publication (or a mix of several) with
    /// a newer word.
    ///
    /// Two threads take turns on one shard, as two threads numbered 8
    /// apart do. In round `k` the first publishes one pin at `LOW` (word
    /// `8k + 2`), then one at `HIGH` instead (`8k + 4`), then too many pins,
    /// none at `HIGH` (`8k + 6`); the second adds one more (`8k + 8`: only
    /// the word moves), with no publication of its own before it that a
    /// reader could synchronise with. `HIGH` is covered at words `8k + 4`
    /// alone. Only weak memory shows it: Miri's emulation does, in most of
    /// the 8 seeds scripts/miri.sh runs it under.
    #[test]
    fn an_answer_is_that_of_the_word_that_confirmed_it() {
        use std::sync::atomic::{AtomicBool, AtomicU32};
        use std::sync::{Arc, Mutex};
        const LOW: usize = 0x1000;
        const HIGH: usize = 0x3000;
        const FILLER: usize = 0x10_0000;
        let rounds = if cfg!(miri) { 60 } else { 500 };
        // The shard (its table and the handles its pins hold, under its
        // lock), its mirror, whose turn it is (0: the first writer's, 1:
        // the second's), and "done".
        type Shard = (Mutex<(Table, Vec<PinId>)>, Mirror, AtomicU32, AtomicBool);
        let shard: Arc<Shard> = Arc::new((
            Mutex::new((Table::private(), Vec::new())),
            Mirror::new(),
            AtomicU32::new(0),
            AtomicBool::new(false),
        ));
        let wait_turn = |shard: &Shard, turn| {
            while shard.2.load(Ordering::Acquire) != turn {
                std::thread::yield_now();
            }
        };
        let first = {
            let shard = Arc::clone(&shard);
            std::thread::spawn(move || {
                for _ in 0..rounds {
                    wait_turn(&shard, 0);
                    let mut guard = shard.0.lock().unwrap();
                    let (table, held) = &mut *guard;
                    // Both writers' pins of the last round.
                    shard.1.begin_change();
                    for id in held.drain(..) {
                        table.unpin(id);
                    }
                    let low = pin(table, LOW, 0x10);
                    shard.1.publish(table.few_pins(MIRROR_MAX));
                    shard.1.begin_change();
                    table.unpin(low);
                    let high = pin(table, HIGH, 0x2000);
                    shard.1.publish(table.few_pins(MIRROR_MAX));
                    shard.1.begin_change();
                    table.unpin(high);
                    for i in 0..=MIRROR_MAX {
                        held.push(pin(table, FILLER + 64 * i, 8));
                    }
                    shard.1.publish(table.few_pins(MIRROR_MAX));
                    drop(guard);
                    shard.2.store(1, Ordering::Release);
                }
            })
        };
        let second = {
            let shard = Arc::clone(&shard);
            std::thread::spawn(move || {
                for _ in 0..rounds {
                    wait_turn(&shard, 1);
                    let mut guard = shard.0.lock().unwrap();
                    let (table, held) = &mut *guard;
                    shard.1.begin_change();
                    held.push(pin(table, FILLER + 0x1000, 8));
                    shard.1.publish(table.few_pins(MIRROR_MAX));
                    drop(guard);
                    shard.2.store(0, Ordering::Release);
                }
                shard.3.store(true, Ordering::Release);
            })
        };
        while !shard.3.load(Ordering::Acquire) {
            if let Some((word, covered)) = shard.1.covers_point_with_word(HIGH) {
                assert_eq!(covered, word % 8 == 4, "word {word}");
            }
        }
        first.join().unwrap();
        second.join().unwrap();
    }

    /// Rule: a reader racing with the writer never sees a pin that is not
    /// there or misses one that stays. One thread keeps a pin at `KEPT`
    /// and churns others (a mirrored shard, then one holding too many);
    /// another asks about `KEPT` (always covered) and `NEVER` (never
    /// pinned) without any lock. Under Miri its weak-memory emulation
    /// checks the sequence word's fences.
    #[test]
    fn a_racing_reader_sees_every_kept_pin_and_no_invented_one() {
        use std::sync::atomic::AtomicBool;
        use std::sync::{Arc, Mutex};
        const KEPT: usize = 0x20_000;
        const NEVER: usize = 0x20_100;
        let rounds = if cfg!(miri) { 40 } else { 20_000 };
        let shard = Arc::new((
            Mutex::new(Table::private()),
            Mirror::new(),
            AtomicBool::new(false),
        ));
        {
            let mut table = shard.0.lock().unwrap();
            shard.1.begin_change();
            pin(&mut table, KEPT, 16);
            shard.1.publish(table.few_pins(MIRROR_MAX));
        }
        let writer = {
            let shard = Arc::clone(&shard);
            std::thread::spawn(move || {
                let mut churn = Vec::new();
                for round in 0..rounds {
                    let mut table = shard.0.lock().unwrap();
                    // Grows past the mirror and back: both kinds of change.
                    shard.1.begin_change();
                    if churn.len() < MIRROR_MAX + 2 && round % 16 < 8 {
                        churn.push(pin(&mut table, 0x20_200 + 32 * (round % 7), 24));
                    } else if let Some(id) = churn.pop() {
                        table.unpin(id);
                    }
                    shard.1.publish(table.few_pins(MIRROR_MAX));
                }
                shard.2.store(true, Ordering::Release);
            })
        };
        let mut answers = 0usize;
        while !shard.2.load(Ordering::Acquire) {
            assert_ne!(shard.1.covers_point(KEPT), Some(false), "a kept pin missed");
            assert_ne!(shard.1.covers_point(NEVER), Some(true), "a pin invented");
            answers += 1;
        }
        writer.join().unwrap();
        assert!(answers > 0 || cfg!(miri));
    }

    /// Rule: a change another lock-free reader has seen (the allocator's
    /// hints, which an unpin lowers, Release, while it changes the table)
    /// is seen by the mirror's readers and by the checker's generation
    /// too: they decline or answer after the change, never from before
    /// it. Fails when the word turns odd only after the table changed
    /// (the mirror then still shows the pin to a thread that has seen it
    /// gone).
    #[test]
    fn an_unpin_seen_through_the_hints_is_seen_by_every_lock_free_reader() {
        use std::sync::atomic::AtomicBool;
        use std::sync::{Arc, Mutex};
        const PINNED: usize = 0x30_000;
        let rounds = if cfg!(miri) { 8 } else { 500 };
        for round in 0..rounds {
            // The table under its lock, its mirror, and a stand-in for the
            // hint the unpin lowers.
            let shard = Arc::new((
                Mutex::new(Table::private()),
                Mirror::new(),
                AtomicBool::new(false),
            ));
            let id = {
                let mut table = shard.0.lock().unwrap();
                shard.1.begin_change();
                let id = pin(&mut table, PINNED, 32);
                shard.1.publish(table.few_pins(MIRROR_MAX));
                id
            };
            let before = shard.1.generation_now();
            let writer = {
                let shard = Arc::clone(&shard);
                std::thread::spawn(move || {
                    let mut table = shard.0.lock().unwrap();
                    shard.1.begin_change();
                    // `Table::unpin` lowers the hints as it removes the pin.
                    shard.2.store(true, Ordering::Release);
                    table.unpin(id);
                    shard.1.publish(table.few_pins(MIRROR_MAX));
                })
            };
            while !shard.2.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
            assert_ne!(
                shard.1.covers_point(PINNED),
                Some(true),
                "round {round}: a pin seen gone answered pinned"
            );
            assert_ne!(
                shard.1.generation_now(),
                before,
                "round {round}: the generation had not moved"
            );
            writer.join().unwrap();
        }
    }
}
