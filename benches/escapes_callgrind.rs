//! A driver for counting the instructions of the `#[pointer_escapes]`
//! benches with callgrind, where wall-clock timings on a shared machine
//! wobble. Each workload is one side of a pair of `escapes_call`,
//! `readv_zero_copy` or `zlib_throughput`: it sets the check mode, does its
//! setup, makes one warm-up call (lazy symbol binding, first-touch page
//! faults), then makes `n` calls inside `measured`, so
//!
//! ```text
//! valgrind --tool=callgrind --toggle-collect='*escapes_callgrind::measured*' \
//!     target/release/deps/escapes_callgrind-HASH off/touch/annotated 100000
//! ```
//!
//! collects only the measured calls: instructions per call are the total
//! `Ir` divided by `n`, and `callgrind_annotate --inclusive=yes` breaks them
//! down by function. `scripts/callgrind-call.sh` runs every pair and prints
//! the differences.
//!
//! Arguments: `[WORKLOAD|FILTER] [N]`. An exact workload name runs that one;
//! otherwise every workload whose name contains FILTER runs (all of them
//! without one), each with its default `n`, printing wall-clock ns/call as
//! a smoke check. `--list` prints the names and default `n`s. Flags passed
//! by `cargo bench` (`--bench`) are ignored.

#[path = "escapes_support/mod.rs"]
mod escapes_support;

use escapes_support::calls::{Call, Calls, Side};
use escapes_support::zero_copy::Reader;
use escapes_support::zlib_driver::{self as z, Annotated, Binding, Direction, Raw};
use pointer_escapes::{set_check_mode, snapshot, CheckMode};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The only code callgrind collects (`--toggle-collect`): `n` calls of `op`.
#[inline(never)]
fn measured<R>(n: u64, op: &mut impl FnMut() -> R) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        black_box(op());
    }
    start.elapsed()
}

/// One warm-up call, then `n` measured ones.
fn run<R>(n: u64, mut op: impl FnMut() -> R) -> Duration {
    black_box(op());
    measured(n, &mut op)
}

/// The `Calls` of a pair of `escapes_call`, set up as that bench does.
fn calls_for(call: Call) -> Calls {
    let mut calls = Calls::new("callgrind").expect("a tmpfs file for readv");
    if matches!(call, Call::FakeReadvArrayOnly | Call::ReadvArrayOnly) {
        calls.pin_buffers();
    }
    calls
}

/// A workload of a pair of `escapes_call`. A macro, so that each call gets
/// closures of its own with `call` a constant in them: `Calls::call` then
/// inlines to just that call, as in the criterion bench.
macro_rules! overhead {
    ($call:expr) => {
        |n: u64, side: Side| {
            let calls = calls_for($call);
            match side {
                Side::Baseline => run(n, || calls.call($call, Side::Baseline)),
                Side::Ours => run(n, || calls.call($call, Side::Ours)),
            }
        }
    };
}

/// A pair of `readv_zero_copy`: copying (baseline) or zero-copy (ours).
fn zero_copy(n: u64, side: Side, size: usize) -> Duration {
    let mut reader = Reader::new("callgrind-zc", size).expect("a tmpfs file for readv");
    reader.verify().unwrap_or_else(|e| panic!("{e}"));
    match side {
        Side::Baseline => run(n, || reader.copying()),
        Side::Ours => run(n, || reader.zero_copy()),
    }
}

/// A pair of `zlib_throughput`: raw block (baseline) or annotated (ours).
fn zlib(n: u64, side: Side, direction: Direction) -> Duration {
    let input = z::text_like(4 << 20, 0x2_11b);
    let (compressed, _, _) = z::verify(&input, 6).unwrap_or_else(|e| panic!("{e}"));
    let data = match direction {
        Direction::Deflate => &input,
        Direction::Inflate => &compressed,
    };
    let mut out = Vec::new();
    fn go<Z: Binding>(d: Direction, data: &[u8], out: &mut Vec<u8>) -> usize {
        z::run::<Z>(d, data, 6, out).unwrap_or_else(|e| panic!("{e}"))
    }
    match side {
        Side::Baseline => run(n, || go::<Raw>(direction, data, &mut out)),
        Side::Ours => run(n, || go::<Annotated>(direction, data, &mut out)),
    }
}

/// A workload: `mode/pair/side`, its default `n`, and the code.
struct Workload {
    name: String,
    n: u64,
    mode: CheckMode,
    run: Box<dyn Fn(u64) -> Duration>,
}

fn workloads() -> Vec<Workload> {
    let mut list = Vec::new();
    let mut add =
        |mode: &str, pair: &str, labels: [&str; 2], n: u64, f: fn(u64, Side) -> Duration| {
            let check = if mode == "off" {
                CheckMode::Off
            } else {
                CheckMode::Args
            };
            for (label, side) in labels.iter().zip([Side::Baseline, Side::Ours]) {
                list.push(Workload {
                    name: format!("{mode}/{pair}/{label}"),
                    n,
                    mode: check,
                    run: Box::new(move |n| f(n, side)),
                });
            }
        };
    const HAND: [&str; 2] = ["hand", "annotated"];
    const RAW: [&str; 2] = ["raw", "annotated"];
    const COPY: [&str; 2] = ["copying", "zero_copy"];
    for mode in ["off", "args"] {
        add(mode, "touch", HAND, 100_000, overhead!(Call::Touch));
        add(
            mode,
            "extern_touch",
            RAW,
            100_000,
            overhead!(Call::ExternTouch),
        );
        add(
            mode,
            "fake_readv_flow_through",
            HAND,
            100_000,
            overhead!(Call::FakeReadv),
        );
        add(
            mode,
            "extern_fake_readv_flow_through",
            RAW,
            100_000,
            overhead!(Call::ExternFakeReadv),
        );
        add(
            mode,
            "fake_readv_array_only",
            HAND,
            100_000,
            overhead!(Call::FakeReadvArrayOnly),
        );
        add(
            mode,
            "extern_adler32",
            RAW,
            100_000,
            overhead!(Call::Adler32),
        );
        add(
            mode,
            "readv_tmpfs_flow_through",
            HAND,
            20_000,
            overhead!(Call::Readv),
        );
        add(
            mode,
            "readv_tmpfs_array_only",
            HAND,
            20_000,
            overhead!(Call::ReadvArrayOnly),
        );
        add(mode, "readv_zero_copy_64", COPY, 20_000, |n, s| {
            zero_copy(n, s, 64)
        });
        add(mode, "readv_zero_copy_4096", COPY, 5_000, |n, s| {
            zero_copy(n, s, 4096)
        });
        add(mode, "zlib_deflate", RAW, 1, |n, s| {
            zlib(n, s, Direction::Deflate)
        });
        add(mode, "zlib_inflate", RAW, 2, |n, s| {
            zlib(n, s, Direction::Inflate)
        });
    }
    list
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--") || a == "--list")
        .collect();
    let list = workloads();
    if args.first().map(String::as_str) == Some("--list") {
        for w in &list {
            println!("{} {}", w.name, w.n);
        }
        return;
    }
    let filter = args.first().map(String::as_str).unwrap_or("");
    let n_arg = match args.get(1) {
        Some(text) => match text.parse::<u64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                eprintln!("escapes_callgrind: N must be a positive integer, not `{text}`");
                std::process::exit(2);
            }
        },
        None => None,
    };
    let exact: Vec<&Workload> = list.iter().filter(|w| w.name == filter).collect();
    let chosen: Vec<&Workload> = if exact.is_empty() {
        list.iter().filter(|w| w.name.contains(filter)).collect()
    } else {
        exact
    };
    if chosen.is_empty() {
        eprintln!("escapes_callgrind: no workload matches `{filter}` (try --list)");
        std::process::exit(2);
    }
    for w in chosen {
        set_check_mode(w.mode);
        let n = n_arg.unwrap_or(w.n);
        let t = (w.run)(n);
        println!(
            "{:<48} n={n:<8} {:>12.1} ns/call",
            w.name,
            t.as_secs_f64() * 1e9 / n as f64
        );
        let snap = snapshot();
        assert!(snap.pins.is_empty(), "{}: pins left:\n{snap}", w.name);
    }
}
