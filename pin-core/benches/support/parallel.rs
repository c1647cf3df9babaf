//! Go's `b.RunParallel` for criterion benches (`pinner.rs`, `call_pins.rs`):
//! `iters` operations shared by threads that start together, handed out as
//! Go's `testing.PB` hands them out.
//!
//! Go does not split `b.N` into equal shares: each goroutine takes
//! iterations from one shared count, `grain` at a time (`PB.Next`), so a
//! goroutine on a CPU that runs faster (on a shared VM host the two vCPUs
//! often do not run at the same speed) does more of them, and the wall
//! time is that of the work, not of the slowest share. Equal shares made
//! the slower thread set our figure alone: on this machine two processes
//! of the single-thread bench ran 32.9 and 41.4 ns per op in one minute:
//! equal shares of that work would take 41.4 / 2 = 20.7 ns per op, taking
//! turns 18.3 (BENCHMARKS.md, "Issue 15: eighth session").

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Go's cap on `grain`: "do not do more than 100µs/10ns=1e4 iterations".
const MAX_GRAIN: u64 = 10_000;

/// A thread's view of the shared count: Go's `testing.PB`.
pub struct Share<'a> {
    /// Iterations handed out so far, by all threads (Go's `globalN`).
    taken: &'a AtomicU64,
    /// Iterations to run in all (Go's `bN`).
    total: u64,
    /// Iterations taken at once (Go's `grain`).
    grain: u64,
    /// Iterations this thread took and has not run yet (Go's `cache`).
    cache: u64,
}

impl Share<'_> {
    /// Whether to run one more iteration (Go's `PB.Next`, line for line).
    #[inline]
    pub fn next(&mut self) -> bool {
        if self.cache == 0 {
            let n = self.taken.fetch_add(self.grain, Ordering::Relaxed) + self.grain;
            if n <= self.total {
                self.cache = self.grain;
            } else if n < self.total + self.grain {
                self.cache = self.total + self.grain - n;
            } else {
                return false;
            }
        }
        self.cache -= 1;
        true
    }
}

/// Runs `iters` iterations over `threads` threads that start together,
/// each calling `work` once with its `Share` (whose `next` it loops on, as
/// a Go body loops on `pb.Next()`), and returns the wall time from the
/// first start to the last finish: criterion divides it by `iters`, which
/// is Go's ns/op for `RunParallel` (wall time / total operations).
///
/// Go sizes `grain` to about 100 µs of its previous run's iterations, at
/// most 10 000; criterion tells a custom loop no previous time, so this
/// takes a hundredth of each thread's even share, within Go's bounds: each
/// thread takes its iterations in at least about a hundred turns, and the
/// shared count is touched once per `grain` iterations.
pub fn run_parallel_on(threads: u64, iters: u64, work: impl Fn(&mut Share<'_>) + Sync) -> Duration {
    let barrier = Barrier::new(threads as usize);
    let taken = AtomicU64::new(0);
    let grain = (iters / (threads * 100)).clamp(1, MAX_GRAIN);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (barrier, work, taken) = (&barrier, &work, &taken);
                s.spawn(move || {
                    let mut share = Share {
                        taken,
                        total: iters,
                        grain,
                        cache: 0,
                    };
                    barrier.wait();
                    let start = Instant::now();
                    work(&mut share);
                    (start, Instant::now())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a bench thread panicked"))
            .collect()
    });
    assert!(
        taken.load(Ordering::Relaxed) >= iters,
        "the bench bodies stopped before every iteration was handed out"
    );
    let first = spans.iter().map(|s| s.0).min().expect("the threads ran");
    let last = spans.iter().map(|s| s.1).max().expect("the threads ran");
    last - first
}
