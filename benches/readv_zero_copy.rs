//! Zero-copy against copying (issue 4): the real `readv(2)` of a tmpfs file,
//! 16 iovecs per call, at 64 B and 4 KiB per buffer.
//!
//! - `zero_copy`: readv straight into `Vec<Vec<u8>>` buffers through the
//!   annotated binding (`#[flow_through] #[escapes(len = iovcnt)]`, the
//!   binding of `examples/readv.rs`);
//! - `copying`: readv into `calloc`'d C buffers through the raw import,
//!   then copy into the same `Vec`s.
//!
//! Both run interleaved (see `escapes_support/paired.rs`), in
//! `CheckMode::Off` (the release default: the annotated call records
//! nothing) and in `CheckMode::Args` (each zero-copy call pins the array and
//! the 16 buffers, and unpins them). Before timing, each method's bytes are
//! checked against the file.

#[path = "escapes_support/mod.rs"]
mod escapes_support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use escapes_support::paired::{Clock, PairedGroup};
use escapes_support::zero_copy::Reader;
use pointer_escapes::{set_check_mode, snapshot, CheckMode};
use std::time::Duration;

/// Buffer sizes of the target.
const SIZES: [usize; 2] = [64, 4096];

fn bench_mode(c: &mut Criterion, mode: CheckMode, tag: &str) {
    set_check_mode(mode);
    let mut group = PairedGroup::new(c, &format!("readv_zero_copy_{tag}"), Clock::ThreadCpu);
    group
        .config()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for size in SIZES {
        let mut reader =
            Reader::new(&format!("zc-{tag}-{size}"), size).expect("a tmpfs file for readv");
        reader
            .verify()
            .unwrap_or_else(|e| panic!("readv at {size} B: {e}"));
        let bytes = reader.bytes_per_call() as u64;
        group.config().throughput(Throughput::Bytes(bytes));
        group.pair(
            &size.to_string(),
            ["copying", "zero_copy"],
            Some(bytes),
            || reader.copying(),
            || reader.zero_copy(),
        );
    }
    group.finish();
    let snap = snapshot();
    assert!(snap.pins.is_empty(), "pins left after {tag}:\n{snap}");
}

fn readv_off(c: &mut Criterion) {
    bench_mode(c, CheckMode::Off, "off");
}

fn readv_args(c: &mut Criterion) {
    bench_mode(c, CheckMode::Args, "args");
}

criterion_group!(benches, readv_off, readv_args);
criterion_main!(benches);
