//! Go's `TestPinnerCgoCheck*` cases on the checker. Scenarios in
//! `common/cgocheck.rs` (also run by `alloc_suite.rs`).

mod common;

common::cgocheck::tests!();
