//! Go's `b.RunParallel` for criterion benches (`pinner.rs`, `call_pins.rs`):
//! `iters` operations split over threads that start together.

use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Runs `iters` operations split over `threads` threads that start
/// together, and returns the wall time from the first start to the last
/// finish: criterion divides it by `iters`, which is Go's ns/op for
/// `RunParallel` (wall time / total operations).
pub fn run_parallel_on(threads: u64, iters: u64, work: impl Fn(u64) + Sync) -> Duration {
    let barrier = Barrier::new(threads as usize);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let share = iters / threads + u64::from(t < iters % threads);
                let (barrier, work) = (&barrier, &work);
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    work(share);
                    (start, Instant::now())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a bench thread panicked"))
            .collect()
    });
    let first = spans.iter().map(|s| s.0).min().expect("the threads ran");
    let last = spans.iter().map(|s| s.1).max().expect("the threads ran");
    last - first
}
