//! What a call through `#[pointer_escapes]` costs next to the same call
//! written by hand (issues 4 and 9).
//!
//! Each pair runs interleaved (see `escapes_support/paired.rs`) and prints a
//! `paired` line with the median per-sample difference, which is the figure
//! BENCHMARKS-macro.md compares with the targets:
//!
//! - `call_off`: `CheckMode::Off` (POINTER_ESCAPES_CHECK=0) and no `PinAwareAlloc` in this
//!   binary, so an annotated call records nothing. Target: at most 1 ns
//!   more, for a wrapper function (`touch`, `fake_readv`, `readv_tmpfs`) and
//!   for an annotated extern block against the raw import (`extern_touch`,
//!   `extern_fake_readv`, and `extern_adler32`, a real C function).
//! - `call_args`: `CheckMode::Args`. A readv-shaped call with 16 iovecs,
//!   `#[flow_through]` (pins the array and the 16 buffers, unpins them) and
//!   array-only (pins the array and checks its 16 entries against buffers a
//!   `Pinner` pinned outside the loop). Target: under 300 ns more, with a
//!   fake readv (`pe_bench_fake_readv`, no system call) and with the real
//!   `readv(2)` of a tmpfs file (64-byte buffers).
//!
//! With `RUSTFLAGS="--cfg pointer_escapes_unchecked" cargo bench` the same pairs measure the
//! attribute compiled out. The machine-code comparison is
//! `scripts/disasm-call.sh`, the instruction counts
//! `scripts/callgrind-call.sh`.

#[path = "escapes_support/mod.rs"]
mod escapes_support;

use criterion::{criterion_group, criterion_main, Criterion};
use escapes_support::calls::{Call, Calls, Side};
use escapes_support::paired::{Clock, PairedGroup};
use pointer_escapes::{check_mode, set_check_mode, snapshot, CheckMode};
use std::time::Duration;

fn assert_nothing_pinned(when: &str) {
    let snap = snapshot();
    assert!(snap.pins.is_empty(), "pins live {when}:\n{snap}");
}

/// Benches a call by hand (or raw) and through the attribute. A macro, so
/// that each pair's closures have the call as a constant: `Calls::call`
/// then inlines to just that call.
macro_rules! pair {
    ($group:expr, $calls:expr, $name:expr, $call:expr) => {{
        let labels = match $call {
            Call::ExternTouch | Call::ExternFakeReadv | Call::Adler32 => ["raw", "annotated"],
            _ => ["hand", "annotated"],
        };
        let calls: &Calls = $calls;
        $group.pair(
            $name,
            labels,
            None,
            || calls.call($call, Side::Baseline),
            || calls.call($call, Side::Ours),
        );
    }};
}

fn new_group<'a>(c: &'a mut Criterion, name: &str) -> PairedGroup<'a> {
    let mut group = PairedGroup::new(c, name, Clock::ThreadCpu);
    group
        .config()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group
}

fn call_off(c: &mut Criterion) {
    set_check_mode(CheckMode::Off);
    assert_nothing_pinned("before call_off");
    let calls = Calls::new("call-off").expect("a tmpfs file for readv");
    let mut group = new_group(c, "call_off");
    pair!(group, &calls, "touch", Call::Touch);
    pair!(group, &calls, "extern_touch", Call::ExternTouch);
    pair!(group, &calls, "fake_readv", Call::FakeReadv);
    pair!(group, &calls, "extern_fake_readv", Call::ExternFakeReadv);
    pair!(group, &calls, "extern_adler32", Call::Adler32);
    pair!(group, &calls, "readv_tmpfs", Call::Readv);
    group.finish();
    drop(calls);
    assert_nothing_pinned("after call_off");
}

fn call_args(c: &mut Criterion) {
    set_check_mode(CheckMode::Args);
    assert_eq!(check_mode(), CheckMode::Args);
    assert_nothing_pinned("before call_args");
    let mut calls = Calls::new("call-args").expect("a tmpfs file for readv");
    let mut group = new_group(c, "call_args");
    pair!(group, &calls, "touch", Call::Touch);
    pair!(group, &calls, "fake_readv_flow_through", Call::FakeReadv);
    pair!(
        group,
        &calls,
        "extern_fake_readv_flow_through",
        Call::ExternFakeReadv
    );
    pair!(group, &calls, "readv_tmpfs_flow_through", Call::Readv);
    // The array-only variant: the 16 buffers are pinned once, here, by a
    // Pinner; each call pins the array and checks its 16 entries.
    calls.pin_buffers();
    pair!(
        group,
        &calls,
        "fake_readv_array_only",
        Call::FakeReadvArrayOnly
    );
    pair!(
        group,
        &calls,
        "readv_tmpfs_array_only",
        Call::ReadvArrayOnly
    );
    calls.unpin_buffers();
    group.finish();
    drop(calls);
    assert_nothing_pinned("after call_args");
}

criterion_group!(benches, call_off, call_args);
criterion_main!(benches);
