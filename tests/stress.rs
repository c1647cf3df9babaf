//! Concurrency stress of the registry and the pin-aware allocator.
//!
//! `registry_under_contention`: four threads run 100 000 random operations
//! each on overlapping regions of one shared arena: `Pinner` pins, unpins and
//! reuse, `OwnedPin`s created on one thread and released on another,
//! `with_pinned`, the pins of `#[pointer_escapes]` calls (`CallPins`), and
//! queries of what the other threads hold. Invariants asserted throughout:
//! - a region a thread holds pinned is seen pinned by every thread (home
//!   regions held for the whole run, and an "announced" region each thread
//!   republishes, read through a sequence lock so that a reader only judges
//!   answers given while the pin was certainly live);
//! - `pin_count(a)` is at least the number of the caller's own pins on `a`;
//! - at the end, nothing in the arena is pinned (`pin_count` 0 everywhere).
//!
//! `allocator_under_contention`: with `PinAwareAlloc` installed as this
//! binary's allocator, threads free and grow heap blocks that other threads
//! have pinned, write into those blocks after the free or the move (as C
//! holding the pointer would), and verify that every live buffer of every
//! thread still holds exactly what its owner wrote. A block handed back to
//! the allocator while pinned would be reused and show up as corruption.
//!
//! Both run under a watchdog: a deadlock fails the test with a message after
//! `DEADLINE` instead of hanging CI. Under Miri the counts are tiny.

#![deny(unsafe_op_in_unsafe_fn)]

use pointer_escapes::__private::{CallPins, Extent};
use pointer_escapes::{
    is_pinned, is_region_pinned, pin_count, set_check_mode, snapshot, with_pinned, CheckMode,
    OwnedPin, PinAwareAlloc, Pinner, Region, StableBuf,
};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: PinAwareAlloc = PinAwareAlloc::system();

const THREADS: usize = 4;
const OPS: usize = if cfg!(miri) { 40 } else { 100_000 };
const ALLOC_OPS: usize = if cfg!(miri) { 40 } else { 30_000 };
const ARENA: usize = if cfg!(miri) { 256 } else { 4096 };
/// Spread of the allocator test's buffer sizes, and what its grown buffers
/// grow to (bytes). Smaller under Miri, where every byte `Tagged::verify`
/// reads is interpreted (the allocator test took 4 minutes there with the
/// native sizes); they still span several of the allocator hints' granules.
const BUF_SPREAD: usize = if cfg!(miri) { 256 } else { 2048 };
const GROWN: usize = if cfg!(miri) { 512 } else { 4096 };
/// Each thread's home region, held for the whole run.
const HOME: usize = ARENA / THREADS / 2;
/// Far beyond a normal run (a few seconds in a debug build). Miri's clock
/// runs at its own pace and Miri reports real deadlocks itself.
const DEADLINE: Duration = Duration::from_secs(if cfg!(miri) { 86_400 } else { 300 });

/// The two tests take turns: each is meant to run four threads on this
/// 2-core machine, and eight spinning threads at once only measure the
/// scheduler.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `body` on its own thread and waits at most `DEADLINE` for it; a
/// panic inside is re-raised here, a timeout fails with a message.
fn within_deadline(name: &str, body: impl FnOnce() + Send + 'static) {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let (done, finished) = mpsc::channel::<()>();
    let runner = thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            body();
            let _ = done.send(());
        })
        .expect("spawn the stress runner");
    let started = Instant::now();
    match finished.recv_timeout(DEADLINE) {
        Ok(()) => runner.join().expect("the runner finished"),
        Err(RecvTimeoutError::Disconnected) => {
            if let Err(panic) = runner.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(RecvTimeoutError::Timeout) => panic!(
            "stress test `{name}` did not finish within {:?}: its threads are stuck \
             (a deadlock or livelock in the registry's lock or the allocator)",
            started.elapsed()
        ),
    }
}

/// A small deterministic generator per thread (no shared state, no
/// allocation).
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A region of the arena: usually short, sometimes empty, sometimes
    /// long, so that regions of different threads overlap.
    fn span(&mut self) -> (usize, usize) {
        let off = self.below(ARENA);
        let len = match self.below(8) {
            0 => 0,
            1..=5 => 1 + self.below(64),
            6 => 1 + self.below(600),
            _ => ARENA,
        };
        (off, len.min(ARENA - off))
    }
}

/// A slice of the shared arena owned by an `OwnedPin`.
struct ArenaSpan {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the arena outlives every thread of the run (they are scoped) and
// is never written, so the span may move between threads.
unsafe impl Send for ArenaSpan {}

// SAFETY: the arena stays in place until every `ArenaSpan` is gone, and is
// freed by its owner through the global allocator; a span's drop does
// nothing to it.
unsafe impl StableBuf for ArenaSpan {
    type Elem = u8;
    fn stable_ptr(&self) -> *const u8 {
        self.ptr
    }
    fn stable_len(&self) -> usize {
        self.len
    }
}

/// A region one thread publishes while it holds it pinned (a sequence
/// lock). `seq` is odd while the region is pinned and published: the owner
/// pins, stores the region, then makes `seq` odd; it makes `seq` even before
/// unpinning. Everything is `SeqCst` so that the reader's loads of the
/// region cannot drift past its second load of `seq`.
#[derive(Default)]
struct Announcement {
    seq: AtomicU64,
    off: AtomicUsize,
    len: AtomicUsize,
}

impl Announcement {
    fn withdraw(&self) {
        if self.seq.load(Ordering::SeqCst) % 2 == 1 {
            self.seq.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Call with the region already pinned.
    fn publish(&self, off: usize, len: usize) {
        debug_assert!(self.seq.load(Ordering::SeqCst) % 2 == 0);
        self.off.store(off, Ordering::SeqCst);
        self.len.store(len, Ordering::SeqCst);
        self.seq.fetch_add(1, Ordering::SeqCst);
    }
}

struct Shared<'a> {
    arena: &'a [u8],
    announced: Vec<Announcement>,
    start: Barrier,
    done_sending: Barrier,
    done_checking: Barrier,
    /// Checks of other threads' pins that saw a live pin (for the figures).
    cross_checks: AtomicU64,
}

impl Shared<'_> {
    fn at(&self, off: usize) -> *const u8 {
        self.arena.as_ptr().wrapping_add(off)
    }

    fn home(&self, t: usize) -> (usize, usize) {
        (t * (ARENA / THREADS), HOME)
    }

    /// Every thread's home region is pinned, whoever asks.
    fn check_homes(&self) {
        for t in 0..THREADS {
            let (off, len) = self.home(t);
            assert!(
                is_region_pinned(self.at(off), len),
                "thread {t}'s home region is not seen pinned from {:?}",
                thread::current().name()
            );
            assert!(pin_count(self.at(off + len / 2)) >= 1);
        }
    }

    /// Reads thread `t`'s announcement; if it was published before the
    /// query and not withdrawn after it, the region must have been seen
    /// pinned.
    fn check_announcement(&self, t: usize) {
        let a = &self.announced[t];
        // The owner pinned before making `seq` odd, so a reader that sees
        // it odd asks after the pin (the registry lock orders the two); the
        // owner makes it even before unpinning, so a query that could have
        // missed the pin is followed by a changed `seq` and not judged.
        let before = a.seq.load(Ordering::SeqCst);
        if before % 2 == 0 {
            return;
        }
        let (off, len) = (a.off.load(Ordering::SeqCst), a.len.load(Ordering::SeqCst));
        let pinned = is_region_pinned(self.at(off), len);
        let count = pin_count(self.at(off));
        let after = a.seq.load(Ordering::SeqCst);
        if before == after {
            assert!(
                pinned && count >= 1,
                "thread {t} holds {off}+{len} pinned but another thread sees pinned={pinned}, \
                 pin_count={count}"
            );
            self.cross_checks.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What one thread holds, mirrored so it can assert lower bounds on counts.
struct Mine<'a> {
    base: usize,
    pinner: Pinner<'a>,
    pinned: Vec<(usize, usize)>,
    announcer: Pinner<'a>,
    received: Vec<OwnedPin<ArenaSpan>>,
}

impl Mine<'_> {
    /// How many pins this thread holds on `off` (home excluded).
    fn own_count(&self, off: usize) -> usize {
        let covers = |(o, l): (usize, usize)| {
            if l == 0 {
                off == o
            } else {
                o <= off && off < o + l
            }
        };
        let received = self
            .received
            .iter()
            .map(|p| (p.region().addr() - self.base, p.region().len()));
        self.pinned
            .iter()
            .copied()
            .chain(received)
            .filter(|&s| covers(s))
            .count()
    }
}

fn worker(
    t: usize,
    shared: &Shared<'_>,
    to_next: Sender<OwnedPin<ArenaSpan>>,
    from_prev: Receiver<OwnedPin<ArenaSpan>>,
) {
    let mut rng = XorShift::new(t as u64 + 1);
    let base = shared.arena.as_ptr() as usize;
    let mut home = Pinner::new();
    let (home_off, home_len) = shared.home(t);
    home.pin_slice(&shared.arena[home_off..home_off + home_len]);
    shared.start.wait();

    let mut mine = Mine {
        base,
        pinner: Pinner::new(),
        pinned: Vec::new(),
        announcer: Pinner::new(),
        received: Vec::new(),
    };
    let relative = |r: Region| (r.addr() - base, r.len());
    let announce = &shared.announced[t];

    for i in 0..OPS {
        match rng.below(16) {
            0..=3 => {
                let (off, len) = rng.span();
                let p = mine.pinner.pin_slice(&shared.arena[off..off + len]);
                mine.pinned.push((off, len));
                assert!(is_pinned(p), "own pin of {off}+{len} not seen");
                assert!(is_region_pinned(p, len));
                let own = mine.own_count(off);
                let seen = pin_count(p);
                assert!(
                    seen >= own,
                    "pin_count {seen} below this thread's own {own} pins at {off}"
                );
            }
            4 => {
                // Reuse: release everything and keep pinning with the
                // same pinner.
                mine.pinner.unpin();
                mine.pinned.clear();
            }
            5 => {
                // Re-announce: withdraw, unpin, pin another region, publish.
                announce.withdraw();
                mine.announcer.unpin();
                let (off, len) = rng.span();
                mine.announcer.pin_slice(&shared.arena[off..off + len]);
                announce.publish(off, len);
            }
            6..=7 => {
                for other in 0..THREADS {
                    shared.check_announcement(other);
                }
            }
            8 => {
                let (off, len) = rng.span();
                let pin = OwnedPin::new(ArenaSpan {
                    ptr: shared.at(off),
                    len,
                });
                assert!(is_pinned(pin.as_ptr()));
                to_next
                    .send(pin)
                    .expect("the next thread receives until the end");
            }
            9 => {
                while let Ok(pin) = from_prev.try_recv() {
                    let r = pin.region();
                    assert!(
                        is_region_pinned(r.addr() as *const u8, r.len()),
                        "received OwnedPin not pinned"
                    );
                    mine.received.push(pin);
                }
                while mine.received.len() > 4 {
                    let k = rng.below(mine.received.len());
                    let pin = mine.received.swap_remove(k);
                    let (off, _) = relative(pin.region());
                    let own = mine.own_count(off) + 1;
                    assert!(pin_count(shared.at(off)) >= own);
                    let _ = pin.into_inner();
                }
            }
            10 => shared.check_homes(),
            11 => {
                let (a, b) = (rng.span(), rng.span());
                let regions = [
                    Region::of_slice(&shared.arena[a.0..a.0 + a.1]),
                    Region::of_slice(&shared.arena[b.0..b.0 + b.1]),
                ];
                with_pinned(&regions, || {
                    assert!(is_region_pinned(shared.at(a.0), a.1));
                    assert!(is_region_pinned(shared.at(b.0), b.1));
                });
            }
            12 => {
                // The pins of one `#[pointer_escapes]` call.
                let spans: Vec<(usize, usize)> =
                    (0..1 + rng.below(3)).map(|_| rng.span()).collect();
                let call = CallPins::new("stress_call", |call| {
                    for &(off, len) in &spans {
                        let ptr = shared.at(off);
                        // SAFETY: no check function, so nothing is read.
                        unsafe { call.pointer("buf", &ptr, Extent::bytes(len), None) };
                    }
                });
                for &(off, len) in &spans {
                    assert!(
                        is_region_pinned(shared.at(off), len),
                        "call pin of {off}+{len} not seen"
                    );
                }
                drop(call);
            }
            13 => {
                if mine.pinned.len() > 32 {
                    mine.pinner = Pinner::new();
                    mine.pinned.clear();
                }
            }
            _ => {
                // Read traffic on arbitrary addresses, including other
                // threads' regions being pinned and unpinned right now.
                let (off, len) = rng.span();
                let _ = is_region_pinned(shared.at(off), len);
                let _ = pin_count(shared.at(off));
            }
        }
        if i % 1024 == 0 {
            shared.check_homes();
        }
    }

    // Withdraw the announcement, release everything, then give back the
    // OwnedPins still in flight once every sender is done.
    announce.withdraw();
    drop(mine.announcer);
    drop(mine.pinner);
    drop(to_next);
    shared.done_sending.wait();
    for pin in mine.received.drain(..).chain(from_prev.iter()) {
        let _ = pin.into_inner();
    }
    shared.check_homes();
    shared.done_checking.wait();
    drop(home);
}

#[test]
fn registry_under_contention() {
    within_deadline("registry_under_contention", || {
        let arena = vec![0u8; ARENA];
        let shared = Shared {
            arena: &arena,
            announced: (0..THREADS).map(|_| Announcement::default()).collect(),
            start: Barrier::new(THREADS),
            done_sending: Barrier::new(THREADS),
            done_checking: Barrier::new(THREADS),
            cross_checks: AtomicU64::new(0),
        };
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..THREADS).map(|_| mpsc::channel()).unzip();
        thread::scope(|s| {
            let mut receivers: Vec<Option<Receiver<_>>> = receivers.into_iter().map(Some).collect();
            for t in 0..THREADS {
                // Thread t sends to t + 1 and receives from t - 1.
                let to_next = senders[(t + 1) % THREADS].clone();
                let from_prev = receivers[t].take().expect("each receiver once");
                let shared = &shared;
                thread::Builder::new()
                    .name(format!("stress-{t}"))
                    .spawn_scoped(s, move || worker(t, shared, to_next, from_prev))
                    .expect("spawn a worker");
            }
            drop(senders);
        });
        for off in 0..ARENA {
            let p = shared.at(off);
            assert_eq!(
                pin_count(p),
                0,
                "arena byte {off} still pinned after the run"
            );
            assert!(!is_pinned(p));
        }
        assert!(!is_region_pinned(arena.as_ptr(), 1));
        let judged = shared.cross_checks.load(Ordering::Relaxed);
        assert!(
            judged > 0,
            "no thread ever observed another's published pin: the test checked nothing"
        );
        println!(
            "registry_under_contention: {THREADS} threads x {OPS} operations; \
             {judged} checks of another thread's live pin"
        );
    });
}

// ------------------------------------------------------------- allocator

/// A buffer whose every byte is `tag`, so corruption is visible.
struct Tagged {
    buf: Vec<u8>,
    tag: u8,
}

impl Tagged {
    fn new(len: usize, tag: u8) -> Tagged {
        Tagged {
            buf: vec![tag; len],
            tag,
        }
    }

    #[track_caller]
    fn verify(&self) {
        if let Some(i) = self.buf.iter().position(|&b| b != self.tag) {
            panic!(
                "buffer at {:p} ({} bytes) was overwritten at byte {i}: {:#x} instead of {:#x}; \
                 the allocator reused a block that was still pinned",
                self.buf.as_ptr(),
                self.buf.len(),
                self.buf[i],
                self.tag
            );
        }
    }
}

/// A block this thread pinned and handed to another thread to free: "C"
/// keeps writing into it after the free, until the pin is released.
struct Handed {
    addr: usize,
    len: usize,
    /// Held, not read: dropping it releases the block.
    _pin: Pinner<'static>,
    /// Set once the other thread freed the block: writes still to make.
    writes_left: Option<u32>,
}

fn alloc_worker(
    t: usize,
    to_next: Sender<(Vec<u8>, usize)>,
    from_prev: Receiver<(Vec<u8>, usize)>,
    acks_out: Vec<Sender<usize>>,
    acks_in: Receiver<usize>,
    start: &Barrier,
    done: &Barrier,
) {
    let mut rng = XorShift::new(100 + t as u64);
    let tag = |i: usize| (t as u8 + 1) << 5 | (i as u8 & 0x1f);
    let mut live: Vec<Tagged> = Vec::new();
    // Blocks handed to the next thread, each with its pin: released once
    // "C" is done writing after the other thread freed the block.
    let mut handed: Vec<Handed> = Vec::new();
    start.wait();

    for i in 0..ALLOC_OPS {
        match rng.below(10) {
            0..=2 => live.push(Tagged::new(16 + rng.below(BUF_SPREAD), tag(i))),
            3 => {
                if !live.is_empty() {
                    let k = rng.below(live.len());
                    live.swap_remove(k).verify();
                }
            }
            4 => {
                // Pin a buffer and hand it to the next thread, which frees
                // it while it is pinned.
                let b = Tagged::new(64 + rng.below(BUF_SPREAD / 2), tag(i));
                let (addr, len) = (b.buf.as_ptr() as usize, b.buf.len());
                let mut pin = Pinner::new();
                // SAFETY: the block is quarantined by PinAwareAlloc once
                // freed, so it stays allocated until this pin is released.
                unsafe { pin.pin_raw(addr as *const u8, len) };
                handed.push(Handed {
                    addr,
                    len,
                    _pin: pin,
                    writes_left: None,
                });
                to_next.send((b.buf, t)).expect("the next thread receives");
            }
            5 => {
                // Free what the previous thread handed over (pinned there),
                // and tell its owner.
                while let Ok((buf, owner)) = from_prev.try_recv() {
                    let addr = buf.as_ptr() as usize;
                    drop(buf);
                    acks_out[owner].send(addr).expect("the owner listens");
                }
            }
            6 => {
                // Blocks our pins cover were freed: C writes into them.
                while let Ok(addr) = acks_in.try_recv() {
                    let h = handed
                        .iter_mut()
                        .find(|h| h.addr == addr && h.writes_left.is_none())
                        .expect("an ack names a block this thread handed over");
                    h.writes_left = Some(3);
                }
                for h in &mut handed {
                    if let Some(left) = &mut h.writes_left {
                        assert!(is_region_pinned(h.addr as *const u8, h.len));
                        // SAFETY: the block is pinned and freed, hence
                        // quarantined: allocated memory nobody else owns.
                        unsafe { core::ptr::write_bytes(h.addr as *mut u8, 0xEE, h.len) };
                        *left -= 1;
                    }
                }
                // Releasing the pin hands the block back to the allocator.
                handed.retain(|h| h.writes_left != Some(0));
            }
            7 => {
                // Grow a pinned Vec: realloc moves the contents and keeps
                // the old block quarantined; C's writes there are lost but
                // harm nobody.
                let mut b = Tagged::new(32, tag(i));
                let old = b.buf.as_ptr() as usize;
                let mut grow = Pinner::new();
                // SAFETY: quarantine keeps the old block allocated.
                unsafe { grow.pin_raw(old as *const u8, 32) };
                b.buf.resize(GROWN, b.tag);
                assert_ne!(
                    b.buf.as_ptr() as usize,
                    old,
                    "a pinned block must not be grown in place"
                );
                // SAFETY: as above: the old block is quarantined.
                unsafe { core::ptr::write_bytes(old as *mut u8, 0xEE, 32) };
                b.verify();
                drop(grow);
                live.push(b);
            }
            _ => {
                for b in &live {
                    b.verify();
                }
                if live.len() > 48 {
                    live.drain(..24).for_each(|b| b.verify());
                }
            }
        }
    }
    drop(to_next);
    done.wait();
    // Drain: free what is still in flight, collect every ack, then unpin.
    for (buf, owner) in from_prev.iter() {
        let addr = buf.as_ptr() as usize;
        drop(buf);
        acks_out[owner].send(addr).expect("the owner listens");
    }
    drop(acks_out);
    for addr in acks_in.iter() {
        let h = handed
            .iter_mut()
            .find(|h| h.addr == addr && h.writes_left.is_none())
            .expect("an ack names a block this thread handed over");
        h.writes_left = Some(0);
    }
    assert!(
        handed.iter().all(|h| h.writes_left.is_some()),
        "every handed block was freed by its receiver"
    );
    drop(handed);
    live.iter().for_each(Tagged::verify);
}

#[test]
fn allocator_under_contention() {
    within_deadline("allocator_under_contention", || {
        // Freed-while-pinned is the scenario here: keep stderr quiet (each
        // event prints a line in checked mode). Nothing else in this binary
        // depends on the mode: call pins are made because PinAwareAlloc is
        // installed.
        set_check_mode(CheckMode::Off);
        let before = snapshot();
        let start = Barrier::new(THREADS);
        let done = Barrier::new(THREADS);
        let (block_tx, block_rx): (Vec<_>, Vec<_>) = (0..THREADS).map(|_| mpsc::channel()).unzip();
        let (ack_tx, ack_rx): (Vec<Sender<usize>>, Vec<_>) =
            (0..THREADS).map(|_| mpsc::channel()).unzip();
        thread::scope(|s| {
            let mut block_rx: Vec<Option<_>> = block_rx.into_iter().map(Some).collect();
            let mut ack_rx: Vec<Option<_>> = ack_rx.into_iter().map(Some).collect();
            for t in 0..THREADS {
                let to_next = block_tx[(t + 1) % THREADS].clone();
                let from_prev = block_rx[t].take().expect("once");
                let acks_in = ack_rx[t].take().expect("once");
                let acks_out = ack_tx.clone();
                let (start, done) = (&start, &done);
                thread::Builder::new()
                    .name(format!("alloc-stress-{t}"))
                    .spawn_scoped(s, move || {
                        alloc_worker(t, to_next, from_prev, acks_out, acks_in, start, done)
                    })
                    .expect("spawn a worker");
            }
            drop(block_tx);
            drop(ack_tx);
        });
        let after = snapshot();
        assert!(after.allocator_installed);
        assert!(
            after.freed_while_pinned > before.freed_while_pinned,
            "no block was freed while pinned: the scenario did not run"
        );
        assert!(after.moved_while_pinned > before.moved_while_pinned);
        println!(
            "allocator_under_contention: {THREADS} threads x {ALLOC_OPS} operations; \
             {} blocks freed while pinned, {} moved while pinned",
            after.freed_while_pinned - before.freed_while_pinned,
            after.moved_while_pinned - before.moved_while_pinned
        );
        // Every pin of this test is released, so none of its blocks is left
        // in quarantine (blocks a failed earlier test left are not ours).
        assert!(
            after.quarantined_blocks <= before.quarantined_blocks,
            "blocks stayed in quarantine after every pin was released:\n{after}"
        );
    });
}
