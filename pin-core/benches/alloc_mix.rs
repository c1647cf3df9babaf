//! Issue 15's allocator rows, one workload per process for callgrind:
//! 1M 64-byte boxes (allocated in rounds of 1000, then freed) and a
//! 100k-entry `BTreeMap<String, Vec<u8>>` built and dropped, every
//! allocation through the global allocator, which forwards to `System` or
//! to a `PinAwareAlloc<System>` (`support/switch.rs`: both sides pay the
//! same switch, so the ratio is `PinAwareAlloc`'s own cost).
//!
//! ```text
//! alloc_mix system|pinaware [--pins N]
//! ```
//!
//! `--pins N` first pins N 4 KiB buffers with one `Pinner` (pins live
//! elsewhere in the program: none of the workload's blocks is pinned).
//! Only `measured` runs the workload, so
//! `valgrind --tool=callgrind --toggle-collect='*alloc_mix::measured*'`
//! counts the workload alone; `scripts/callgrind-alloc.sh` runs both sides
//! with 0 and 10 000 pins and prints the ratios. Without a side (as
//! `cargo bench` runs it) it runs both once with no pin and prints the
//! wall-clock time, as a smoke check.

use pin_core::{snapshot, Pinner};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[path = "support/switch.rs"]
mod switch;
use switch::{install_pin_aware, USE_PIN_AWARE};

/// 64-byte boxes allocated and freed.
const BOXES: usize = 1_000_000;
/// Boxes live at once: a round allocates this many, then frees them, so the
/// allocator sees many addresses rather than one recycled block.
const IN_FLIGHT: usize = 1000;
/// Entries of the `BTreeMap`.
const ENTRIES: usize = 100_000;
/// Bytes of each buffer pinned by `--pins`.
const PINNED_BUF: usize = 4096;

/// The only code callgrind collects: the boxes, then the map.
#[inline(never)]
#[allow(clippy::vec_box)] // Each box is one 64-byte allocation: the workload.
fn measured(keys: &[String], slots: &mut Vec<Box<[u64; 8]>>) -> Duration {
    let start = Instant::now();
    for _ in 0..BOXES / IN_FLIGHT {
        for i in 0..IN_FLIGHT {
            slots.push(Box::new([i as u64; 8]));
        }
        black_box(&*slots);
        // Frees the boxes; the Vec keeps its capacity (no allocation here).
        slots.clear();
    }
    let mut map = BTreeMap::new();
    for (i, k) in keys.iter().enumerate() {
        map.insert(k.clone(), vec![i as u8; 32]);
    }
    black_box(&map);
    drop(map);
    start.elapsed()
}

/// Runs the workload once through `System` or `PIN_AWARE`, with `pins`
/// buffers pinned elsewhere.
fn run(pin_aware: bool, pins: usize) -> Duration {
    install_pin_aware();
    // Set-up through `System` (the switch is off): keys in a scrambled
    // order, so the tree is built by inserts all over it.
    let keys: Vec<String> = (0..ENTRIES)
        .map(|i| format!("key-{:08}", (i * 7919) % ENTRIES))
        .collect();
    let mut slots = Vec::with_capacity(IN_FLIGHT);
    let bufs: Vec<Vec<u8>> = (0..pins).map(|i| vec![i as u8; PINNED_BUF]).collect();
    let mut pinner = Pinner::new();
    for b in &bufs {
        pinner.pin_slice(b);
    }
    assert_eq!(snapshot().pin_total(), pins);
    USE_PIN_AWARE.store(pin_aware, Ordering::Relaxed);
    let t = measured(&keys, &mut slots);
    USE_PIN_AWARE.store(false, Ordering::Relaxed);
    pinner.unpin();
    t
}

fn usage(why: &str) -> ExitCode {
    eprintln!("alloc_mix: {why}\nusage: alloc_mix system|pinaware [--pins N]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut side = None;
    let mut pins = 0usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "system" => side = Some(false),
            "pinaware" => side = Some(true),
            "--pins" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => pins = n,
                None => return usage("--pins needs a count"),
            },
            // `cargo bench` passes `--bench`.
            a if a.starts_with("--") => {}
            a => return usage(&format!("unknown argument {a:?}")),
        }
    }
    let sides: &[bool] = match side {
        Some(ref s) => std::slice::from_ref(s),
        None => &[false, true],
    };
    for &pin_aware in sides {
        let t = run(pin_aware, pins);
        println!(
            "alloc_mix {} --pins {pins}: {:.1} ms (wall clock; count it with callgrind)",
            if pin_aware { "pinaware" } else { "system" },
            t.as_secs_f64() * 1e3
        );
    }
    ExitCode::SUCCESS
}
