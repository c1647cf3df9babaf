//! Go's `runtime/pinner_test.go` in Rust, on the system allocator. The
//! scenarios live in `common/pinner_go.rs`; `alloc_suite.rs` runs them again
//! with `PinAwareAlloc` installed.

mod common;

common::pinner_go::tests!();
