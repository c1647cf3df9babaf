//! The pins of one `#[pointer_escapes]` call (`CallPins`, what generated
//! code builds): made and released on one thread, and on 2, 4 and 8
//! threads at once (this machine has 2 cores, so 4 and 8 are
//! oversubscribed: they show whether threads serialise on shared state,
//! not extra parallelism). Reported as wall time / total calls, as Go's
//! `RunParallel` does. Also `is_pinned` on memory a call pinned.
//!
//! Check mode `Args` makes every call pin (as the pin-aware allocator or a
//! debug build would); no check function is given, so nothing is read.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use pin_core::__private::{CallPins, Extent};
use pin_core::{is_pinned, set_check_mode, CheckMode};
use std::hint::black_box;
use std::time::Duration;

#[path = "support/parallel.rs"]
mod parallel;
use parallel::run_parallel_on;

/// One annotated call with `regions` pointer arguments of 24 bytes.
#[inline(never)]
fn one_call(ptrs: &[*const u8]) {
    let call = CallPins::new("bench_call", |call| {
        for p in ptrs {
            // SAFETY: no check function, so nothing is read through `p`.
            unsafe { call.pointer("buf", p, Extent::bytes(24usize), None) };
        }
    });
    black_box(&call);
}

fn call_pins(c: &mut Criterion) {
    set_check_mode(CheckMode::Args);
    let objs: Vec<Box<[u64; 3]>> = (0..4).map(|_| Box::new([0u64; 3])).collect();
    let ptrs: Vec<*const u8> = objs.iter().map(|b| b.as_ptr().cast()).collect();
    c.bench_function("call_pins_one_arg", |b| b.iter(|| one_call(&ptrs[..1])));
    c.bench_function("call_pins_four_args", |b| b.iter(|| one_call(&ptrs)));
    let mut group = c.benchmark_group("call_pins_parallel");
    for threads in [2u64, 4, 8] {
        group.bench_with_input(BenchmarkId::from_parameter(threads), &threads, |b, &t| {
            b.iter_custom(|iters| {
                run_parallel_on(t, iters, |share| {
                    let obj = Box::new([0u64; 3]);
                    let p = [obj.as_ptr().cast::<u8>()];
                    while share.next() {
                        one_call(&p);
                    }
                })
            })
        });
    }
    group.finish();
    let obj = Box::new([0u64; 3]);
    let p = obj.as_ptr().cast::<u8>();
    let call = CallPins::new("bench_call", |call| {
        // SAFETY: no check function, so nothing is read through `p`.
        unsafe { call.pointer("buf", &p, Extent::bytes(24usize), None) };
    });
    c.bench_function("is_pinned_on_call_pinned", |b| {
        b.iter(|| black_box(is_pinned(black_box(p))))
    });
    drop(call);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = call_pins,
}
criterion_main!(benches);
