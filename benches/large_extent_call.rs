//! One checked call with a 64 MiB `#[escapes(len = n)] p: *const u8`
//! (issue 15: at most 5 ms, in a debug build in its default mode).
//!
//! `u8` holds no pointers, so the call pins the 64 MiB for the call, checks
//! that its extent is pinned, and walks nothing: the figure must not depend
//! on the length. `bytes/N` runs the same call at 64 B, 64 KiB and 64 MiB
//! to show that it does not.
//!
//! The mode is set to `Args` explicitly: it is the default of a build with
//! debug assertions, while `cargo bench` (no debug assertions) would
//! default to `Off` and check nothing. The debug figure of the issue's row
//! is this bench in the dev profile:
//!
//! ```sh
//! cargo bench --bench large_extent_call                 # release
//! cargo bench --profile dev --bench large_extent_call   # debug build
//! ```

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use pointer_escapes::{pointer_escapes, set_check_mode, snapshot, CheckMode};
use std::hint::black_box;
use std::time::Duration;

/// Stands in for a C function reading `n` bytes at `p`: reads the first
/// and the last, so the call cannot be elided, and nothing in between, so
/// the figure is the attribute's.
///
/// # Safety
/// `p` points at `n` readable bytes.
#[pointer_escapes]
#[inline(never)]
unsafe fn first_and_last(#[escapes(len = n)] p: *const u8, n: usize) -> u8 {
    if n == 0 {
        return 0;
    }
    // SAFETY: the caller's promise: `n` readable bytes at `p`.
    unsafe { p.read() ^ p.add(n - 1).read() }
}

/// The issue's size, and two smaller ones to show the cost is flat.
const SIZES: [usize; 3] = [64, 64 << 10, 64 << 20];

fn checked_call_bytes(c: &mut Criterion) {
    set_check_mode(CheckMode::Args);
    let mut group = c.benchmark_group("checked_call_bytes");
    for len in SIZES {
        let buf = vec![1u8; len];
        group.bench_with_input(BenchmarkId::from_parameter(len), &len, |b, &len| {
            // SAFETY: `buf` holds `len` initialised bytes for the call.
            b.iter(|| unsafe { first_and_last(black_box(buf.as_ptr()), black_box(len)) })
        });
        assert!(snapshot().pins.is_empty(), "a call left its pin live");
    }
    group.finish();
}

criterion_group! {
    name = large_extent;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = checked_call_bytes,
}

criterion_main!(large_extent);
