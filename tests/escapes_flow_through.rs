//! `#[flow_through]`: a parameter's own memory and, one level down, what
//! each of its elements points to are pinned for the call, for slices of
//! `Vec<u8>`, `IoSliceMut` and `&[u8]`, and for a raw `iovec` array whose
//! length is another parameter. Checks of what was passed then succeed.
//!
//! Every test sets `CheckMode::Args` (the binary's only mode).

use pointer_escapes::{
    is_pinned, is_region_pinned, pin_count, pointer_escapes, set_check_mode, CheckMode, Pinner,
};

mod common;
use common::panics::panic_message;
use std::io::IoSliceMut;

fn checked() {
    set_check_mode(CheckMode::Args);
}

#[pointer_escapes]
fn vecs(#[flow_through] bufs: &[Vec<u8>]) -> Vec<bool> {
    let mut seen = vec![is_region_pinned(bufs.as_ptr(), std::mem::size_of_val(bufs))];
    seen.extend(bufs.iter().map(|b| is_region_pinned(b.as_ptr(), b.len())));
    seen
}

#[test]
fn slice_of_vecs() {
    checked();
    let bufs = vec![vec![1u8; 100], vec![2u8; 1], vec![3u8; 4096]];
    assert_eq!(vecs(&bufs), vec![true; 4]);
    assert!(bufs.iter().all(|b| !is_pinned(b.as_ptr())));
    assert!(!is_pinned(bufs.as_ptr()));
}

#[test]
fn pinning_is_one_level_deep_and_checking_goes_on_below() {
    checked();
    #[pointer_escapes]
    fn nested(#[flow_through] outer: &[Vec<Vec<u8>>]) -> (usize, usize) {
        (
            pin_count(outer[0].as_ptr()),
            pin_count(outer[0][0].as_ptr()),
        )
    }
    let deep = vec![vec![vec![9u8; 8]; 2]; 2];
    // The Vec<u8> headers (inside `outer[0]`'s buffer) are pinned by the
    // call; the bytes they point to are not (randall77's flow-through
    // rule), and the check, which goes on below, says so with advice that
    // works at that depth.
    let msg = panic_message(|| {
        nested(&deep);
    });
    for needle in [
        "`nested`: argument `outer`",
        "`outer[0][0]`",
        "2 pointers below the argument",
        "#[flow_through] already, and that pins one level only",
        "pin it with a Pinner or OwnedPin",
    ] {
        assert!(msg.contains(needle), "`{needle}` missing from: {msg}");
    }
    // With the innermost bytes pinned by a Pinner, the call passes, and it
    // pins the first level only: the bytes carry the Pinner's pin alone.
    let mut pinner = Pinner::new();
    for inner in deep.iter().flatten() {
        pinner.pin_slice(inner);
    }
    assert_eq!(nested(&deep), (1, 1));
}

#[pointer_escapes]
fn io_slices(#[flow_through] bufs: &mut [IoSliceMut<'_>]) -> bool {
    let pinned = bufs.iter().all(|b| is_region_pinned(b.as_ptr(), b.len()));
    for b in bufs.iter_mut() {
        b.fill(0xAB);
    }
    pinned && is_pinned(bufs.as_ptr())
}

#[test]
fn mutable_io_slices() {
    checked();
    let mut a = vec![0u8; 10];
    let mut b = vec![0u8; 20];
    let mut slices = [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)];
    assert!(io_slices(&mut slices));
    assert!(!is_pinned(slices[0].as_ptr()));
    assert!(a.iter().chain(&b).all(|&x| x == 0xAB));
}

#[pointer_escapes]
fn byte_slices(#[flow_through] parts: &[&[u8]]) -> bool {
    parts.iter().all(|p| is_region_pinned(p.as_ptr(), p.len()))
}

#[test]
fn slice_of_byte_slices() {
    checked();
    let a = vec![1u8; 7];
    let b = [2u8; 9];
    assert!(byte_slices(&[&a, &b[..4]]));
    assert!(!is_pinned(a.as_ptr()) && !is_pinned(b.as_ptr()));
}

#[pointer_escapes]
unsafe fn iovecs(
    #[flow_through]
    #[escapes(len = iovcnt)]
    iov: *const libc::iovec,
    iovcnt: libc::c_int,
) -> bool {
    let n = iovcnt as usize;
    // SAFETY: the caller passes `iovcnt` valid iovecs.
    let entries = unsafe { std::slice::from_raw_parts(iov, n) };
    is_region_pinned(iov, n * std::mem::size_of::<libc::iovec>())
        && entries
            .iter()
            .all(|e| is_region_pinned(e.iov_base, e.iov_len))
        // The element past the end is not part of the pin.
        && !is_pinned(iov.wrapping_add(n))
}

/// A plain (checked, not flow-through) iovec parameter: only passes the
/// check when its buffers are pinned.
#[pointer_escapes]
unsafe fn checked_iovecs(#[escapes(len = iovcnt)] iov: *const libc::iovec, iovcnt: i32) -> i32 {
    iovcnt
}

#[pointer_escapes]
unsafe fn iovecs_then_checked(
    #[flow_through]
    #[escapes(len = iovcnt)]
    iov: *const libc::iovec,
    iovcnt: libc::c_int,
) -> i32 {
    // SAFETY: forwarded from our caller.
    unsafe { checked_iovecs(iov, iovcnt) }
}

#[pointer_escapes]
unsafe fn iovecs_then_one_more(
    #[flow_through]
    #[escapes(len = iovcnt)]
    iov: *const libc::iovec,
    iovcnt: libc::c_int,
) -> i32 {
    // SAFETY: our caller passes one more valid entry than `iovcnt`.
    unsafe { checked_iovecs(iov, iovcnt + 1) }
}

fn iovec_of(buf: &mut [u8]) -> libc::iovec {
    libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    }
}

#[test]
fn raw_iovec_array_with_length_parameter() {
    checked();
    let mut a = vec![0u8; 64];
    let mut b = vec![0u8; 3];
    // One more entry than passed: the third is outside `len = iovcnt`.
    let mut c = vec![0u8; 5];
    let iov = [iovec_of(&mut a), iovec_of(&mut b), iovec_of(&mut c)];
    // SAFETY: the first two entries point at live buffers.
    assert!(unsafe { iovecs(iov.as_ptr(), 2) });
    assert!(!is_pinned(iov.as_ptr()) && !is_pinned(a.as_ptr()) && !is_pinned(b.as_ptr()));
    // What flowed through satisfies the check of a nested plain call...
    // SAFETY: as above.
    assert_eq!(unsafe { iovecs_then_checked(iov.as_ptr(), 2) }, 2);
    // ...and only that: the third entry's buffer was never pinned.
    let err = std::panic::catch_unwind(|| {
        // SAFETY: as above, three live entries.
        unsafe { iovecs_then_one_more(iov.as_ptr(), 2) }
    })
    .unwrap_err();
    let msg = err.downcast_ref::<String>().expect("a formatted message");
    assert!(
        msg.contains("`checked_iovecs`: argument `iov`: element 2"),
        "{msg}"
    );
    assert!(!is_pinned(iov.as_ptr()) && !is_pinned(c.as_ptr()));
}

/// `struct msghdr`, reduced: a header pointing at an iovec array, whose
/// entries point at payloads (two levels below the header).
#[derive(pointer_escapes::Referents)]
#[repr(C)]
struct MsgHdr {
    #[referents(len = self.iovlen)]
    iov: *const libc::iovec,
    iovlen: usize,
}

/// `sendmsg`: the header flows through (the call pins it and the iovec
/// array); the payloads are neither pinned by the call nor, before, checked.
#[pointer_escapes]
unsafe fn sendmsg_like(#[flow_through] msg: *const MsgHdr) -> usize {
    // SAFETY: the caller passes a valid header.
    unsafe { (*msg).iovlen }
}

#[pointer_escapes]
unsafe fn sendmsg_by_ref(#[flow_through] msg: &MsgHdr) -> usize {
    msg.iovlen
}

#[test]
fn flow_through_never_silences_a_check_below_it() {
    checked();
    let payloads = [vec![1u8; 32], vec![2u8; 32]];
    let iov: Vec<libc::iovec> = payloads
        .iter()
        .map(|p| libc::iovec {
            iov_base: p.as_ptr() as *mut _,
            iov_len: p.len(),
        })
        .collect();
    let msg = MsgHdr {
        iov: iov.as_ptr(),
        iovlen: iov.len(),
    };
    for msg_text in [
        // SAFETY: `msg` and everything it points to live for the call.
        panic_message(|| unsafe {
            sendmsg_like(&msg);
        }),
        // SAFETY: as above.
        panic_message(|| unsafe {
            sendmsg_by_ref(&msg);
        }),
    ] {
        for needle in ["`msg.iov[0].iov_base`", "2 pointers below the argument"] {
            assert!(
                msg_text.contains(needle),
                "`{needle}` missing from: {msg_text}"
            );
        }
    }
    let mut pinner = Pinner::new();
    for p in &payloads {
        pinner.pin_slice(p);
    }
    // SAFETY: as above.
    unsafe {
        assert_eq!(sendmsg_like(&msg), 2);
        assert_eq!(sendmsg_by_ref(&msg), 2);
    }
}
