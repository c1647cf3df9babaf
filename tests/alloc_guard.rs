//! `PinAwareAlloc`: pinned heap blocks are neither freed nor moved while
//! pinned. Freed pinned blocks are quarantined (never handed out again, C's
//! writes land in them and nowhere else) until the last pin overlapping them
//! is released; each event is recorded with the pin's kind and site.
//!
//! Every test here compares process-wide totals (quarantine, events), so
//! they run one at a time under `serial()`, assert what they added to the
//! totals (never the totals themselves, which depend on the tests that ran
//! before), and leave no pin behind: a test that must leave one runs in a
//! child process.

#[global_allocator]
static ALLOC: PinAwareAlloc = PinAwareAlloc::system();

mod common;

use common::child::{announce_site, is_child, run_child, sites_of, stderr_of};
use common::panics::{assert_mentions, panic_message};
use pointer_escapes::__private::{CallPins, Extent};
use pointer_escapes::*;
use std::ffi::c_void;
use std::hint::black_box;
use std::os::unix::process::ExitStatusExt;
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

/// Takes this binary's lock and sets the checked mode the allocator reports
/// events in (one stderr line per event).
fn serial() -> MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    set_check_mode(CheckMode::Args);
    guard
}

/// Blocks and bytes in quarantine now.
fn quarantine() -> (usize, usize) {
    let snap = snapshot();
    (snap.quarantined_blocks, snap.quarantined_bytes)
}

/// The most recent event about the block at `addr`.
fn event_for(snap: &Snapshot, addr: usize) -> AllocEvent {
    *snap
        .events
        .iter()
        .rev()
        .find(|e| e.block.addr() == addr)
        .unwrap_or_else(|| panic!("no allocator event for {addr:#x}:\n{snap}"))
}

/// Stands in for C writing through a pointer it kept: `memset` through an
/// address the optimiser cannot relate to the Rust value that was dropped.
fn c_writes(addr: usize, byte: u8, len: usize) {
    let p = black_box(addr) as *mut c_void;
    // SAFETY: callers pass a quarantined or live block of at least `len`
    // bytes; quarantined blocks stay allocated until unpinned.
    unsafe { libc::memset(p, byte as i32, len) };
}

#[test]
fn snapshot_says_frees_are_guarded() {
    let _serial = serial();
    let snap = snapshot();
    assert!(snap.allocator_installed);
    assert!(snap
        .to_string()
        .contains("frees guarded (PinAwareAlloc installed)"));
}

/// Freed while pinned by `Pinner::pin_raw`: quarantined, never handed out
/// again while pinned, C's writes into it corrupt nothing else, and it is
/// released by the unpin.
#[test]
fn block_freed_while_pinned_is_quarantined_until_unpinned() {
    const SIZE: usize = 256;
    let _serial = serial();
    let before = snapshot();
    let victim = vec![0x11u8; SIZE];
    let addr = victim.as_ptr() as usize;
    let block = Region::of_slice(&victim);
    let mut pinner = Pinner::new();
    // SAFETY: once `victim` drops, PinAwareAlloc keeps its block allocated
    // until this pin is released.
    let line = line!() + 1;
    unsafe { pinner.pin_raw(victim.as_ptr(), SIZE) };
    drop(victim);

    let during = snapshot();
    assert_eq!(during.quarantined_blocks, before.quarantined_blocks + 1);
    assert_eq!(during.quarantined_bytes, before.quarantined_bytes + SIZE);
    assert_eq!(during.freed_while_pinned, before.freed_while_pinned + 1);
    let ev = event_for(&during, addr);
    assert_eq!(ev.kind, AllocEventKind::FreedWhilePinned);
    assert_eq!(ev.block, block);
    assert_eq!(ev.pin_region, block);
    assert_eq!(ev.pin_kind, PinKind::Pinner);
    assert_eq!((ev.pin_site.file(), ev.pin_site.line()), (file!(), line));
    assert_eq!(ev.thread, ThreadNumber::current());
    assert_mentions(
        &ev.to_string(),
        &[
            "freed while pinned",
            "Pinner pin of",
            &format!("{}:{line}:", file!()),
        ],
    );
    // The totals include other tests' blocks (a dropped OwnedPin stays
    // quarantined for good), so the report is checked against the snapshot.
    assert_mentions(
        &during.to_string(),
        &[
            &format!(
                "{} block(s), {} bytes in quarantine now",
                during.quarantined_blocks, during.quarantined_bytes
            ),
            "freed while pinned",
        ],
    );

    // Same-size allocations never get the quarantined block.
    let others: Vec<Vec<u8>> = (0..4096).map(|_| vec![0x5Au8; SIZE]).collect();
    for other in &others {
        assert!(
            !Region::of_slice(other).overlaps(&block),
            "the pinned block was handed out again"
        );
    }
    // C writes into the block it still holds: nothing else changes.
    c_writes(addr, 0xEE, SIZE);
    for (i, other) in others.iter().enumerate() {
        assert!(
            other.iter().all(|&b| b == 0x5A),
            "allocation {i} was overwritten"
        );
    }
    drop(others);

    pinner.unpin();
    assert_eq!(
        quarantine(),
        (before.quarantined_blocks, before.quarantined_bytes)
    );
}

/// Freed while pinned by a `#[pointer_escapes]` call's pins (its run-time,
/// `CallPins`, used directly): released when the call ends.
#[test]
fn block_freed_during_a_call_is_released_when_the_call_ends() {
    let _serial = serial();
    let before = quarantine();
    let buf = vec![1u8; 512];
    let p = buf.as_ptr();
    let line = line!() + 1;
    let call = CallPins::new("aio_read", |call| {
        // SAFETY: `p` points at 512 live bytes; nothing is checked.
        unsafe { call.pointer("buf", &p, Extent::bytes(512usize), None) };
    });
    drop(buf);
    assert_eq!(quarantine(), (before.0 + 1, before.1 + 512));
    let ev = event_for(&snapshot(), p as usize);
    assert_eq!(ev.pin_kind, PinKind::Call);
    assert_eq!(ev.pin_site.line(), line);
    c_writes(p as usize, 0, 512);
    drop(call);
    assert_eq!(quarantine(), before);
}

/// An `OwnedPin` dropped while C may hold its pointer: the block is
/// quarantined for good, and the event names the OwnedPin's site. In a
/// child process: the pin and the block stay for the rest of the process,
/// and the other tests here compare the process's totals.
#[test]
fn dropped_owned_pin_is_quarantined_with_its_site() {
    if is_child("dropped-owned-pin") {
        dropped_owned_pin_scenario();
        return;
    }
    let out = run_child(
        "dropped_owned_pin_is_quarantined_with_its_site",
        "dropped-owned-pin",
        &[],
    );
    assert!(
        out.status.success(),
        "the child failed:\n{}",
        stderr_of(&out)
    );
}

fn dropped_owned_pin_scenario() {
    const LEN: usize = 640;
    let _serial = serial();
    let before = snapshot();
    let line = line!() + 1;
    let owned = OwnedPin::new(vec![0x77u8; LEN]);
    let addr = owned.as_ptr() as usize;
    drop(owned);
    let after = snapshot();
    assert_eq!(after.quarantined_blocks, before.quarantined_blocks + 1);
    assert_eq!(after.quarantined_bytes, before.quarantined_bytes + LEN);
    let ev = event_for(&after, addr);
    assert_eq!(ev.kind, AllocEventKind::FreedWhilePinned);
    assert_eq!(ev.pin_kind, PinKind::Owned);
    assert_eq!((ev.pin_site.file(), ev.pin_site.line()), (file!(), line));
    assert_mentions(
        &after.to_string(),
        &["OwnedPin pin of", &format!("{}:{line}:", file!())],
    );
    // The pin and the block stay; C's writes land in the block.
    c_writes(addr, 0x01, LEN);
    assert!(is_region_pinned(addr as *const u8, LEN));
}

/// A pinned `Vec` grown past its capacity: the contents move to a new block,
/// the old one is quarantined, and the event names the pin's site.
#[test]
fn vec_grown_while_pinned_moves_and_reports_it() {
    let _serial = serial();
    let before = snapshot();
    let mut v: Vec<u32> = Vec::with_capacity(8);
    v.extend(0..8);
    let old = Region::of_slice(&v);
    let mut pinner = Pinner::new();
    // SAFETY: when `push` moves the Vec, PinAwareAlloc keeps the old block
    // allocated until this pin is released.
    let line = line!() + 1;
    unsafe { pinner.pin_raw(v.as_ptr(), 8 * 4) };
    v.push(8);
    assert_eq!(
        v,
        (0..9).collect::<Vec<u32>>(),
        "the contents were not kept"
    );
    assert_ne!(v.as_ptr() as usize, old.addr(), "the Vec did not move");

    let during = snapshot();
    assert_eq!(during.moved_while_pinned, before.moved_while_pinned + 1);
    assert_eq!(during.quarantined_blocks, before.quarantined_blocks + 1);
    let ev = event_for(&during, old.addr());
    assert_eq!(
        ev.kind,
        AllocEventKind::MovedWhilePinned {
            new_addr: v.as_ptr() as usize
        }
    );
    assert_eq!(ev.block, old);
    assert_eq!(ev.pin_kind, PinKind::Pinner);
    assert_eq!((ev.pin_site.file(), ev.pin_site.line()), (file!(), line));
    assert_mentions(
        &ev.to_string(),
        &[
            "moved while pinned",
            &format!("to {:#x}", v.as_ptr() as usize),
            "lost",
        ],
    );
    // C still writes to the old block; the Vec does not see it.
    c_writes(old.addr(), 0xFF, 32);
    assert_eq!(v[..8], [0, 1, 2, 3, 4, 5, 6, 7]);

    pinner.unpin();
    assert_eq!(
        quarantine(),
        (before.quarantined_blocks, before.quarantined_bytes)
    );
}

/// A pin of part of a block guards the whole block; a pin next to a block
/// does not.
#[test]
fn any_overlap_guards_the_whole_block_and_adjacency_does_not() {
    let _serial = serial();
    let before = quarantine();
    let block = vec![0u8; 1024];
    let mut pinner = Pinner::new();
    // SAFETY: the block is quarantined when it drops below.
    unsafe { pinner.pin_raw(block[500..].as_ptr(), 16) };
    drop(block);
    assert_eq!(quarantine(), (before.0 + 1, before.1 + 1024));
    pinner.unpin();
    assert_eq!(quarantine(), before);

    let block = vec![0u8; 1024];
    let addr2 = block.as_ptr() as usize;
    // SAFETY: the 16 bytes before and the one address past the block are
    // never dereferenced; the registry only records the ranges.
    unsafe {
        pinner.pin_raw((addr2 - 16) as *const u8, 16);
        pinner.pin_raw((addr2 + 1024) as *const u8, 0);
    }
    drop(block);
    assert_eq!(quarantine(), before, "a pin next to the block guarded it");
    pinner.unpin();
}

/// A panic inside `scope` or `with_pinned` after a pinned block was freed:
/// unwinding releases the pin, and the block with it.
#[test]
fn panic_inside_scope_releases_the_freed_block() {
    let _serial = serial();
    let before = quarantine();
    let msg = panic_message(|| {
        scope(|pinner| {
            let v = vec![3u8; 384];
            // SAFETY: the block is quarantined when `v` drops below.
            unsafe { pinner.pin_raw(v.as_ptr(), v.len()) };
            drop(v);
            assert_eq!(quarantine(), (before.0 + 1, before.1 + 384));
            panic!("the C call failed");
        })
    });
    assert_eq!(msg, "the C call failed");
    assert_eq!(quarantine(), before, "unwinding did not release the block");

    let v = vec![4u8; 200];
    let region = Region::of_slice(&v);
    let msg = panic_message(|| {
        with_pinned(&[region], move || {
            drop(v);
            assert_eq!(quarantine(), (before.0 + 1, before.1 + 200));
            panic!("the callback failed");
        })
    });
    assert_eq!(msg, "the callback failed");
    assert_eq!(quarantine(), before);
}

/// Blocks no pin overlaps go straight back while other pins are live.
#[test]
fn unpinned_blocks_are_freed_at_once_while_other_pins_live() {
    let _serial = serial();
    let before = snapshot();
    let pinned = vec![0u8; 64];
    let mut pinner = Pinner::new();
    pinner.pin_slice(&pinned);
    for size in [1usize, 16, 64, 4096, 1 << 20] {
        drop(vec![0u8; size]);
        let mut v = vec![0u8; size];
        v.resize(size * 2, 1);
        drop(v);
    }
    let after = snapshot();
    assert_eq!(after.quarantined_blocks, before.quarantined_blocks);
    assert_eq!(after.freed_while_pinned, before.freed_while_pinned);
    assert_eq!(after.moved_while_pinned, before.moved_while_pinned);
}

thread_local! {
    /// A buffer a thread owns until it exits: dropped by the thread-local
    /// destructor.
    static HELD_UNTIL_EXIT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A pinned block freed by a thread-local destructor, as the thread exits:
/// quarantined like any other, the event names the exiting thread.
#[test]
fn block_freed_by_a_thread_local_destructor_is_quarantined() {
    let _serial = serial();
    let before = quarantine();
    let (tx, rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let worker = thread::spawn(move || {
        let addr = HELD_UNTIL_EXIT.with(|held| {
            *held.borrow_mut() = vec![6u8; 448];
            held.borrow().as_ptr() as usize
        });
        tx.send((addr, ThreadNumber::current())).unwrap();
        go_rx.recv().unwrap();
    });
    let (addr, worker_number) = rx.recv().unwrap();
    let mut pinner = Pinner::new();
    // SAFETY: the block is quarantined when the thread-local drops it.
    unsafe { pinner.pin_raw(addr as *const u8, 448) };
    go_tx.send(()).unwrap();
    worker.join().unwrap();

    assert_eq!(quarantine(), (before.0 + 1, before.1 + 448));
    let ev = event_for(&snapshot(), addr);
    assert_eq!(ev.kind, AllocEventKind::FreedWhilePinned);
    assert_eq!(
        ev.thread, worker_number,
        "the event names the exiting thread"
    );
    assert_ne!(ev.pin_thread, worker_number);
    c_writes(addr, 0, 448);
    drop(pinner);
    assert_eq!(quarantine(), before);
}

/// `POINTER_ESCAPES_GUARD=abort`: the first event prints itself and the pin's site, then
/// aborts the process.
#[test]
fn pinguard_abort_aborts_naming_the_event_and_site() {
    if is_child("pinguard-abort") {
        let v = vec![9u8; 128];
        let mut pinner = Pinner::new();
        // SAFETY: the process aborts when `v` drops.
        let line = line!() + 1;
        unsafe { pinner.pin_raw(v.as_ptr(), v.len()) };
        announce_site(file!(), line);
        drop(v);
        unreachable!("POINTER_ESCAPES_GUARD=abort did not abort");
    }
    let out = run_child(
        "pinguard_abort_aborts_naming_the_event_and_site",
        "pinguard-abort",
        &[("POINTER_ESCAPES_GUARD", "abort")],
    );
    let stderr = stderr_of(&out);
    assert!(!out.status.success(), "the child survived:\n{stderr}");
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{stderr}");
    let sites = sites_of(&out);
    assert_eq!(sites.len(), 1);
    assert_mentions(
        &stderr,
        &[
            "freed while pinned",
            "Pinner pin of",
            &sites[0],
            "POINTER_ESCAPES_GUARD=abort: aborting",
        ],
    );
}

/// `PINREPORT=1` prints the allocator's events at exit even when no pin is
/// left.
#[test]
fn pinreport_lists_allocator_events_at_exit() {
    if is_child("pinreport-events") {
        let v = vec![9u8; 96];
        let mut pinner = Pinner::new();
        // SAFETY: the block is quarantined when `v` drops below.
        let line = line!() + 1;
        unsafe { pinner.pin_raw(v.as_ptr(), v.len()) };
        announce_site(file!(), line);
        drop(v);
        drop(pinner);
        return;
    }
    let out = run_child(
        "pinreport_lists_allocator_events_at_exit",
        "pinreport-events",
        &[("PINREPORT", "1")],
    );
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "the child failed:\n{stderr}");
    let sites = sites_of(&out);
    assert_eq!(sites.len(), 1);
    assert_mentions(
        &stderr,
        &[
            "pointer-escapes report: 0 live pin(s) in 0 entries; frees guarded",
            "allocator: 1 block(s) freed while pinned, 0 moved while pinned; \
             0 block(s), 0 bytes in quarantine now",
            &sites[0],
        ],
    );
}

/// What one worker of the concurrent workload did.
#[derive(Default)]
struct WorkerTally {
    pins: usize,
    frees: usize,
    grows: usize,
    own_freed_while_pinned: u64,
    own_moved_while_pinned: u64,
}

/// xorshift64*: deterministic per worker.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

/// A shared heap block and the byte every element of it holds.
type Slot = Mutex<(Vec<u8>, u8)>;

fn worker(t: usize, ops: usize, slots: &[Slot]) -> WorkerTally {
    let mut rng = Rng(0xA076_1D64_78BD_642F ^ ((t as u64 + 1) << 17));
    let mut tally = WorkerTally::default();
    let mut pinner = Pinner::new();
    for op in 0..ops {
        let slot = &slots[rng.below(slots.len())];
        match rng.below(8) {
            // Pin part of a block another worker may free or grow.
            0 | 1 => {
                let guard = slot.lock().unwrap();
                let v = &guard.0;
                let from = rng.below(v.len());
                let len = rng.below(v.len() - from + 1);
                // SAFETY: the block is live now; if a worker frees it while
                // the pin lives, PinAwareAlloc keeps it allocated.
                unsafe { pinner.pin_raw(v[from..].as_ptr(), len) };
                tally.pins += 1;
            }
            // Replace a block: the old one may be pinned.
            2 => {
                let tag = (op % 251) as u8;
                *slot.lock().unwrap() = (vec![tag; 16 + rng.below(2048)], tag);
                tally.frees += 1;
            }
            // Grow a block: realloc of a possibly pinned block.
            3 => {
                let mut guard = slot.lock().unwrap();
                let (v, tag) = &mut *guard;
                let extra = 1 + rng.below(512);
                v.resize(v.len() + extra, *tag);
                if v.len() > 8192 {
                    v.truncate(64);
                    v.shrink_to_fit();
                }
                tally.grows += 1;
            }
            // A block of our own freed while pinned: always an event.
            4 => {
                let own = vec![0u8; 32 + rng.below(256)];
                // SAFETY: quarantined when dropped below.
                unsafe { pinner.pin_raw(own.as_ptr(), own.len()) };
                drop(own);
                tally.own_freed_while_pinned += 1;
            }
            // A Vec of our own grown while pinned: always a move.
            5 => {
                let mut own: Vec<u8> = Vec::with_capacity(24);
                own.resize(24, 1);
                // SAFETY: the old block is quarantined by the move below.
                unsafe { pinner.pin_raw(own.as_ptr(), own.len()) };
                own.push(2);
                assert_eq!(own.len(), 25);
                tally.own_moved_while_pinned += 1;
            }
            // Unrelated allocation traffic.
            6 => drop(Box::new([op as u8; 48])),
            _ => pinner.unpin(),
        }
        if pinner.len() > 64 {
            pinner.unpin();
        }
    }
    tally
}

/// Four threads pinning, unpinning, allocating, growing and freeing
/// overlapping blocks for 100k operations each: no deadlock, every block's
/// contents intact, the quarantine back to where it was, counts consistent.
#[test]
fn four_threads_pinning_and_freeing_concurrently() {
    const THREADS: usize = 4;
    const OPS: usize = 100_000;
    const SLOTS: usize = 32;
    let _serial = serial();
    // 100k events would each print a line in checked mode.
    set_check_mode(CheckMode::Off);
    let before = snapshot();
    let slots: Arc<Vec<Slot>> = Arc::new(
        (0..SLOTS)
            .map(|i| Mutex::new((vec![i as u8; 64 + i * 8], i as u8)))
            .collect(),
    );

    let (done, finished) = mpsc::channel();
    let shared = Arc::clone(&slots);
    thread::spawn(move || {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let slots = Arc::clone(&shared);
                thread::spawn(move || worker(t, OPS, &slots))
            })
            .collect();
        let tallies: Vec<thread::Result<WorkerTally>> =
            workers.into_iter().map(|w| w.join()).collect();
        let _ = done.send(tallies);
    });
    let tallies = finished
        .recv_timeout(Duration::from_secs(300))
        .expect("the workload did not finish in 300 s: deadlock");
    set_check_mode(CheckMode::Args);
    let tallies: Vec<WorkerTally> = tallies
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| std::panic::resume_unwind(e)))
        .collect();

    let after = snapshot();
    assert_eq!(
        after.quarantined_blocks, before.quarantined_blocks,
        "{after}"
    );
    assert_eq!(after.quarantined_bytes, before.quarantined_bytes);
    assert_eq!(after.pin_total(), before.pin_total(), "pins left behind");
    let own_freed: u64 = tallies.iter().map(|t| t.own_freed_while_pinned).sum();
    let own_moved: u64 = tallies.iter().map(|t| t.own_moved_while_pinned).sum();
    assert!(after.freed_while_pinned - before.freed_while_pinned >= own_freed);
    assert!(after.moved_while_pinned - before.moved_while_pinned >= own_moved);
    assert!(own_freed > 0 && own_moved > 0);
    assert!(tallies
        .iter()
        .all(|t| t.pins > 0 && t.frees > 0 && t.grows > 0));
    for (i, slot) in slots.iter().enumerate() {
        let guard = slot.lock().unwrap();
        let (v, tag) = &*guard;
        assert!(v.iter().all(|b| b == tag), "slot {i} lost its contents");
        assert_eq!(pin_count(v.as_ptr()), 0);
    }
}
