//! Regions and coverage: exact ends, adjacent and overlapping pins, the
//! overflowing end `Region` refuses. Scenarios in `common/region.rs` (also
//! run by `alloc_suite.rs`).

mod common;

common::region::tests!();
