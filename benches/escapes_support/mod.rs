//! Shared by the `#[pointer_escapes]` benches (`escapes_call`,
//! `readv_zero_copy`, `zlib_throughput`) and their callgrind driver
//! (`escapes_callgrind`), each of which includes it with
//! `#[path = "escapes_support/mod.rs"]`:
//!
//! - [`bindings`]: each measured call twice, written by hand and through
//!   `#[pointer_escapes]` (on a function and on an extern block), calling
//!   the same C (or `extern "C"`) function;
//! - [`paired`]: criterion benches of a baseline and ours run interleaved,
//!   with the paired difference printed, because this 2-core machine is
//!   shared and back-to-back runs drift by more than the 1 ns we look for;
//! - [`calls`]: the overhead calls behind one safe method, with what their
//!   pointers point at;
//! - [`readv_file`]: a tmpfs file for real `readv(2)`;
//! - [`zero_copy`]: readv into `Vec`s through the binding, or into C
//!   buffers and copy;
//! - [`zlib_driver`]: one deflate/inflate loop run over the annotated zlib
//!   binding and over a plain extern block.

// Each bench uses a different subset of these helpers.
#![allow(dead_code)]

pub mod bindings;
pub mod calls;
pub mod paired;
pub mod readv_file;
pub mod zero_copy;
pub mod zlib_driver;
