//! The registry is process-wide: pins made on one thread are seen on every
//! thread, a `Pinner` can be moved to and released on another thread, and
//! concurrent pins of overlapping memory keep exact counts.

use pointer_escapes::*;
use std::sync::mpsc;
use std::sync::Barrier;
use std::thread;

fn assert_send<T: Send>() {}

/// A pin made on one thread is seen by `is_pinned` on another, and so is its
/// release.
pub fn pin_on_one_thread_is_seen_on_another() {
    let buf = vec![0u8; 128];
    let addr = buf.as_ptr() as usize;
    let (pinned_tx, pinned_rx) = mpsc::channel();
    let (checked_tx, checked_rx) = mpsc::channel::<()>();
    thread::scope(|s| {
        let buf = &buf;
        s.spawn(move || {
            let mut pinner = Pinner::new();
            pinner.pin_slice(buf);
            pinned_tx.send(()).unwrap();
            checked_rx.recv().unwrap();
            pinner.unpin();
            pinned_tx.send(()).unwrap();
        });
        pinned_rx.recv().unwrap();
        assert!(is_pinned(addr as *const u8), "pin made on another thread");
        assert!(is_region_pinned(addr as *const u8, 128));
        assert_eq!(pin_count(addr as *const u8), 1);
        checked_tx.send(()).unwrap();
        pinned_rx.recv().unwrap();
        assert!(!is_pinned(addr as *const u8), "released on another thread");
    });
}

/// `Pinner` is `Send`: pinned here, moved to another thread, unpinned there;
/// every thread sees the same state. The pinner is reusable over there.
pub fn pinner_moves_to_another_thread_and_unpins_there() {
    assert_send::<Pinner<'static>>();
    let a = vec![1u8; 64];
    let b = vec![2u8; 64];
    let a_addr = a.as_ptr() as usize;
    let mut pinner = Pinner::new();
    pinner.pin_slice(&a);
    pinner.pin_slice(&a);
    assert_eq!(pin_count(a.as_ptr()), 2);
    thread::scope(|s| {
        let b = &b;
        let back = s
            .spawn(move || {
                let a = a_addr as *const u8;
                assert_eq!(pin_count(a), 2, "the other thread sees the pins");
                pinner.unpin();
                assert!(!is_pinned(a));
                pinner.pin_slice(b);
                pinner
            })
            .join()
            .unwrap();
        assert!(!is_pinned(a.as_ptr()), "unpinned on the other thread");
        assert!(is_pinned(b.as_ptr()), "pinned on the other thread");
        assert_eq!(back.len(), 1);
        drop(back);
        assert!(!is_pinned(b.as_ptr()));
    });
}

/// Many threads pinning one object at once: the count is the sum, and goes
/// back to zero when they all release.
pub fn concurrent_pins_of_one_object_are_counted() {
    const THREADS: usize = 8;
    const PINS: usize = 500;
    let obj = Box::new([0u64; 4]);
    let addr: *const [u64; 4] = &*obj;
    let all_pinned = Barrier::new(THREADS + 1);
    let checked = Barrier::new(THREADS + 1);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                let mut pinner = Pinner::new();
                for _ in 0..PINS {
                    pinner.pin(&*obj);
                }
                all_pinned.wait();
                checked.wait();
                drop(pinner);
            });
        }
        all_pinned.wait();
        assert_eq!(pin_count(addr), THREADS * PINS);
        checked.wait();
    });
    assert_eq!(pin_count(addr), 0);
    assert!(!is_pinned(addr));
}

/// xorshift64*: a small deterministic generator, one per thread.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Threads pinning and releasing overlapping pieces of one buffer, each
/// checking its own pins while others come and go; at the end no byte is
/// pinned.
pub fn concurrent_overlapping_pins_stay_consistent() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 5_000;
    const LEN: usize = 4096;
    let buf = vec![0u8; LEN];
    thread::scope(|s| {
        for t in 0..THREADS {
            let buf = &buf;
            s.spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
                let mut pinner = Pinner::new();
                for round in 0..ROUNDS {
                    let start = rng.below(LEN);
                    let len = 1 + rng.below(LEN - start);
                    let piece = &buf[start..start + len];
                    let p = pinner.pin_slice(piece);
                    assert!(is_region_pinned(p, len), "thread {t} round {round}");
                    assert!(pin_count(p) >= 1);
                    if rng.below(4) == 0 {
                        pinner.unpin();
                    }
                }
            });
        }
    });
    for (i, byte) in buf.iter().enumerate() {
        assert_eq!(pin_count(byte), 0, "byte {i} still pinned");
    }
}

/// The report names the thread that made a pin.
pub fn snapshot_names_the_pinning_thread() {
    let buf = vec![0u8; 40];
    let here = ThreadNumber::current();
    let (tx, rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    thread::scope(|s| {
        let buf = &buf;
        s.spawn(move || {
            let mut pinner = Pinner::new();
            pinner.pin_slice(buf);
            tx.send(ThreadNumber::current()).unwrap();
            done_rx.recv().unwrap();
            drop(pinner);
        });
        let there = rx.recv().unwrap();
        assert_ne!(here, there);
        assert!(!there.is_main());
        let snap = snapshot();
        // Release the pinning thread before asserting, so that a failure
        // fails the test instead of hanging the scope.
        done_tx.send(()).unwrap();
        let mine: Vec<_> = snap
            .pins
            .iter()
            .filter(|p| p.region == Region::of_slice(buf))
            .collect();
        assert_eq!(mine.len(), 1, "{snap}");
        assert_eq!(mine[0].thread, there);
        // By name (a scoped thread has none) and OS thread id.
        let shown = there.to_string();
        assert!(shown.starts_with("<unnamed> (tid "), "{shown}");
        assert!(snap.to_string().contains(&shown), "{snap}");
    });
}

macro_rules! registry_threads_tests {
    () => {
        crate::common::scenario_tests!(registry_threads:
            pin_on_one_thread_is_seen_on_another,
            pinner_moves_to_another_thread_and_unpins_there,
            concurrent_pins_of_one_object_are_counted,
            concurrent_overlapping_pins_stay_consistent,
            snapshot_names_the_pinning_thread,
        );
    };
}
pub(crate) use registry_threads_tests as tests;
