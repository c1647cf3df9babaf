//! The allocator's one-word shortcut (`SOLE_SHARD` in
//! `pin-core/src/registry/shards.rs`): while one shard is the only one
//! that ever held a pin and no thread ever claimed a call record, a free
//! asks that shard's hints alone. These tests start from a registry no pin
//! ever touched (each scenario runs in a child process of its own, so no
//! other test's pins moved the word first), make the first pins in one
//! shard, and then have ANOTHER thread pin a block, in another shard or
//! in its call record, before this thread frees the block: the pin
//! happens-before the free (a channel orders them), so the free must see
//! it and keep the block.

#[global_allocator]
static ALLOC: PinAwareAlloc = PinAwareAlloc::system();

mod common;

use common::child::in_a_fresh_process;
use pointer_escapes::__private::{CallPins, Extent};
use pointer_escapes::*;
use std::sync::mpsc;
use std::thread;

/// What another thread does to the block it sends: pin it lastingly (in
/// its own shard) or with a call's pins (in its call record).
#[derive(Clone, Copy)]
enum OtherPin {
    Lasting,
    Call,
}

/// The scenario, run in a fresh process: this thread pins first (its shard
/// becomes the sole one); then, for each of nine threads in turn (threads
/// land in the 8 shards by number, so the first of them pins in a shard no
/// pin was ever in), that thread pins a block of its own and sends it
/// here, where it is freed while the pin lives: every one must be kept.
fn frees_see_pins_made_on_other_threads(how: OtherPin) {
    let first = vec![0u8; 256];
    let mut lasting = Pinner::new();
    lasting.pin_slice(&first);
    for thread in 0..9 {
        let (to_freer, blocks) = mpsc::channel::<Box<[u8]>>();
        let (freed, wait_freed) = mpsc::channel::<()>();
        let pinner = thread::spawn(move || {
            let block = vec![1u8; 96].into_boxed_slice();
            let addr = block.as_ptr() as usize;
            let mut pinner = Pinner::new();
            let call = match how {
                OtherPin::Lasting => {
                    // SAFETY: `PinAwareAlloc` keeps the block allocated
                    // while the pin lives (what this test checks).
                    unsafe { pinner.pin_raw(block.as_ptr(), block.len()) };
                    None
                }
                OtherPin::Call => {
                    let call = CallPins::new("alloc_sole_shard", |call| {
                        let ptr = addr as *const u8;
                        // SAFETY: with no check function nothing is read
                        // through `ptr`.
                        unsafe { call.pointer("buf", &ptr, Extent::bytes(96), None) };
                    });
                    assert!(call.is_active(), "the pin-aware allocator wants call pins");
                    Some(call)
                }
            };
            to_freer.send(block).expect("the freeing thread");
            wait_freed.recv().expect("the freeing thread");
            drop(call);
            pinner.unpin();
        });
        let block = blocks.recv().expect("the pinning thread's block");
        let before = snapshot().quarantined_blocks;
        drop(block);
        let after = snapshot().quarantined_blocks;
        freed.send(()).expect("the pinning thread");
        pinner.join().expect("the pinning thread");
        assert_eq!(
            after,
            before + 1,
            "thread {thread}: a block freed under another thread's pin was not kept"
        );
    }
    drop(lasting);
}

/// Rule: a lasting pin that happens-before a free is seen by that free,
/// also when it is the first pin of a shard other than the one that held
/// every pin until then (the allocator must not go on asking the old
/// shard's hints alone).
#[test]
fn a_free_sees_a_pin_another_thread_made_in_a_new_shard() {
    in_a_fresh_process(
        "a_free_sees_a_pin_another_thread_made_in_a_new_shard",
        "sole_shard_lasting",
        || frees_see_pins_made_on_other_threads(OtherPin::Lasting),
    );
}

/// Rule: a call pin that happens-before a free is seen by that free, also
/// when it is the first call pin of the process, published while one
/// shard held every lasting pin.
#[test]
fn a_free_sees_a_call_pin_published_while_one_shard_held_every_pin() {
    in_a_fresh_process(
        "a_free_sees_a_call_pin_published_while_one_shard_held_every_pin",
        "sole_shard_call",
        || frees_see_pins_made_on_other_threads(OtherPin::Call),
    );
}
