#!/usr/bin/env bash
# Runs the tests that need no foreign code under Miri (undefined behaviour,
# data races, leaks, Stacked Borrows), in two lanes at once: about 6
# minutes on 2 cores with a warm build (2 more to build from scratch).
#
# What runs:
#   1. pin-core's unit tests (`cargo miri test -p pointer-escapes-core --lib`).
#   2. The spin lock's unit tests again under 8 scheduling seeds
#      (-Zmiri-many-seeds), which explores interleavings of its one CAS
#      acquire and one release store; and the check mode's race test
#      (check::mode::tests::mode_and_call_pins_wanted_change_together:
#      set_check_mode(Args) against set_check_mode(Off), the allocator's
#      bit and the environment's read) under the same 8 seeds, so the mode
#      and "call pins wanted" are seen to change together in every
#      interleaving Miri picks; and the shard mirror's two racing-reader
#      tests, in lane 2 (registry::mirror::tests::a_racing_reader...,
#      ...::an_answer_is_that_of_the_word_that_confirmed_it: with a
#      Relaxed word for a table that stays too big, the latter failed
#      under Miri's weak-memory emulation).
#   3. The facade's integration tests written for Miri, with their counts
#      reduced under cfg(miri): bad_input, panic_safety, model (1 proptest
#      case of up to 16 steps plus the hand-written sequences), stress (4
#      threads x 40 operations each, with PinAwareAlloc), pinner_go (Go's Pinner cases),
#      soundness and soundness_forgotten_pinner (nothing safe makes the checker
#      read through a raw pointer that only a pin stands behind), review_findings
#      (a copy's reports are never read as borrowed: Cell, packed derive),
#      owned_pin (capacity, C strings, a copy-on-write StableBufMut),
#      owned_pin_global_alloc (a block freed under its OwnedPin is never
#      handed back: no double free) and owned_pin_side_alloc (a side
#      PinAwareAlloc is not the global allocator),
#      escapes_out_params (no uninitialised out-parameter is read),
#      foreign_types (referents = path, remote mirrors, cstr, and the shipped
#      msghdr impl through the raw check API), referents_path_unwinding (a
#      referents = path function panicking mid-check leaks no pin).
#
# What is skipped, and why (keep this list in step with RELIABILITY.md):
#   - pin-core statics::tests::literals_and_statics_are_static_heap_and_stack_are_not
#     (#[cfg_attr(miri, ignore)]): static memory is found with dl_iterate_phdr,
#     foreign code Miri cannot run. Under Miri statics.rs has a cfg(miri)
#     fallback: no memory counts as static.
#   - pinner_go::pinning_a_static, pinner_go::static_string_data_is_always_pinned
#     (--skip): they need static memory to count as pinned (same reason).
#   - panic_safety::panic_with_an_owned_pin_in_flight_keeps_its_pin_as_documented
#     (#[cfg_attr(miri, ignore)]): it leaks a buffer on purpose (a dropped
#     OwnedPin keeps its pin and its memory), which Miri's leak check reports.
#   - owned_pin::dropping_a_pinned_owned_pin_keeps_the_pin_and_the_memory
#     (--skip): it drops a pinned OwnedPin, which leaks its buffer on purpose
#     (Miri's leak check reports it); it runs natively.
#   - owned_pin_global_alloc::{a_buffer_freed_while_pinned_is_never_dropped_again,
#     owned_pin_dropped_while_pinned_is_quarantined_by_the_global_pin_aware_alloc,
#     a_stable_buf_whose_drop_does_not_free_through_the_global_allocator_is_named}
#     and owned_pin_side_alloc::owned_pin_dropped_while_pinned_leaks_unless_the_global_allocator_is_pin_aware
#     (--skip): each leaves a pin (and a leaked or quarantined block) behind on
#     purpose, so it runs natively in a child process, which Miri cannot spawn.
#   - The registry's fork handlers (registry/fork.rs): Miri runs no fork
#     and no pthread_atfork; under cfg(miri) installing them is a no-op.
#     They are tested natively by process_life (forks, a closed stderr).
#   - foreign_types::{flow_through_msghdr_pins_its_iovecs_and_a_pinned_payload_passes,
#     unpinned_payload_behind_msg_iov_fails_the_check} (--skip): they call
#     socketpair(2) and sendmsg(2), which Miri does not run; the same msghdr
#     reporting runs under Miri through try_check_referents_through_raw
#     (foreign_types::shipped_libc_impls_report_through_the_check_api and
#     pin-core's referents::libc_impls tests).
#   - pin-core doc tests: not run (slow under Miri; they run natively in
#     `cargo test`).
#   - Every other integration test binary: they call C (readv, writev, zlib,
#     io_uring, aio), spawn child processes, or take longer than this
#     script's budget under Miri; they run natively in `cargo test`.
#
# Flags: -Zmiri-permissive-provenance because the registry stores addresses
# as integers by design (it records where memory is, never reads through its
# own records); Miri otherwise warns at every integer-to-pointer cast.
# Isolation stays on: the clock (clock_gettime COARSE), getenv, getpid,
# gettid and write(2) used by pin-core are all emulated by Miri.
#
# Miri itself: when `cargo +nightly miri` is missing but a nightly toolchain
# is installed, the script adds the miri and rust-src components with rustup
# (as .ci/run's machines can); when that fails too it prints
# "skipped: nightly miri not available" and exits 0. Set MIRI_NO_INSTALL=1
# to never install.
set -euo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/.."

step() { printf '\n--> %s\n' "$*"; }

# The facade's test binaries that run under Miri (see "What runs").
FACADE_TESTS=(bad_input panic_safety model stress soundness soundness_forgotten_pinner
    review_findings escapes_out_params referents_path_unwinding pinner_go owned_pin
    owned_pin_global_alloc owned_pin_side_alloc foreign_types)

# Two lanes at once (MIRI_LANES=1: one after the other). Miri interprets a
# test binary on one host thread, so on CI's two cores two lanes take about
# half the time; each lane's output is kept and printed when it ends
# (lane 2's after lane 1's), or when the script is stopped.
# Balanced by measurement (2 cores, fresh clone in CI's order): lane 1 took
# 387 s and lane 2 (model, stress, pinner_go, owned_pin_side_alloc) 228 s;
# panic_safety (about 70 s) then moved to lane 2: 355 s and 268 s warm.
# Runs pin-core's unit tests matching each filter under Miri's scheduling
# seeds 0..8. The seeds run in parallel and interleave their output: kept
# for a failure, one line printed otherwise.
under_8_seeds() {
    local seeds_log filter
    seeds_log=$(mktemp)
    for filter in "$@"; do
        if MIRIFLAGS="$MIRIFLAGS -Zmiri-many-seeds=0..8" \
            cargo +nightly miri test -p pointer-escapes-core --lib "$filter" >"$seeds_log" 2>&1; then
            echo "$filter: 8 of 8 seeds passed"
        else
            cat "$seeds_log"
            rm -f "$seeds_log"
            return 1
        fi
    done
    rm -f "$seeds_log"
}

lane_1() {
    step "pin-core unit tests"
    cargo +nightly miri test -p pointer-escapes-core --lib

    step "spin lock and check mode under 8 scheduling seeds"
    under_8_seeds registry::lock check::mode::tests::mode_and_call_pins_wanted_change_together

    step "facade integration tests (the rest are lane 2's)"
    cargo +nightly miri test --test bad_input \
        --test soundness --test soundness_forgotten_pinner --test review_findings \
        --test escapes_out_params --test referents_path_unwinding
    cargo +nightly miri test --test owned_pin -- \
        --skip owned_pin::dropping_a_pinned_owned_pin_keeps_the_pin_and_the_memory
    cargo +nightly miri test --test owned_pin_global_alloc -- \
        --skip a_buffer_freed_while_pinned_is_never_dropped_again \
        --skip owned_pin_dropped_while_pinned_is_quarantined_by_the_global_pin_aware_alloc \
        --skip a_stable_buf_whose_drop_does_not_free_through_the_global_allocator_is_named
    cargo +nightly miri test --test foreign_types -- \
        --skip flow_through_msghdr_pins_its_iovecs_and_a_pinned_payload_passes \
        --skip unpinned_payload_behind_msg_iov_fails_the_check
}

lane_2() {
    # The shard mirror's two racing-reader tests (one filter matches both:
    # one Miri start per seed). Here rather than in lane 1, which was 510 s
    # to this lane's 290 s with them there (fresh clone, 2 cores).
    step "the shard mirror's racing readers under 8 scheduling seeds"
    under_8_seeds registry::mirror::tests::a

    step "model, stress, panic safety, Go's Pinner cases, a side allocator"
    cargo +nightly miri test --test model --test stress --test panic_safety
    cargo +nightly miri test --test pinner_go -- \
        --skip pinner_go::pinning_a_static \
        --skip pinner_go::static_string_data_is_always_pinned
    cargo +nightly miri test --test owned_pin_side_alloc -- \
        --skip owned_pin_dropped_while_pinned_leaks_unless_the_global_allocator_is_pin_aware
}

# Each lane is this script again (`--lane N`): a process of its own, with
# `set -e` in force (a function or subshell run as an `if` or `||`
# condition would run with it off).
if [ "${1:-}" = --lane ]; then
    export MIRIFLAGS="${MIRIFLAGS:--Zmiri-permissive-provenance}"
    "lane_$2"
    exit 0
fi

if ! cargo +nightly miri --version >/dev/null 2>&1; then
    if [ "${MIRI_NO_INSTALL:-0}" != 1 ] && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
        echo "miri: installing the miri and rust-src components for nightly"
        timeout 300 rustup component add --toolchain nightly miri rust-src >/dev/null 2>&1 || true
    fi
    if ! cargo +nightly miri --version >/dev/null 2>&1; then
        echo "skipped: nightly miri not available"
        exit 0
    fi
fi

# (cargo miri builds under <target>/miri, apart from the native build.)
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-permissive-provenance}"
cargo +nightly miri --version
cargo +nightly miri setup >/dev/null

started=$SECONDS

step "build (everything the lanes run)"
cargo +nightly miri test -p pointer-escapes-core --lib --no-run
cargo +nightly miri test --no-run "${FACADE_TESTS[@]/#/--test=}"

# Runs lane N in the background, its output to a file: prints that file
# and the lane's time when it ends.
start_lane() {
    local n=$1
    (
        t0=$SECONDS
        # Through bash: the script need not be executable (`bash
        # scripts/miri.sh` on a checkout that lost the mode bit).
        if bash "$SELF" --lane "$n" >"$logs/$n" 2>&1; then
            echo "miri lane $n: passed in $((SECONDS - t0))s" >>"$logs/$n"
        else
            echo "miri lane $n: FAILED after $((SECONDS - t0))s" >>"$logs/$n"
            exit 1
        fi
    ) &
}

logs=$(mktemp -d)
shown=""
# Prints lane N's output (once).
show_lane() {
    case " $shown " in *" $1 "*) return ;; esac
    shown="$shown $1"
    cat "$logs/$1"
}
# Also when the script is stopped (a CI timeout, ^C): what the lanes
# printed so far, most often the failure that made them slow, is shown
# before their files go.
on_exit() {
    for n in 1 2; do
        case " $shown " in *" $n "*) continue ;; esac
        if [ -f "$logs/$n" ]; then
            echo "--- miri lane $n, unfinished:"
            cat "$logs/$n"
        fi
    done
    rm -rf "$logs"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
status=0
if [ "${MIRI_LANES:-2}" = 1 ]; then
    start_lane 1; wait $! || status=1
    show_lane 1
    start_lane 2; wait $! || status=1
    show_lane 2
else
    start_lane 1; lane1=$!
    start_lane 2; lane2=$!
    # Lane 1's output as soon as it ends, lane 2's when it does.
    wait "$lane1" || status=1
    show_lane 1
    wait "$lane2" || status=1
    show_lane 2
fi
echo
if [ "$status" != 0 ]; then
    echo "miri: a lane failed (see its output above)"
    exit 1
fi
echo "miri: all passed in $((SECONDS - started))s"
