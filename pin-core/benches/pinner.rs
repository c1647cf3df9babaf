//! Go's `runtime.Pinner` benchmarks, mirrored one for one.
//!
//! Each bench does what its namesake in `GOROOT/src/runtime/pinner_test.go`
//! does (`BenchmarkPinnerPinUnpin` is `pin_unpin`, and so on), so that the
//! two can be compared line by line in BENCHMARKS.md:
//! - Go's `obj` is `struct { x, y, z int64 }` allocated with `new(obj)`: here
//!   a `Box<Obj>` of three `i64`. Go's "tiny" object is `new(bool)`: here a
//!   `Box<bool>`.
//! - Every iteration makes a fresh pinner, pins and unpins, as Go's
//!   `var pinner runtime.Pinner` inside the loop does.
//! - The parallel benches run 2 threads (Go's `b.RunParallel` with
//!   GOMAXPROCS=2 on this machine) that take their iterations in turns from
//!   one shared count, as Go's `pb.Next()` does (`support/parallel.rs`), and
//!   report wall time divided by the total number of operations, as Go
//!   does. `pin_unpin_parallel/T` takes the thread count as its parameter
//!   (2, 4 and 8; Go's `-test.cpu=T`): on this 2-core machine 4 and 8
//!   threads are oversubscribed, which shows what a lock held by a
//!   preempted thread costs the others.
//!
//! Beyond Go's set: `pin_unpin_with_live/N` (the same pin/unpin with N other
//! pins live, to show the registry's cost does not grow with its size) and
//! `is_pinned_on_unpinned_with_pins_live` (the registry lookup that Go's
//! "on unpinned" case never reaches here, because with no pin live the
//! answer takes one atomic load).
//!
//! `floor/*`: the part of a pin + unpin (and of `is_pinned`) that this
//! design cannot shed whatever its table does (see `floor`). `machine/*`:
//! how much two threads gain over one on this machine for work sharing
//! nothing (see `machine`), the bound of the parallel rows' gain.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use pin_core::{check_mode, is_pinned, set_check_mode, snapshot, CheckMode, Pinner};
use std::hint::black_box;
use std::time::Duration;

#[path = "support/parallel.rs"]
mod parallel;
use parallel::{run_parallel_on, Share};

/// Go's `obj` from pinner_test.go: three `int64` fields.
#[allow(dead_code)] // Only its size and its address matter.
struct Obj {
    x: i64,
    y: i64,
    z: i64,
}

/// `new(obj)`: a heap object of its own, as Go's allocation is.
fn new_obj() -> Box<Obj> {
    Box::new(Obj { x: 0, y: 0, z: 0 })
}

/// Go's batch size in the `*Batch*` benchmarks.
const BATCH: usize = 1000;

/// Go's `b.RunParallel` on this 2-core machine runs 2 goroutines.
const THREADS: u64 = 2;

/// Thread counts of `pin_unpin_parallel/T`: Go's `-test.cpu=2,4,8`.
const PARALLEL_THREADS: [u64; 3] = [2, 4, 8];

/// Runs `iters` operations shared by [`THREADS`] threads that start
/// together and take them in turns (see [`run_parallel_on`]).
fn run_parallel(iters: u64, work: impl Fn(&mut Share<'_>) + Sync) -> Duration {
    run_parallel_on(THREADS, iters, work)
}

fn assert_nothing_pinned() {
    let live = snapshot().pins.len();
    assert_eq!(live, 0, "a previous bench left {live} pin entries live");
}

fn pin_unpin(c: &mut Criterion) {
    assert_nothing_pinned();
    let p = new_obj();
    c.bench_function("pin_unpin", |b| {
        b.iter(|| {
            let mut pinner = Pinner::new();
            black_box(pinner.pin(black_box(&*p)));
            pinner.unpin();
        })
    });
}

/// `pin_unpin` with the pin dated, as in a debug build or with checks or
/// the exit report on (a release build with neither skips the clock: see
/// `report::pin_birth`).
fn pin_unpin_dated(c: &mut Criterion) {
    let p = new_obj();
    // Nothing in these benches runs a check: the mode only dates the pins.
    let before = check_mode();
    set_check_mode(CheckMode::Args);
    c.bench_function("pin_unpin_dated", |b| {
        b.iter(|| {
            let mut pinner = Pinner::new();
            black_box(pinner.pin(black_box(&*p)));
            pinner.unpin();
        })
    });
    set_check_mode(before);
}

fn pin_unpin_tiny(c: &mut Criterion) {
    let p = Box::new(false);
    c.bench_function("pin_unpin_tiny", |b| {
        b.iter(|| {
            let mut pinner = Pinner::new();
            black_box(pinner.pin(black_box(&*p)));
            pinner.unpin();
        })
    });
}

fn pin_unpin_double(c: &mut Criterion) {
    let p = new_obj();
    c.bench_function("pin_unpin_double", |b| {
        b.iter(|| {
            let mut pinner = Pinner::new();
            black_box(pinner.pin(black_box(&*p)));
            black_box(pinner.pin(black_box(&*p)));
            pinner.unpin();
        })
    });
}

fn pin_unpin_batch(c: &mut Criterion) {
    let data: Vec<Box<Obj>> = (0..BATCH).map(|_| new_obj()).collect();
    c.bench_function("pin_unpin_batch", |b| {
        b.iter(|| {
            let mut pinner = Pinner::new();
            for d in &data {
                black_box(pinner.pin(&**d));
            }
            pinner.unpin();
        })
    });
}

fn pin_unpin_batch_double(c: &mut Criterion) {
    let data: Vec<Box<Obj>> = (0..BATCH).map(|_| new_obj()).collect();
    c.bench_function("pin_unpin_batch_double", |b| {
        b.iter(|| {
            let mut pinner = Pinner::new();
            for d in &data {
                black_box(pinner.pin(&**d));
                black_box(pinner.pin(&**d));
            }
            pinner.unpin();
        })
    });
}

fn pin_unpin_batch_tiny(c: &mut Criterion) {
    let data: Vec<Box<bool>> = (0..BATCH).map(|_| Box::new(false)).collect();
    c.bench_function("pin_unpin_batch_tiny", |b| {
        b.iter(|| {
            let mut pinner = Pinner::new();
            for d in &data {
                black_box(pinner.pin(&**d));
            }
            pinner.unpin();
        })
    });
}

/// Go's `PinUnpinParallel` at `-test.cpu=T`: `pin_unpin_parallel/T`, T
/// threads each pinning and unpinning its own object.
fn pin_unpin_parallel(c: &mut Criterion) {
    let mut group = c.benchmark_group("pin_unpin_parallel");
    for threads in PARALLEL_THREADS {
        group.bench_with_input(BenchmarkId::from_parameter(threads), &threads, |b, &t| {
            b.iter_custom(|iters| {
                run_parallel_on(t, iters, |share| {
                    let p = new_obj();
                    while share.next() {
                        let mut pinner = Pinner::new();
                        black_box(pinner.pin(black_box(&*p)));
                        pinner.unpin();
                    }
                })
            })
        });
    }
    group.finish();
}

fn pin_unpin_parallel_tiny(c: &mut Criterion) {
    c.bench_function("pin_unpin_parallel_tiny", |b| {
        b.iter_custom(|iters| {
            run_parallel(iters, |share| {
                let p = Box::new(false);
                while share.next() {
                    let mut pinner = Pinner::new();
                    black_box(pinner.pin(black_box(&*p)));
                    pinner.unpin();
                }
            })
        })
    });
}

fn pin_unpin_parallel_double(c: &mut Criterion) {
    c.bench_function("pin_unpin_parallel_double", |b| {
        b.iter_custom(|iters| {
            run_parallel(iters, |share| {
                let p = new_obj();
                while share.next() {
                    let mut pinner = Pinner::new();
                    black_box(pinner.pin(black_box(&*p)));
                    black_box(pinner.pin(black_box(&*p)));
                    pinner.unpin();
                }
            })
        })
    });
}

fn is_pinned_on_pinned(c: &mut Criterion) {
    let obj = new_obj();
    let mut pinner = Pinner::new();
    let ptr = pinner.pin(&*obj);
    assert!(is_pinned(ptr));
    c.bench_function("is_pinned_on_pinned", |b| {
        b.iter(|| is_pinned(black_box(ptr)))
    });
    pinner.unpin();
}

fn is_pinned_on_unpinned(c: &mut Criterion) {
    assert_nothing_pinned();
    let obj = new_obj();
    let ptr: *const Obj = &*obj;
    assert!(!is_pinned(ptr));
    c.bench_function("is_pinned_on_unpinned", |b| {
        b.iter(|| is_pinned(black_box(ptr)))
    });
}

fn is_pinned_on_unpinned_with_pins_live(c: &mut Criterion) {
    let (other, obj) = (new_obj(), new_obj());
    let mut pinner = Pinner::new();
    pinner.pin(&*other);
    let ptr: *const Obj = &*obj;
    assert!(!is_pinned(ptr));
    c.bench_function("is_pinned_on_unpinned_with_pins_live", |b| {
        b.iter(|| is_pinned(black_box(ptr)))
    });
    pinner.unpin();
}

fn is_pinned_on_pinned_parallel(c: &mut Criterion) {
    let obj = new_obj();
    let mut pinner = Pinner::new();
    let ptr = pinner.pin(&*obj) as usize;
    c.bench_function("is_pinned_on_pinned_parallel", |b| {
        b.iter_custom(|iters| {
            run_parallel(iters, |share| {
                while share.next() {
                    black_box(is_pinned(black_box(ptr as *const Obj)));
                }
            })
        })
    });
    pinner.unpin();
}

fn is_pinned_on_unpinned_parallel(c: &mut Criterion) {
    assert_nothing_pinned();
    let obj = new_obj();
    let ptr = &*obj as *const Obj as usize;
    c.bench_function("is_pinned_on_unpinned_parallel", |b| {
        b.iter_custom(|iters| {
            run_parallel(iters, |share| {
                while share.next() {
                    black_box(is_pinned(black_box(ptr as *const Obj)));
                }
            })
        })
    });
}

/// `pin_unpin` with `n` other pins live (each on its own heap object, held
/// by one pinner), to show how the registry scales with its size.
fn pin_unpin_with_live(c: &mut Criterion) {
    let mut group = c.benchmark_group("pin_unpin_with_live");
    for n in [0usize, 1, 1_000, 100_000, 1_000_000] {
        let others: Vec<Box<Obj>> = (0..n).map(|_| new_obj()).collect();
        let mut live = Pinner::new();
        for o in &others {
            live.pin(&**o);
        }
        assert_eq!(snapshot().pin_total(), n);
        let p = new_obj();
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let mut pinner = Pinner::new();
                black_box(pinner.pin(black_box(&*p)));
                pinner.unpin();
            })
        });
        live.unpin();
    }
    group.finish();
}

criterion_group! {
    name = go_mirror;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets =
        pin_unpin,
        pin_unpin_dated,
        pin_unpin_tiny,
        pin_unpin_double,
        pin_unpin_batch,
        pin_unpin_batch_double,
        pin_unpin_batch_tiny,
        pin_unpin_parallel,
        pin_unpin_parallel_tiny,
        pin_unpin_parallel_double,
        is_pinned_on_pinned,
        is_pinned_on_unpinned,
        is_pinned_on_unpinned_with_pins_live,
        is_pinned_on_pinned_parallel,
        is_pinned_on_unpinned_parallel,
}

/// What any pin + unpin costs on this design, whatever the table does: the
/// shard's spin lock taken and released twice (a `lock cmpxchg` and a
/// release store each, as `registry/lock.rs` does). Compared with Go's
/// `PinUnpin` (`scripts/bench-compare.sh`, row `floor/pin_unpin`), it says
/// how far below Go's time this design can go at best. `floor/clock` is
/// what a dated pin adds (`report::pin_birth`: debug builds, or checks or
/// the exit report on): one coarse clock read. `floor/is_pinned` is a
/// point question's part: one lock pair.
fn floor(c: &mut Criterion) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static LOCK: AtomicBool = AtomicBool::new(false);
    fn lock_pair() {
        while LOCK
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        black_box(&LOCK);
        LOCK.store(false, Ordering::Release);
    }
    fn coarse_clock() -> libc::timespec {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
        ts
    }
    c.bench_function("floor/pin_unpin", |b| {
        b.iter(|| {
            lock_pair();
            lock_pair();
        })
    });
    c.bench_function("floor/clock", |b| b.iter(|| black_box(coarse_clock())));
    c.bench_function("floor/is_pinned", |b| b.iter(lock_pair));
}

/// How much faster two threads are than one on this machine for work that
/// shares nothing and touches no memory (a chain of dependent arithmetic):
/// the most `pin_unpin_parallel/2` can gain over `pin_unpin`. On a machine
/// whose two CPUs are not two whole cores (a VM's vCPUs placed on one
/// core's hyperthreads, or a host busy elsewhere) it is well below 2x.
/// `machine/alu_parallel/2` is per operation of both threads together, as
/// `pin_unpin_parallel/T` is: the scaling is `machine/alu` divided by it.
fn machine(c: &mut Criterion) {
    /// About 100 ns of dependent adds, multiplies and xors.
    fn alu(seed: u64) -> u64 {
        let (mut s, mut t) = (seed | 1, 3u64);
        for i in 0..64u64 {
            s = s.wrapping_mul(3).wrapping_add(i);
            t ^= s.wrapping_add(i);
        }
        s ^ t
    }
    c.bench_function("machine/alu", |b| b.iter(|| alu(black_box(7))));
    c.bench_function("machine/alu_parallel/2", |b| {
        b.iter_custom(|iters| {
            run_parallel_on(2, iters, |share| {
                let mut i = 0u64;
                while share.next() {
                    black_box(alu(black_box(i)));
                    i += 1;
                }
            })
        })
    });
}

criterion_group! {
    name = floors;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = floor, machine,
}

criterion_group! {
    name = scaling;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = pin_unpin_with_live,
}

criterion_main!(go_mirror, scaling, floors);
