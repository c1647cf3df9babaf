//! The registry across threads: pins seen everywhere, `Pinner` is `Send`,
//! concurrent counts stay exact. Scenarios in `common/registry_threads.rs`
//! (also run by `alloc_suite.rs`).

mod common;

common::registry_threads::tests!();
