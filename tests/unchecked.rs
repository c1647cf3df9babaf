//! Checks off: `#[pointer_escapes(unchecked)]` on one item, and the cfg
//! `pointer_escapes_unchecked` for a whole crate. Either way an annotated
//! function or extern-block wrapper makes no pins and checks nothing,
//! whatever the check mode, and still calls C.
//!
//! The items marked `unchecked` are unchecked in every build. The others
//! follow the cfg of the crate being compiled (this test binary): CI runs
//! the file both ways, `cargo test --test unchecked` and, with its own
//! target directory, `RUSTFLAGS="--cfg pointer_escapes_unchecked" cargo test
//! --test unchecked`. Each test asserts the behaviour of the build it is in.
//! That the cfg of one crate leaves another crate's checks on is
//! `tests/two_crates.rs`.

use pointer_escapes::{is_pinned, pin_count, pointer_escapes, CheckMode};

mod common;
use common::mode::with_check_mode;
use std::ffi::c_int;

/// Whether this crate turned its checks off.
const UNCHECKED: bool = cfg!(pointer_escapes_unchecked);

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

#[pointer_escapes(unchecked)]
fn observe_unchecked(#[escapes(len = n)] p: *const u32, n: usize) -> usize {
    pin_count(p)
}

#[pointer_escapes(unchecked)]
unsafe fn send_iov_unchecked(
    #[escapes(len = iovcnt)] iov: *const libc::iovec,
    iovcnt: c_int,
) -> bool {
    is_pinned(iov)
}

#[pointer_escapes(unchecked)]
fn flow_unchecked(#[flow_through] bufs: &[Vec<u8>]) -> (bool, bool) {
    (is_pinned(bufs.as_ptr()), is_pinned(bufs[0].as_ptr()))
}

#[pointer_escapes(unchecked, returns(retained, len = 1))]
fn hand_back_unchecked(p: *const u8) -> *const u8 {
    p
}

// Checked in debug builds only, as pin-macros/docs/attribute.md shows: the parameter
// attributes need the macro in both builds.
#[cfg_attr(debug_assertions, pointer_escapes)]
#[cfg_attr(not(debug_assertions), pointer_escapes(unchecked))]
fn flow_in_debug(#[flow_through] bufs: &[Vec<u8>]) -> bool {
    is_pinned(bufs.as_ptr())
}

mod c {
    use pointer_escapes::pointer_escapes;

    #[pointer_escapes(unchecked)]
    unsafe extern "C" {
        #[link_name = "writev"]
        pub fn writev_unchecked(
            fd: libc::c_int,
            #[escapes(len = iovcnt)] iov: *const libc::iovec,
            iovcnt: libc::c_int,
        ) -> isize;
    }

    #[pointer_escapes]
    unsafe extern "C" {
        pub fn writev(
            fd: libc::c_int,
            #[escapes(len = iovcnt)] iov: *const libc::iovec,
            iovcnt: libc::c_int,
        ) -> isize;
    }
}

/// An unpinned buffer behind one iovec: what a checked call refuses.
fn unpinned_iov(buf: &[u8; 8]) -> [libc::iovec; 1] {
    [libc::iovec {
        iov_base: buf.as_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    }]
}

/// The rule: `#[pointer_escapes(unchecked)]` turns off that item only, in
/// every check mode, even an explicit `Deep`; the unmarked items beside it
/// keep pinning and checking.
#[test]
fn the_unchecked_option_turns_off_one_item_only() {
    with_check_mode(CheckMode::Deep, || {
        let values = [1u32, 2, 3];
        assert_eq!(observe_unchecked(values.as_ptr(), 3), 0);
        assert_eq!(observe(values.as_ptr(), 3), if UNCHECKED { 0 } else { 1 });
        let bufs = vec![vec![0u8; 4]];
        assert_eq!(flow_unchecked(&bufs), (false, false));
        assert_eq!(flow_in_debug(&bufs), cfg!(debug_assertions) && !UNCHECKED);
        let buf = [0u8; 8];
        let iov = unpinned_iov(&buf);
        // SAFETY: one live entry.
        assert!(!unsafe { send_iov_unchecked(iov.as_ptr(), 1) });
        // Checked (this crate's checks on): the same call through the unmarked
        // function is refused.
        let refused = std::panic::catch_unwind(|| {
            // SAFETY: one live entry.
            unsafe { send_iov(iov.as_ptr(), 1) }
        })
        .is_err();
        assert_eq!(refused, !UNCHECKED);
        // `returns(retained)` would refuse an unpinned pointer; marked
        // `unchecked`, it hands it back.
        assert_eq!(hand_back_unchecked(buf.as_ptr()), buf.as_ptr());
    });
}

/// The rule: an explicit `set_check_mode` is honoured by the run-time
/// whatever any crate's build turned off: the explicit checks still check.
#[test]
fn an_explicit_deep_mode_is_honoured() {
    with_check_mode(CheckMode::Deep, || {
        assert_eq!(pointer_escapes::check_mode(), CheckMode::Deep);
        let buf = [0u8; 8];
        let refused = std::panic::catch_unwind(|| pointer_escapes::assert_pinned(buf.as_ptr(), 8));
        assert!(refused.is_err(), "assert_pinned passed an unpinned buffer");
    });
}

#[test]
fn annotated_functions_pin_only_when_checked() {
    with_check_mode(CheckMode::Args, || {
        let values = [1u32, 2, 3];
        assert_eq!(observe(values.as_ptr(), 3), if UNCHECKED { 0 } else { 1 });
        let bufs = vec![vec![0u8; 4]];
        assert_eq!(flow(&bufs), (!UNCHECKED, !UNCHECKED));
        assert!(!is_pinned(values.as_ptr()) && !is_pinned(bufs.as_ptr()));
    });
}

#[test]
fn checks_run_only_when_checked() {
    with_check_mode(CheckMode::Args, || {
        let buf = [0u8; 8];
        let iov = unpinned_iov(&buf);
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
    });
}

#[test]
fn extern_wrappers_call_c_either_way() {
    with_check_mode(CheckMode::Args, || {
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
        // Marked `unchecked`: the unpinned buffer goes to C unchecked.
        // SAFETY: one live entry; a pipe's write end.
        assert_eq!(unsafe { c::writev_unchecked(fds[1], iov.as_ptr(), 1) }, 4);
        let mut back = [0u8; 8];
        // SAFETY: reading 8 bytes into an 8-byte buffer; then closing our fds.
        unsafe {
            assert_eq!(libc::read(fds[0], back.as_mut_ptr().cast(), 8), 8);
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        assert_eq!(&back, b"pingping");
    });
}
