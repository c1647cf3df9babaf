//! A driver for counting instructions with callgrind, where wall-clock
//! timings on a shared machine wobble. Each workload repeats one operation
//! of the criterion benches `n` times inside `measured`, after its setup, so
//!
//! ```text
//! valgrind --tool=callgrind --toggle-collect='*callgrind_driver::measured*' \
//!     target/release/deps/callgrind_driver-HASH pin_unpin 100000
//! ```
//!
//! collects only the measured loop: instructions per operation are the
//! total `Ir` divided by `n`, and `callgrind_annotate --inclusive=yes`
//! breaks them down by function (pin, unpin, is_pinned, regions_covered,
//! dealloc...).
//!
//! Arguments: `[WORKLOAD|FILTER] [N]`. An exact workload name runs that one;
//! otherwise every workload whose name contains FILTER runs (all of them
//! without one), each with its default `n`, printing wall-clock ns/op as a
//! smoke check. Flags (`--bench` from `cargo bench`) are ignored.

use pin_core::{
    check_mode, check_referents, is_pinned, set_check_mode, snapshot, try_check_referents,
    CheckMode, Pinner,
};
use std::alloc::{handle_alloc_error, GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[path = "support/switch.rs"]
mod switch;
use switch::{install_pin_aware, PIN_AWARE, USE_PIN_AWARE};

/// Go's `obj` (three `int64`), as in benches/pinner.rs.
#[allow(dead_code)] // Only its size and its address matter.
struct Obj {
    x: i64,
    y: i64,
    z: i64,
}

fn new_obj() -> Box<Obj> {
    Box::new(Obj { x: 0, y: 0, z: 0 })
}

/// The only code callgrind collects (`--toggle-collect`): `n` runs of `op`.
#[inline(never)]
fn measured(n: u64, mut op: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        op();
    }
    start.elapsed()
}

fn pin_unpin(n: u64) -> Duration {
    let p = new_obj();
    measured(n, || {
        let mut pinner = Pinner::new();
        black_box(pinner.pin(black_box(&*p)));
        pinner.unpin();
    })
}

/// `pin_unpin` with the pin dated (checks on: see `report::pin_birth`).
fn pin_unpin_dated(n: u64) -> Duration {
    let before = check_mode();
    set_check_mode(CheckMode::Args);
    let took = pin_unpin(n);
    set_check_mode(before);
    took
}

fn pin_unpin_tiny(n: u64) -> Duration {
    let p = Box::new(false);
    measured(n, || {
        let mut pinner = Pinner::new();
        black_box(pinner.pin(black_box(&*p)));
        pinner.unpin();
    })
}

fn pin_unpin_double(n: u64) -> Duration {
    let p = new_obj();
    measured(n, || {
        let mut pinner = Pinner::new();
        black_box(pinner.pin(black_box(&*p)));
        black_box(pinner.pin(black_box(&*p)));
        pinner.unpin();
    })
}

const BATCH: usize = 1000;

fn pin_unpin_batch(n: u64) -> Duration {
    let data: Vec<Box<Obj>> = (0..BATCH).map(|_| new_obj()).collect();
    measured(n, || {
        let mut pinner = Pinner::new();
        for d in &data {
            black_box(pinner.pin(&**d));
        }
        pinner.unpin();
    })
}

fn pin_unpin_batch_double(n: u64) -> Duration {
    let data: Vec<Box<Obj>> = (0..BATCH).map(|_| new_obj()).collect();
    measured(n, || {
        let mut pinner = Pinner::new();
        for d in &data {
            black_box(pinner.pin(&**d));
            black_box(pinner.pin(&**d));
        }
        pinner.unpin();
    })
}

fn pin_unpin_batch_tiny(n: u64) -> Duration {
    let data: Vec<Box<bool>> = (0..BATCH).map(|_| Box::new(false)).collect();
    measured(n, || {
        let mut pinner = Pinner::new();
        for d in &data {
            black_box(pinner.pin(&**d));
        }
        pinner.unpin();
    })
}

fn pin_unpin_with_live_1m(n: u64) -> Duration {
    let others: Vec<Box<Obj>> = (0..1_000_000).map(|_| new_obj()).collect();
    let mut live = Pinner::new();
    for o in &others {
        live.pin(&**o);
    }
    let p = new_obj();
    let t = measured(n, || {
        let mut pinner = Pinner::new();
        black_box(pinner.pin(black_box(&*p)));
        pinner.unpin();
    });
    live.unpin();
    t
}

fn is_pinned_on_pinned(n: u64) -> Duration {
    let obj = new_obj();
    let mut pinner = Pinner::new();
    let ptr = pinner.pin(&*obj);
    assert!(is_pinned(ptr));
    let t = measured(n, || {
        black_box(is_pinned(black_box(ptr)));
    });
    pinner.unpin();
    t
}

fn is_pinned_on_unpinned(n: u64) -> Duration {
    let obj = new_obj();
    let ptr: *const Obj = &*obj;
    assert!(!is_pinned(ptr));
    measured(n, || {
        black_box(is_pinned(black_box(ptr)));
    })
}

fn is_pinned_on_unpinned_with_pins_live(n: u64) -> Duration {
    let (other, obj) = (new_obj(), new_obj());
    let mut pinner = Pinner::new();
    pinner.pin(&*other);
    let ptr: *const Obj = &*obj;
    assert!(!is_pinned(ptr));
    let t = measured(n, || {
        black_box(is_pinned(black_box(ptr)));
    });
    pinner.unpin();
    t
}

fn sixteen_buffers(len: usize) -> Vec<Vec<u8>> {
    (0..16).map(|i| vec![i as u8; len]).collect()
}

fn check_iovec_16(n: u64) -> Duration {
    let bufs = sixteen_buffers(4096);
    let mut pinner = Pinner::new();
    for b in &bufs {
        pinner.pin_slice(b);
    }
    let iov: [libc::iovec; 16] = std::array::from_fn(|i| libc::iovec {
        iov_base: bufs[i].as_ptr() as *mut libc::c_void,
        iov_len: bufs[i].len(),
    });
    assert!(try_check_referents(&iov).is_ok());
    let t = measured(n, || check_referents(black_box(&iov)));
    pinner.unpin();
    t
}

fn check_vec_vec_u8(len: usize, n: u64) -> Duration {
    let bufs = sixteen_buffers(len);
    let mut pinner = Pinner::new();
    pinner.pin_slice(&bufs);
    for b in &bufs {
        pinner.pin_slice(b);
    }
    assert!(try_check_referents(&bufs).is_ok());
    let t = measured(n, || check_referents(black_box(&bufs)));
    pinner.unpin();
    t
}

/// Runs `f` with 10k pinned 4 KiB buffers live, as in benches/alloc.rs.
///
/// Under valgrind the heap is laid out differently: blocks allocated next
/// land in holes between the pinned buffers (as in the `_neighbours`
/// workloads), whereas natively they come from fresh heap.
fn with_10k_pins<R>(f: impl FnOnce() -> R) -> R {
    with_pinned_buffers(false, f)
}

/// Runs `f` with 10k pinned 4 KiB buffers, each followed by a freed 64-byte
/// hole, so 64-byte blocks allocated next land beside pinned buffers.
fn with_10k_pins_neighbours<R>(f: impl FnOnce() -> R) -> R {
    with_pinned_buffers(true, f)
}

fn with_pinned_buffers<R>(holes: bool, f: impl FnOnce() -> R) -> R {
    install_pin_aware();
    let mut bufs: Vec<Vec<u8>> = Vec::with_capacity(10_000);
    let mut spacers: Vec<Box<[u64; 8]>> = Vec::with_capacity(10_000);
    for i in 0..10_000 {
        bufs.push(vec![i as u8; 4096]);
        if holes {
            spacers.push(Box::new([0; 8]));
        }
    }
    drop(spacers);
    let mut pinner = Pinner::new();
    for b in &bufs {
        pinner.pin_slice(b);
    }
    let r = f();
    pinner.unpin();
    r
}

/// As in benches/alloc.rs: rounds of 1000 allocations then 1000 frees;
/// `n` (pairs) should be a multiple of 1000.
fn alloc_free_64b<A: GlobalAlloc>(a: &A, n: u64) -> Duration {
    const IN_FLIGHT: usize = 1000;
    // Opaque, as a global allocator's layout is (see benches/alloc.rs).
    let layout = black_box(Layout::new::<[u64; 8]>());
    let mut blocks = [core::ptr::null_mut::<u8>(); IN_FLIGHT];
    let rounds = n.div_ceil(IN_FLIGHT as u64);
    measured(rounds, || {
        for slot in blocks.iter_mut() {
            // SAFETY: non-zero size; the write is in bounds.
            unsafe {
                let p = a.alloc(layout);
                if p.is_null() {
                    handle_alloc_error(layout);
                }
                p.write(1);
                *slot = p;
            }
        }
        for &p in black_box(&blocks[..]) {
            // SAFETY: allocated above with `layout`, freed once.
            unsafe { a.dealloc(p, layout) };
        }
    })
}

fn btreemap_100k(pin_aware: bool, n: u64) -> Duration {
    install_pin_aware();
    let keys: Vec<String> = (0..100_000)
        .map(|i| format!("key-{:08}", (i * 7919) % 100_000))
        .collect();
    USE_PIN_AWARE.store(pin_aware, Ordering::Relaxed);
    let t = measured(n, || {
        let mut map = BTreeMap::new();
        for (i, k) in keys.iter().enumerate() {
            map.insert(k.clone(), vec![i as u8; 32]);
        }
        black_box(&map);
    });
    USE_PIN_AWARE.store(false, Ordering::Relaxed);
    t
}

fn pinned_free_64b(quarantine: bool, n: u64) -> Duration {
    install_pin_aware();
    let layout = Layout::new::<[u64; 8]>();
    let before = snapshot().freed_while_pinned;
    let t = measured(n, || {
        let mut pinner = Pinner::new();
        // SAFETY: non-zero size.
        let p = unsafe { PIN_AWARE.alloc(layout) };
        if p.is_null() {
            handle_alloc_error(layout);
        }
        // SAFETY: the block stays allocated until the pin is released (freed
        // after `unpin`, or quarantined by `PIN_AWARE` until then).
        unsafe { pinner.pin_raw(p, layout.size()) };
        if quarantine {
            // SAFETY: allocated above with `layout`, freed once.
            unsafe { PIN_AWARE.dealloc(black_box(p), layout) };
            pinner.unpin();
        } else {
            pinner.unpin();
            // SAFETY: allocated above with `layout`, freed once.
            unsafe { PIN_AWARE.dealloc(black_box(p), layout) };
        }
    });
    let after = snapshot();
    let expected = if quarantine { n } else { 0 };
    assert_eq!(after.freed_while_pinned - before, expected);
    assert_eq!(after.quarantined_blocks, 0);
    t
}

/// As `pin_unpin_beside_quarantine/N` in benches/alloc.rs: a fresh
/// `Pinner` pins and unpins one object unrelated to `quarantined` 64-byte
/// blocks that another `Pinner` pinned and that were then freed through
/// `PIN_AWARE` (quarantined until that pinner unpins).
fn pin_unpin_beside_quarantine(quarantined: usize, n: u64) -> Duration {
    install_pin_aware();
    let layout = Layout::new::<[u64; 8]>();
    let mut holder = Pinner::new();
    let blocks: Vec<*mut u8> = (0..quarantined)
        .map(|_| {
            // SAFETY: non-zero size.
            let p = unsafe { PIN_AWARE.alloc(layout) };
            if p.is_null() {
                handle_alloc_error(layout);
            }
            // SAFETY: `PIN_AWARE` keeps the block allocated (quarantined)
            // after the free below, until `holder` unpins.
            unsafe { holder.pin_raw(p, layout.size()) };
            p
        })
        .collect();
    for &p in &blocks {
        // SAFETY: allocated above from `PIN_AWARE` with `layout`, freed once.
        unsafe { PIN_AWARE.dealloc(p, layout) };
    }
    assert_eq!(snapshot().quarantined_blocks, quarantined);
    // Unrelated: allocated through `System`, far from every quarantined
    // block's pin.
    let obj = new_obj();
    let t = measured(n, || {
        let mut pinner = Pinner::new();
        black_box(pinner.pin(black_box(&*obj)));
        pinner.unpin();
    });
    holder.unpin();
    assert_eq!(snapshot().quarantined_blocks, 0);
    t
}

type Workload = (&'static str, u64, fn(u64) -> Duration);

const WORKLOADS: &[Workload] = &[
    ("pin_unpin", 200_000, pin_unpin),
    ("pin_unpin_dated", 200_000, pin_unpin_dated),
    ("pin_unpin_tiny", 200_000, pin_unpin_tiny),
    ("pin_unpin_pin_aware_installed", 200_000, |n| {
        install_pin_aware();
        pin_unpin(n)
    }),
    ("pin_unpin_double", 200_000, pin_unpin_double),
    ("pin_unpin_batch", 200, pin_unpin_batch),
    ("pin_unpin_batch_double", 100, pin_unpin_batch_double),
    ("pin_unpin_batch_tiny", 200, pin_unpin_batch_tiny),
    ("pin_unpin_with_live_1m", 200_000, pin_unpin_with_live_1m),
    ("is_pinned_on_pinned", 1_000_000, is_pinned_on_pinned),
    ("is_pinned_on_unpinned", 1_000_000, is_pinned_on_unpinned),
    (
        "is_pinned_on_unpinned_with_pins_live",
        1_000_000,
        is_pinned_on_unpinned_with_pins_live,
    ),
    ("check_iovec_16", 200_000, check_iovec_16),
    ("check_vec_vec_u8_16", 2_000, |n| check_vec_vec_u8(4096, n)),
    ("check_vec_vec_u8_16_small", 200_000, |n| {
        check_vec_vec_u8(64, n)
    }),
    ("alloc_free_64b_system", 1_000_000, |n| {
        alloc_free_64b(&System, n)
    }),
    ("alloc_free_64b_pin_aware", 1_000_000, |n| {
        alloc_free_64b(&PIN_AWARE, n)
    }),
    ("alloc_free_64b_system_10k_pins", 1_000_000, |n| {
        with_10k_pins(|| alloc_free_64b(&System, n))
    }),
    ("alloc_free_64b_pin_aware_10k_pins", 1_000_000, |n| {
        with_10k_pins(|| alloc_free_64b(&PIN_AWARE, n))
    }),
    (
        "alloc_free_64b_system_10k_pins_neighbours",
        1_000_000,
        |n| with_10k_pins_neighbours(|| alloc_free_64b(&System, n)),
    ),
    (
        "alloc_free_64b_pin_aware_10k_pins_neighbours",
        1_000_000,
        |n| with_10k_pins_neighbours(|| alloc_free_64b(&PIN_AWARE, n)),
    ),
    ("btreemap_100k_system", 2, |n| btreemap_100k(false, n)),
    ("btreemap_100k_pin_aware", 2, |n| btreemap_100k(true, n)),
    ("btreemap_100k_system_10k_pins", 2, |n| {
        with_10k_pins(|| btreemap_100k(false, n))
    }),
    ("btreemap_100k_pin_aware_10k_pins", 2, |n| {
        with_10k_pins(|| btreemap_100k(true, n))
    }),
    ("pin_unpin_beside_quarantine_0", 200_000, |n| {
        pin_unpin_beside_quarantine(0, n)
    }),
    ("pin_unpin_beside_quarantine_10k", 200_000, |n| {
        pin_unpin_beside_quarantine(10_000, n)
    }),
    ("pinned_free_64b", 200_000, |n| pinned_free_64b(true, n)),
    ("unpin_then_free_64b", 200_000, |n| {
        pinned_free_64b(false, n)
    }),
];

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let filter = args.first().map(String::as_str).unwrap_or("");
    let count = match args.get(1).map(|s| s.parse::<u64>()) {
        None => None,
        Some(Ok(n)) if n > 0 => Some(n),
        Some(_) => {
            eprintln!(
                "callgrind_driver: N must be a positive integer, got {:?}",
                args[1]
            );
            std::process::exit(2);
        }
    };
    let exact: Vec<&Workload> = WORKLOADS.iter().filter(|w| w.0 == filter).collect();
    let chosen: Vec<&Workload> = if exact.is_empty() {
        WORKLOADS.iter().filter(|w| w.0.contains(filter)).collect()
    } else {
        exact
    };
    if chosen.is_empty() {
        eprintln!("callgrind_driver: no workload matches {filter:?}; workloads:");
        for w in WORKLOADS {
            eprintln!("  {}", w.0);
        }
        return;
    }
    for &&(name, default_n, run) in &chosen {
        let n = count.unwrap_or(default_n);
        let t = run(n);
        println!(
            "callgrind_driver {name:<36} n={n:<9} {:>12.1} ns/op (wall clock, smoke check only)",
            t.as_nanos() as f64 / n as f64
        );
    }
}
