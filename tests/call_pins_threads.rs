//! Call pins are published per thread, without the registry's lock (see
//! `pin-core/src/registry/calls.rs`). Another thread's free of a block a call
//! pins must still be quarantined, and a call's release racing that free
//! must never strand the block in the quarantine.
//!
//! Tests here compare process-wide quarantine totals, so they run one at a
//! time under `SERIAL` and assert what they added.

#[global_allocator]
static ALLOC: PinAwareAlloc = PinAwareAlloc::system();

use pointer_escapes::__private::{CallPins, Extent};
use pointer_escapes::*;
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The pins of a `#[pointer_escapes]` call with one `bytes = len` pointer.
fn call_pinning(addr: usize, len: usize) -> CallPins {
    let call = CallPins::new("call_pins_threads", |call| {
        let ptr = addr as *const u8;
        // SAFETY: with no check function nothing is read through `ptr`.
        unsafe { call.pointer("buf", &ptr, Extent::bytes(len), None) };
    });
    assert!(call.is_active(), "the pin-aware allocator wants call pins");
    call
}

fn quarantined_blocks() -> usize {
    snapshot().quarantined_blocks
}

#[test]
fn a_block_a_call_pins_is_quarantined_when_another_thread_frees_it() {
    let _serial = serial();
    let before = quarantined_blocks();
    let block = vec![7u8; 256].into_boxed_slice();
    let addr = block.as_ptr() as usize;
    let call = call_pinning(addr, block.len());
    thread::spawn(move || {
        assert!(is_pinned(addr as *const u8), "other threads see call pins");
        drop(block);
    })
    .join()
    .unwrap();
    assert_eq!(quarantined_blocks(), before + 1, "kept while the call runs");
    assert!(snapshot()
        .events
        .iter()
        .any(|e| e.block.addr() == addr && e.pin_kind == PinKind::Call));
    drop(call);
    assert_eq!(quarantined_blocks(), before, "freed when the call returns");
}

/// Each round: this thread's call pins a block; another thread frees it at
/// the same moment as the call returns. Whatever the interleaving, once
/// both are done the block is out of the quarantine.
#[test]
fn a_call_returning_while_another_thread_frees_its_block_strands_nothing() {
    let _serial = serial();
    let before = quarantined_blocks();
    let rounds = if cfg!(miri) { 20 } else { 20_000 };
    let (to_freer, blocks) = mpsc::sync_channel::<Box<[u8]>>(1);
    let freer = thread::spawn(move || {
        for block in blocks {
            drop(block);
        }
    });
    for i in 0..rounds {
        let block = vec![1u8; 16 + i % 64].into_boxed_slice();
        let call = call_pinning(block.as_ptr() as usize, block.len());
        to_freer.send(block).unwrap();
        drop(call);
    }
    drop(to_freer);
    freer.join().unwrap();
    assert_eq!(
        quarantined_blocks(),
        before,
        "a block outlived every pin on it in the quarantine"
    );
}
