//! zlib through the annotated extern block against zlib through a plain
//! extern block (issue 9): deflate and inflate of 4 MiB of text-like data at
//! level 6, in `CheckMode::Off` and `CheckMode::Args`. Target: within 2%.
//!
//! Both sides run the same loop (`escapes_support/zlib_driver.rs`): the
//! whole input offered at once, 64 KiB of output room per call. The
//! annotated side keeps its `z_stream` in an `OwnedPin` (as the binding
//! must: zlib points back to it between calls), and in checked mode each of
//! its calls pins the stream and both buffers and unpins them. The two
//! sides run interleaved (see `escapes_support/paired.rs`); before timing,
//! both bindings must produce the same compressed bytes and inflate them
//! back to the input.

#[path = "escapes_support/mod.rs"]
mod escapes_support;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use escapes_support::paired::{Clock, PairedGroup};
use escapes_support::zlib_driver::{self as z, Annotated, Direction, Raw};
use pointer_escapes::{set_check_mode, snapshot, CheckMode};
use std::cell::RefCell;
use std::time::Duration;

/// Bytes of uncompressed input.
const INPUT: usize = 4 << 20;
/// zlib's default level.
const LEVEL: i32 = 6;

fn bench_mode(c: &mut Criterion, mode: CheckMode, tag: &str) {
    set_check_mode(mode);
    let input = z::text_like(INPUT, 0x2_11b);
    let (compressed, deflate_calls, inflate_calls) =
        z::verify(&input, LEVEL).unwrap_or_else(|e| panic!("zlib bindings disagree: {e}"));
    println!(
        "zlib_{tag}: {} -> {} bytes at level {LEVEL}; {deflate_calls} deflate and \
         {inflate_calls} inflate calls per run",
        input.len(),
        compressed.len()
    );

    let mut group = PairedGroup::new(c, &format!("zlib_{tag}"), Clock::ThreadCpu);
    group
        .config()
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Bytes(INPUT as u64));
    // One output buffer for both sides, so neither gets a luckier address.
    let out = RefCell::new(Vec::new());
    for (direction, name, data) in [
        (Direction::Deflate, "deflate", &input),
        (Direction::Inflate, "inflate", &compressed),
    ] {
        let run = |r: Result<usize, String>| r.unwrap_or_else(|e| panic!("{name}: {e}"));
        group.pair(
            name,
            ["raw", "annotated"],
            Some(INPUT as u64),
            || run(z::run::<Raw>(direction, data, LEVEL, &mut out.borrow_mut())),
            || {
                run(z::run::<Annotated>(
                    direction,
                    data,
                    LEVEL,
                    &mut out.borrow_mut(),
                ))
            },
        );
    }
    group.finish();
    let snap = snapshot();
    assert!(snap.pins.is_empty(), "pins left after zlib_{tag}:\n{snap}");
}

fn zlib_off(c: &mut Criterion) {
    bench_mode(c, CheckMode::Off, "off");
}

fn zlib_args(c: &mut Criterion) {
    bench_mode(c, CheckMode::Args, "args");
}

criterion_group!(benches, zlib_off, zlib_args);
criterion_main!(benches);
