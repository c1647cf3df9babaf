//! `CheckMode::Off` (set by every test of this binary) with `PinAwareAlloc`
//! installed: calls still pin their arguments, because the allocator guards
//! frees with them, but check nothing.

use pointer_escapes::{is_pinned, pointer_escapes, set_check_mode, CheckMode, PinAwareAlloc};

#[global_allocator]
static ALLOC: PinAwareAlloc = PinAwareAlloc::system();

#[pointer_escapes]
unsafe fn send_iov(#[escapes(len = iovcnt)] iov: *const libc::iovec, iovcnt: i32) -> bool {
    is_pinned(iov)
}

#[pointer_escapes]
fn take(#[escapes(len = n)] p: *const u32, n: i32) -> bool {
    is_pinned(p)
}

#[test]
fn pins_for_the_allocator_but_checks_nothing() {
    set_check_mode(CheckMode::Off);
    let buf = [0u8; 8];
    let iov = [libc::iovec {
        iov_base: buf.as_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    }];
    // SAFETY: one live entry (whose buffer is unpinned: not checked).
    assert!(unsafe { send_iov(iov.as_ptr(), 1) });
    assert!(!is_pinned(iov.as_ptr()));
    let x = Box::new(5u32);
    assert!(!take(&*x, -1), "a negative length pins nothing, silently");
}
