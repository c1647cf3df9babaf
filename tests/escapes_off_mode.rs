//! `CheckMode::Off` (set by every test of this binary) without the
//! pin-aware allocator: nobody would read a call's pins, so annotated calls
//! record none, check nothing, and a bad length is ignored.

use pointer_escapes::{is_pinned, pointer_escapes, set_check_mode, CheckMode};

fn off() {
    set_check_mode(CheckMode::Off);
}

#[pointer_escapes]
fn take(#[escapes(len = n)] p: *const u32, n: i32) -> bool {
    is_pinned(p)
}

#[pointer_escapes]
unsafe fn send_iov(#[escapes(len = iovcnt)] iov: *const libc::iovec, iovcnt: i32) -> bool {
    is_pinned(iov)
}

#[pointer_escapes]
fn flow(#[flow_through] bufs: &[Vec<u8>]) -> bool {
    is_pinned(bufs.as_ptr()) || is_pinned(bufs[0].as_ptr())
}

#[test]
fn negative_length_pins_nothing_and_does_not_panic() {
    off();
    let x = Box::new(1u32);
    assert!(!take(&*x, -1));
    assert!(!is_pinned(&*x));
}

#[test]
fn no_pins_and_no_checks() {
    off();
    let x = Box::new(1u32);
    assert!(!take(&*x, 1));
    let buf = vec![0u8; 8];
    let iov = [libc::iovec {
        iov_base: buf.as_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    }];
    // Unpinned referents, no panic.
    // SAFETY: one live entry.
    assert!(!unsafe { send_iov(iov.as_ptr(), 1) });
    assert!(!flow(&[buf]));
}
