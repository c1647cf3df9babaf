//! Every scenario of the run-time's test binaries again, with
//! `PinAwareAlloc` as the global allocator: the registry, Pinner, checker,
//! report and OwnedPin behave the same when frees are guarded.

#[global_allocator]
static ALLOC: pointer_escapes::PinAwareAlloc = pointer_escapes::PinAwareAlloc::system();

mod common;

common::pinner_go::tests!();
common::registry_threads::tests!();
common::region::tests!();
common::cgocheck::tests!();
common::check_messages::tests!();
common::report::tests!();
common::owned_pin::tests!();

#[test]
fn the_suite_runs_with_pin_aware_alloc_installed() {
    assert!(pointer_escapes::snapshot().allocator_installed);
}
