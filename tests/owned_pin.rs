//! `OwnedPin` across threads, `into_inner`, and what dropping a pinned one
//! does. Scenarios in `common/owned_pin.rs` (also run by `alloc_suite.rs`).

mod common;

common::owned_pin::tests!();
