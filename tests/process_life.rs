//! Process life: the registry survives `fork()` in a threaded program,
//! nothing the library prints can panic, and `PINCHECK` set but empty is
//! unset. Each test watches whole processes (fork children, or this binary
//! re-run as a child with a closed stderr or a given environment).
//!
//! `PinAwareAlloc` is the global allocator, so every free of a block a pin
//! overlaps goes through the registry's lock, as in a real program.

#[global_allocator]
static ALLOC: PinAwareAlloc = PinAwareAlloc::system();

mod common;

use common::child::{is_child, run_child, stderr_of};
use pointer_escapes::*;
use std::hint::black_box;
use std::os::unix::process::ExitStatusExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// What a fork child does: pins, frees a pinned block (quarantined under
/// the registry's lock), unpins (which releases it), allocates and frees,
/// then leaves without running the parent's exit handlers. Each step takes
/// the registry's lock: a lock inherited held hangs the child here.
fn fork_child_work() -> ! {
    let block = black_box(vec![0x5Au8; 200]);
    let mut pinner = Pinner::new();
    // SAFETY: PinAwareAlloc keeps the block allocated while it is pinned.
    unsafe { pinner.pin_raw(block.as_ptr(), block.len()) };
    drop(block);
    pinner.unpin();
    let more: Vec<Vec<u64>> = (0..16).map(|i| vec![i; 32]).collect();
    drop(black_box(more));
    // SAFETY: `_exit` ends this process at once; nothing is shared with
    // the parent that it could leave inconsistent.
    unsafe { libc::_exit(0) }
}

/// Waits for every child in `pids` up to `deadline`; kills and reaps those
/// still running then. Returns (hung, failed) counts.
fn reap(pids: &[libc::pid_t], deadline: Instant) -> (usize, usize) {
    let mut pending: Vec<libc::pid_t> = pids.to_vec();
    let mut failed = 0;
    while !pending.is_empty() && Instant::now() < deadline {
        pending.retain(|&pid| {
            let mut status = 0;
            // SAFETY: `pid` is our child; `status` is a valid out-parameter.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
                    failed += 1;
                }
                return false;
            }
            r == 0
        });
        thread::sleep(Duration::from_millis(2));
    }
    for &pid in &pending {
        // SAFETY: killing and reaping our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
    (pending.len(), failed)
}

/// The rule: a child forked while another thread pins, unpins and frees
/// pinned blocks never inherits the registry's lock held (the fork handlers
/// take it around `fork`). 3 rounds of 200 forks; each child must finish its
/// own pins and frees within a few seconds.
#[test]
fn a_fork_child_never_inherits_a_held_registry_lock() {
    const ROUNDS: usize = 3;
    const FORKS: usize = 200;
    // Quiet: each quarantined block would print a line in checked mode.
    // No other test of this binary reads the mode in this process.
    set_check_mode(CheckMode::Off);
    let stop = AtomicBool::new(false);
    let (mut hung, mut failed) = (0, 0);
    thread::scope(|s| {
        s.spawn(|| {
            let mut spins = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let buf = black_box(vec![spins as u8; 96]);
                let mut pinner = Pinner::new();
                // SAFETY: PinAwareAlloc keeps the block while it is pinned.
                unsafe { pinner.pin_raw(buf.as_ptr(), buf.len()) };
                assert!(is_pinned(buf.as_ptr()));
                drop(buf); // quarantined under the lock
                drop(pinner); // released under the lock
                spins += 1;
            }
        });
        for _ in 0..ROUNDS {
            let mut pids = Vec::with_capacity(FORKS);
            for _ in 0..FORKS {
                // SAFETY: the child runs only `fork_child_work`, which ends
                // in `_exit`.
                match unsafe { libc::fork() } {
                    0 => fork_child_work(),
                    -1 => panic!("fork failed: {}", std::io::Error::last_os_error()),
                    pid => pids.push(pid),
                }
            }
            let (h, f) = reap(&pids, Instant::now() + Duration::from_secs(10));
            hung += h;
            failed += f;
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(
        (hung, failed),
        (0, 0),
        "of {} fork children, {hung} hung (killed after 10 s: a registry lock \
         inherited held) and {failed} exited with a failure",
        ROUNDS * FORKS
    );
}

/// Child: stderr is a pipe whose read end is closed, so every write to it
/// fails with EPIPE (SIGPIPE is ignored, as Rust programs start). An
/// `OwnedPin` dropped while unwinding prints its diagnostic there, and at
/// exit `PINREPORT=1` prints the report there.
fn print_to_a_closed_stderr() {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors; dup2 and close act on
    // descriptors this process owns.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        libc::close(fds[0]);
        assert_eq!(libc::dup2(fds[1], 2), 2);
        libc::close(fds[1]);
    }
    // Checked mode: the dropped OwnedPin prints its line.
    set_check_mode(CheckMode::Args);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        let owned = OwnedPin::new(vec![3u8; 128]);
        black_box(&owned);
        panic!("lost track of the completion");
    }));
    assert!(caught.is_err());
    // The write really fails: this is the condition under test.
    // SAFETY: writing a static buffer to fd 2.
    let n = unsafe { libc::write(2, b"x".as_ptr().cast(), 1) };
    assert_eq!(
        (n, std::io::Error::last_os_error().raw_os_error()),
        (-1, Some(libc::EPIPE))
    );
}

/// The rule: nothing the library prints can panic. With stderr closed, an
/// `OwnedPin` dropped during unwinding and the exit report are written and
/// lost, and the process exits normally (no abort from a panic in a panic
/// or in an `extern "C"` exit handler).
#[test]
fn nothing_the_library_prints_panics_on_a_closed_stderr() {
    if is_child("closed-stderr") {
        print_to_a_closed_stderr();
        return;
    }
    let out = run_child(
        "nothing_the_library_prints_panics_on_a_closed_stderr",
        "closed-stderr",
        &[("PINREPORT", "1")],
    );
    assert_eq!(
        (out.status.code(), out.status.signal()),
        (Some(0), None),
        "the child did not exit normally; its stdout:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The rule: `PINCHECK=` (set but empty) is treated as unset: the build's
/// default mode, and no warning.
#[test]
fn an_empty_pincheck_means_unset() {
    if is_child("empty-pincheck") {
        let default = if cfg!(debug_assertions) {
            CheckMode::Args
        } else {
            CheckMode::Off
        };
        assert_eq!(check_mode(), default);
        return;
    }
    let out = run_child(
        "an_empty_pincheck_means_unset",
        "empty-pincheck",
        &[("PINCHECK", "")],
    );
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "the child failed:\n{stderr}");
    assert!(
        !stderr.contains("PINCHECK"),
        "a warning was printed:\n{stderr}"
    );
    // And a wrong value still warns, so the check above can fail.
    let out = run_child(
        "an_empty_pincheck_means_unset",
        "empty-pincheck",
        &[("PINCHECK", "yes")],
    );
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "the child failed:\n{stderr}");
    assert!(
        stderr.contains("POINTER_ESCAPES_CHECK (or PINCHECK) must be 0, 1 or 2"),
        "no warning for PINCHECK=yes:\n{stderr}"
    );
}

/// The rule: each setting has a crate-prefixed name
/// (`POINTER_ESCAPES_CHECK`), the first version's name (`PINCHECK`) is
/// still read, and the prefixed name wins when both are set.
#[test]
fn the_prefixed_setting_name_wins_over_the_earlier_name() {
    if is_child("prefixed-setting") {
        let expect = std::env::var("POINTER_ESCAPES_TEST_EXPECT").expect("the parent sets it");
        let want = match expect.as_str() {
            "off" => CheckMode::Off,
            "deep" => CheckMode::Deep,
            other => panic!("unknown expectation {other}"),
        };
        assert_eq!(check_mode(), want);
        return;
    }
    let cases: [(&[(&str, &str)], &str); 3] = [
        (&[("POINTER_ESCAPES_CHECK", "2")], "deep"),
        (&[("PINCHECK", "2")], "deep"),
        (&[("POINTER_ESCAPES_CHECK", "0"), ("PINCHECK", "2")], "off"),
    ];
    for (env, expect) in cases {
        let mut env = env.to_vec();
        env.push(("POINTER_ESCAPES_TEST_EXPECT", expect));
        let out = run_child(
            "the_prefixed_setting_name_wins_over_the_earlier_name",
            "prefixed-setting",
            &env,
        );
        let stderr = stderr_of(&out);
        assert!(out.status.success(), "{env:?}: the child failed:\n{stderr}");
    }
}
