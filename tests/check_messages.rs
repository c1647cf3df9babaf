//! What failed checks say and leave behind; `store_pointer`,
//! `assert_pinned` and call checks. Scenarios in `common/check_messages.rs`
//! (also run by `alloc_suite.rs`).

mod common;

common::check_messages::tests!();
