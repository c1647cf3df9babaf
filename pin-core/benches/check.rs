//! The checker's cost on the shapes it meets at every `readv`/`writev`-like
//! call: `check_referents` over 16 iovec entries whose buffers are pinned,
//! and over a `Vec<Vec<u8>>` of 16 whose outer and inner buffers are pinned
//! (two levels: the outer buffer, then each inner one). Target: under 150 ns
//! per 16-entry check. Buffers are 4 KiB; `vec_vec_u8_16_small` repeats the
//! `Vec<Vec<u8>>` case with 64-byte buffers to show what depends on their
//! length.
//!
//! Each bench first runs the check once with `try_check_referents` and
//! requires it to pass, so a bench can only time a passing check.

use criterion::{criterion_group, criterion_main, Criterion};
use pin_core::{check_referents, try_check_referents, Pinner};
use std::hint::black_box;
use std::time::Duration;

/// Entries per checked value.
const ENTRIES: usize = 16;
/// Bytes per buffer: a page, a typical I/O buffer.
const BUF_LEN: usize = 4096;
/// A small buffer, to show how the cost depends on the buffers' length.
const SMALL_BUF_LEN: usize = 64;

fn buffers(len: usize) -> Vec<Vec<u8>> {
    (0..ENTRIES).map(|i| vec![i as u8; len]).collect()
}

fn iovec_16(c: &mut Criterion) {
    let bufs = buffers(BUF_LEN);
    let mut pinner = Pinner::new();
    for b in &bufs {
        pinner.pin_slice(b);
    }
    let iov: [libc::iovec; ENTRIES] = std::array::from_fn(|i| libc::iovec {
        iov_base: bufs[i].as_ptr() as *mut libc::c_void,
        iov_len: bufs[i].len(),
    });
    if let Err(e) = try_check_referents(&iov) {
        panic!("the iovec bench must time a passing check: {e}");
    }
    c.bench_function("check_referents/iovec_16", |b| {
        b.iter(|| check_referents(black_box(&iov)))
    });
    pinner.unpin();
}

/// `Vec<Vec<u8>>` of 16 buffers of `len` bytes, outer and inner buffers
/// pinned.
fn vec_vec_u8(c: &mut Criterion, name: &str, len: usize) {
    let bufs = buffers(len);
    let mut pinner = Pinner::new();
    pinner.pin_slice(&bufs);
    for b in &bufs {
        pinner.pin_slice(b);
    }
    if let Err(e) = try_check_referents(&bufs) {
        panic!("the Vec<Vec<u8>> bench must time a passing check: {e}");
    }
    c.bench_function(name, |b| b.iter(|| check_referents(black_box(&bufs))));
    pinner.unpin();
}

fn vec_vec_u8_16(c: &mut Criterion) {
    vec_vec_u8(c, "check_referents/vec_vec_u8_16", BUF_LEN);
}

/// The same with 64-byte buffers: the difference from `vec_vec_u8_16` is
/// what the walk spends per byte of the inner buffers.
fn vec_vec_u8_16_small(c: &mut Criterion) {
    vec_vec_u8(c, "check_referents/vec_vec_u8_16_small", SMALL_BUF_LEN);
}

criterion_group! {
    name = checker;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = iovec_16, vec_vec_u8_16, vec_vec_u8_16_small,
}

criterion_main!(checker);
