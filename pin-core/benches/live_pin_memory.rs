//! What a live pin costs in memory: N heap objects pinned by one `Pinner`,
//! for N = 1k, 100k and 1M. Target: at most 48 bytes per live pin at 1M.
//!
//! Three measures, printed side by side:
//! - the registry's tables (`snapshot().registry_bytes`: slab, index,
//!   quarantine list; they are allocated from `System` directly);
//! - the `Pinner`'s own `Vec<PinId>`, counted by this binary's global
//!   allocator (the registry bypasses it, so it sees the pinner alone);
//! - the growth of the resident set (`/proc/self/statm`), which sees both and
//!   anything else, as a cross-check.
//!
//! A plain `main` (harness = false): `cargo bench -p pointer-escapes-core --bench
//! live_pin_memory` prints the table.

use pin_core::{snapshot, Pinner};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// Counts the bytes live in the global allocator.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to `System` unchanged; the counter is only
// arithmetic on the sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Go's `obj` (three `int64`), as in the pinner benches.
#[allow(dead_code)] // Only its size and its address matter.
struct Obj {
    x: i64,
    y: i64,
    z: i64,
}

/// Resident set size in bytes, from `/proc/self/statm` (second field, in
/// pages), or `None` where it cannot be read.
fn rss_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * usize::try_from(page).ok()?)
}

struct Measure {
    live: usize,
    registry: usize,
    pinner: usize,
    rss: Option<usize>,
}

fn measure(n: usize) -> Measure {
    let objs: Vec<Box<Obj>> = (0..n).map(|_| Box::new(Obj { x: 0, y: 0, z: 0 })).collect();
    let registry_before = snapshot().registry_bytes;
    let heap_before = LIVE_BYTES.load(Ordering::Relaxed);
    let rss_before = rss_bytes();

    let mut pinner = Pinner::new();
    for o in &objs {
        pinner.pin(&**o);
    }

    let rss_after = rss_bytes();
    let heap_after = LIVE_BYTES.load(Ordering::Relaxed);
    let snap = snapshot();
    let m = Measure {
        live: snap.pin_total(),
        registry: snap.registry_bytes.saturating_sub(registry_before),
        pinner: usize::try_from(heap_after - heap_before).unwrap_or(0),
        rss: rss_before.zip(rss_after).map(|(b, a)| a.saturating_sub(b)),
    };
    drop(snap);
    pinner.unpin();
    m
}

fn main() {
    println!("live_pin_memory: bytes per live pin (N heap objects pinned by one Pinner)");
    println!(
        "{:>9} {:>14} {:>14} {:>10} {:>14} {:>10}",
        "N", "registry B", "Pinner Vec B", "B/pin", "RSS growth B", "RSS B/pin"
    );
    for n in [1_000usize, 100_000, 1_000_000] {
        let m = measure(n);
        assert_eq!(m.live, n, "every object must be pinned once");
        let per_pin = (m.registry + m.pinner) as f64 / n as f64;
        let (rss, rss_per_pin) = match m.rss {
            Some(r) => (r.to_string(), format!("{:.1}", r as f64 / n as f64)),
            None => ("n/a".into(), "n/a".into()),
        };
        println!(
            "{:>9} {:>14} {:>14} {:>10.1} {:>14} {:>10}",
            n, m.registry, m.pinner, per_pin, rss, rss_per_pin
        );
    }
}
