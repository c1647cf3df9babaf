//! A library that turned its own checks off (see build.rs).

use pointer_escapes::{is_pinned, pin_count, pointer_escapes};

/// How many pins cover `p` during the call: 0, as nothing is pinned.
#[pointer_escapes]
pub fn observe(#[escapes(len = n)] p: *const u32, n: usize) -> usize {
    pin_count(p)
}

/// Whether `iov` is pinned during the call; never checked.
///
/// # Safety
/// `iov` points at `iovcnt` live iovecs.
#[pointer_escapes]
pub unsafe fn send_iov(#[escapes(len = iovcnt)] iov: *const libc::iovec, iovcnt: i32) -> bool {
    is_pinned(iov)
}
