//! What `#[escapes(retained)]` costs per call, against an unannotated call
//! in the same run (release build, `CheckMode::Args`, i.e. `POINTER_ESCAPES_CHECK=1`):
//!
//! - `retained/unannotated`: the plain function, the baseline;
//! - `retained/annotated`: the same call with its buffer pinned for the call
//!   (`CallPins` with one `pointer`), what any escaping parameter costs;
//! - `retained/annotated_retained`: the same plus the retained check (the
//!   buffer is an `OwnedPin`, so the check passes): the stack-range check
//!   and the lasting-pin query;
//! - `stack_range_check/1_thread` and `/9_threads`: the stack and
//!   thread-local classification alone (`memory_kind`) of a heap address,
//!   which compares it with every registered thread's ranges, with only
//!   this thread registered and with eight more threads alive.
//!
//! Run: `cargo bench -p pointer-escapes-core --bench retained`.

use criterion::{criterion_group, criterion_main, Criterion};
use pin_core::__private::{CallPins, Extent};
use pin_core::{memory_kind, set_check_mode, CheckMode, MemoryKind, OwnedPin};
use std::hint::black_box;
use std::sync::mpsc;
use std::time::Duration;

const LEN: usize = 4096;

/// A submission queue entry, as io_uring's `prep_read` fills it.
#[derive(Default)]
struct Sqe {
    addr: usize,
    len: usize,
    token: u64,
}

#[inline(never)]
fn prep_read_plain(sqe: &mut Sqe, buf: *mut u8, len: usize, token: u64) {
    sqe.addr = buf as usize;
    sqe.len = len;
    sqe.token = token;
}

#[inline(never)]
fn prep_read_annotated(sqe: &mut Sqe, buf: *mut u8, len: usize, token: u64) {
    let _pins = CallPins::new("prep_read", |rec| {
        // SAFETY: no referent check is requested, so nothing is read.
        unsafe { rec.pointer("buf", &buf, Extent::bytes(len), None) };
    });
    prep_read_plain(sqe, buf, len, token);
}

#[inline(never)]
fn prep_read_retained(sqe: &mut Sqe, buf: *mut u8, len: usize, token: u64) {
    let _pins = CallPins::new("prep_read", |rec| {
        // SAFETY: no referent check is requested, so nothing is read.
        unsafe { rec.pointer("buf", &buf, Extent::bytes(len), None) };
        rec.retained("buf", &buf, Extent::bytes(len));
    });
    prep_read_plain(sqe, buf, len, token);
}

fn calls(c: &mut Criterion) {
    set_check_mode(CheckMode::Args);
    let mut buf = OwnedPin::new(vec![0u8; LEN]);
    let p = buf.as_mut_ptr();
    let mut sqe = Sqe::default();
    // The retained call must pass, or the bench would time a panic.
    prep_read_retained(&mut sqe, p, LEN, 1);
    let mut g = c.benchmark_group("retained");
    g.bench_function("unannotated", |b| {
        b.iter(|| prep_read_plain(black_box(&mut sqe), black_box(p), black_box(LEN), 7))
    });
    g.bench_function("annotated", |b| {
        b.iter(|| prep_read_annotated(black_box(&mut sqe), black_box(p), black_box(LEN), 7))
    });
    g.bench_function("annotated_retained", |b| {
        b.iter(|| prep_read_retained(black_box(&mut sqe), black_box(p), black_box(LEN), 7))
    });
    g.finish();
    drop(buf.into_inner());
}

fn stack_range_check(c: &mut Criterion) {
    let heap = vec![0u8; LEN];
    let p = heap.as_ptr();
    assert_eq!(memory_kind(p), MemoryKind::Other);
    let mut g = c.benchmark_group("stack_range_check");
    g.bench_function("1_thread", |b| b.iter(|| memory_kind(black_box(p))));
    // Eight more registered threads, parked until the bench is done.
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut stops = Vec::new();
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let ready = ready_tx.clone();
        workers.push(std::thread::spawn(move || {
            pin_core::register_thread();
            ready.send(()).unwrap();
            let _ = stop_rx.recv();
        }));
        stops.push(stop_tx);
    }
    for _ in 0..8 {
        ready_rx.recv().unwrap();
    }
    g.bench_function("9_threads", |b| b.iter(|| memory_kind(black_box(p))));
    g.finish();
    drop(stops);
    for w in workers {
        w.join().unwrap();
    }
}

criterion_group! {
    name = retained;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = calls, stack_range_check,
}
criterion_main!(retained);
