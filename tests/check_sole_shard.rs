//! The checker's lock-free answer (`snapshot::settled_without_locks` in
//! `pin-core/src/registry/`): while one shard alone has ever held pins and
//! its generation is the one this thread's sorted copy of them was taken
//! at, a check that copy settles whole takes no lock. These tests start
//! from a registry no pin ever touched (a child process each, so that no
//! other test's pins put a second shard in use first) and change the pins
//! between checks: a check must never answer from a copy of pins that are
//! gone.

mod common;

use common::child::in_a_fresh_process;
use pointer_escapes::*;

fn buffers() -> Vec<Vec<u8>> {
    (0..4).map(|i| vec![i as u8; 32]).collect()
}

/// Checks `bufs` twice (the first check may copy the pins under the
/// locks, the second answers from the copy); both must pass.
fn passes_twice(bufs: &[Vec<u8>], what: &str) {
    for round in 0..2 {
        assert!(try_check_referents(bufs).is_ok(), "round {round}: {what}");
    }
}

/// The scenario, in a fresh process on its main thread: every buffer
/// pinned (the first check copies the pins under the locks, the second
/// answers from the copy), then one buffer's pin dropped (the check must
/// fail), pinned again by another pinner (pass, twice), and everything
/// dropped (fail).
fn checks_follow_every_change_of_one_shards_pins() {
    let bufs = buffers();
    let mut most = Pinner::new();
    for b in &bufs[..3] {
        most.pin_slice(b);
    }
    let mut last = Pinner::new();
    last.pin_slice(&bufs[3]);
    passes_twice(&bufs, "all pinned");
    drop(last);
    for round in 0..2 {
        let failure = try_check_referents(&bufs[..])
            .expect_err("a buffer whose pin was dropped passed the check");
        assert!(
            failure.to_string().contains("[3]"),
            "round {round}: {failure}"
        );
    }
    let mut again = Pinner::new();
    again.pin_slice(&bufs[3]);
    passes_twice(&bufs, "pinned again");
    drop(again);
    drop(most);
    assert!(try_check_referents(&bufs[..]).is_err(), "nothing pinned");
}

/// The same, with the pins changed by another thread between the checks:
/// pins released there (and joined, so the release happens-before the
/// check) are seen gone, while another pin keeps their shard in use.
fn checks_see_a_change_another_thread_made() {
    let bufs = buffers();
    let mut here = Pinner::new();
    for b in &bufs {
        here.pin_slice(b);
    }
    // Stays: the shard keeps a pin, so the checks below do not learn from
    // an empty shard that nothing is pinned.
    let mut stays = Pinner::new();
    stays.pin_slice(&bufs[0]);
    passes_twice(&bufs, "all pinned");
    // Moved to another thread and released there: the pins leave this
    // thread's shard (their handles name it), from another thread.
    std::thread::scope(|s| {
        s.spawn(move || drop(here));
    });
    let failure = try_check_referents(&bufs[..]).expect_err("pins released on another thread");
    assert!(failure.to_string().contains("[1]"), "{failure}");
    drop(stays);
}

/// Rule: a check answered without locks from this thread's sorted copy of
/// the one shard's pins never uses a copy of pins that changed since.
#[test]
fn a_check_without_locks_never_answers_from_pins_that_changed() {
    in_a_fresh_process(
        "a_check_without_locks_never_answers_from_pins_that_changed",
        "check_sole_shard_here",
        checks_follow_every_change_of_one_shards_pins,
    );
}

/// Rule: the same when the change is made on another thread that
/// happens-before the check.
#[test]
fn a_check_without_locks_sees_pins_released_on_another_thread() {
    in_a_fresh_process(
        "a_check_without_locks_sees_pins_released_on_another_thread",
        "check_sole_shard_there",
        checks_see_a_change_another_thread_made,
    );
}
