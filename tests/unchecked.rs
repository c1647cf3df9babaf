//! Feature `unchecked`: annotated functions and extern-block wrappers
//! compile to the plain function (no `CallPins`, no registry traffic), so a
//! call makes no pins and checks nothing, whatever the check mode.
//!
//! CI runs this file both ways: `cargo test --test unchecked` (pins made)
//! and `cargo test --features unchecked --test unchecked` (none). Each test
//! asserts the behaviour of the build it is in. The binary's only mode is
//! `CheckMode::Args`.

use pointer_escapes::{is_pinned, pin_count, pointer_escapes, set_check_mode, CheckMode};
use std::ffi::c_int;

const UNCHECKED: bool = cfg!(feature = "unchecked");

#[pointer_escapes]
fn observe(#[escapes(len = n)] p: *const u32, n: usize) -> usize {
    pin_count(p)
}

#[pointer_escapes]
unsafe fn send_iov(#[escapes(len = iovcnt)] iov: *const libc::iovec, iovcnt: c_int) -> bool {
    is_pinned(iov)
}

#[pointer_escapes]
fn flow(#[flow_through] bufs: &[Vec<u8>]) -> (bool, bool) {
    (is_pinned(bufs.as_ptr()), is_pinned(bufs[0].as_ptr()))
}

mod c {
    use pointer_escapes::pointer_escapes;

    #[pointer_escapes]
    unsafe extern "C" {
        pub fn writev(
            fd: libc::c_int,
            #[escapes(len = iovcnt)] iov: *const libc::iovec,
            iovcnt: libc::c_int,
        ) -> isize;
    }
}

#[test]
fn annotated_functions_pin_only_when_checked() {
    set_check_mode(CheckMode::Args);
    let values = [1u32, 2, 3];
    assert_eq!(observe(values.as_ptr(), 3), if UNCHECKED { 0 } else { 1 });
    let bufs = vec![vec![0u8; 4]];
    assert_eq!(flow(&bufs), (!UNCHECKED, !UNCHECKED));
    assert!(!is_pinned(values.as_ptr()) && !is_pinned(bufs.as_ptr()));
}

#[test]
fn checks_run_only_when_checked() {
    set_check_mode(CheckMode::Args);
    let buf = [0u8; 8];
    let iov = [libc::iovec {
        iov_base: buf.as_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    }];
    let result = std::panic::catch_unwind(|| {
        // SAFETY: one live entry.
        unsafe { send_iov(iov.as_ptr(), 1) }
    });
    // Checked: the unpinned buffer is refused. Unchecked: the call goes
    // through, and nothing is pinned.
    assert_eq!(result.is_err(), !UNCHECKED);
    if let Ok(pinned) = result {
        assert!(!pinned);
    }
}

#[test]
fn extern_wrappers_call_c_either_way() {
    set_check_mode(CheckMode::Args);
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` has room for two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let msg = b"ping".to_vec();
    let iov = [libc::iovec {
        iov_base: msg.as_ptr() as *mut libc::c_void,
        iov_len: msg.len(),
    }];
    let mut pinner = pointer_escapes::Pinner::new();
    pinner.pin_slice(&msg);
    // SAFETY: one live entry; a pipe's write end.
    assert_eq!(unsafe { c::writev(fds[1], iov.as_ptr(), 1) }, 4);
    drop(pinner);
    let mut back = [0u8; 4];
    // SAFETY: reading 4 bytes into a 4-byte buffer; then closing our fds.
    unsafe {
        assert_eq!(libc::read(fds[0], back.as_mut_ptr().cast(), 4), 4);
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    assert_eq!(&back, b"ping");
}
