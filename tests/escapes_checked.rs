//! Checked mode (`CheckMode::Args`, set by every test of this binary): a
//! raw-pointer argument whose referents are not pinned makes the call panic
//! before its body runs, with a message naming the function, parameter,
//! element, address and size; a bad length panics naming the parameter;
//! no pin outlives the failed call.

use pointer_escapes::{
    is_pinned, pointer_escapes, set_check_mode, CheckMode, Pinner, Referents, Via, Visitor,
};
use std::panic::catch_unwind;
use std::sync::atomic::{AtomicUsize, Ordering};

fn checked() {
    set_check_mode(CheckMode::Args);
}

fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = catch_unwind(f).expect_err("the call should panic");
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .expect("a string payload"),
    }
}

/// How often `send_iov`'s body ran (only the first test calls it).
static BODY_RUNS: AtomicUsize = AtomicUsize::new(0);

#[pointer_escapes]
unsafe fn send_iov(#[escapes(len = iovcnt)] iov: *const libc::iovec, iovcnt: i32) -> i32 {
    BODY_RUNS.fetch_add(1, Ordering::SeqCst);
    iovcnt
}

#[pointer_escapes]
unsafe fn send_iov_again(#[escapes(len = iovcnt)] iov: *const libc::iovec, iovcnt: i32) -> i32 {
    iovcnt
}

fn iovec_of(buf: &[u8]) -> libc::iovec {
    libc::iovec {
        iov_base: buf.as_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    }
}

#[test]
fn unpinned_referent_names_function_parameter_element_address_and_size() {
    checked();
    let a = vec![1u8; 8];
    let b = vec![2u8; 24];
    let iov = [iovec_of(&a), iovec_of(&b)];
    let mut pinner = Pinner::new();
    pinner.pin_slice(&a); // the first buffer only
    let msg = panic_message(|| {
        // SAFETY: two live entries.
        unsafe { send_iov(iov.as_ptr(), 2) };
    });
    assert!(msg.contains("`send_iov`"), "{msg}");
    assert!(msg.contains("argument `iov`"), "{msg}");
    assert!(msg.contains("element 1"), "{msg}");
    assert!(msg.contains("iov[1].iov_base"), "{msg}");
    assert!(
        msg.contains(&format!("{:#x}", b.as_ptr() as usize)),
        "{msg}"
    );
    assert!(msg.contains("24 bytes"), "{msg}");
    assert!(msg.contains("#[flow_through]"), "{msg}");
    // The body never ran and the failed call left no pin behind.
    assert_eq!(BODY_RUNS.load(Ordering::SeqCst), 0);
    assert!(!is_pinned(iov.as_ptr()));
    assert!(is_pinned(a.as_ptr()));
    drop(pinner);
}

#[test]
fn pinned_referents_pass() {
    checked();
    let a = vec![1u8; 8];
    let b = vec![2u8; 24];
    let iov = [iovec_of(&a), iovec_of(&b)];
    let mut pinner = Pinner::new();
    pinner.pin_slice(&a);
    pinner.pin_slice(&b);
    // SAFETY: two live entries.
    assert_eq!(unsafe { send_iov_again(iov.as_ptr(), 2) }, 2);
}

/// A C-style request holding a pointer to a header.
#[repr(C)]
struct Request {
    header: *const u64,
}

// SAFETY: `header` points at one u64 when non-null.
unsafe impl Referents for Request {
    fn visit_referents<V: Visitor>(&self, v: &mut V) {
        v.pointer(self.header, 1, Via::Field("header"));
    }
}

#[pointer_escapes]
unsafe fn submit(req: *const Request) {}

#[test]
fn a_single_element_names_the_field() {
    checked();
    let header = Box::new(7u64);
    let req = Request { header: &*header };
    let msg = panic_message(|| {
        // SAFETY: `req` is live.
        unsafe { submit(&req) };
    });
    assert!(msg.contains("`submit`: argument `req`"), "{msg}");
    assert!(msg.contains("req.header"), "{msg}");
    assert!(
        msg.contains(&format!("{:#x}", &*header as *const u64 as usize)),
        "{msg}"
    );
    assert!(msg.contains("8 bytes"), "{msg}");
    assert!(!is_pinned(&req));
}

// Its compile-time warning (the pointee cannot be checked in a safe fn) is
// what ui-tests/tests/ui/fail/escapes_safe_fn_pointee_not_checked.rs shows.
#[pointer_escapes]
#[allow(deprecated)]
fn safe_send(#[escapes(len = n)] iov: *const libc::iovec, n: usize) -> bool {
    is_pinned(iov)
}

#[test]
fn a_safe_fn_pins_but_does_not_read_through_its_pointer() {
    checked();
    let a = vec![1u8; 8];
    let iov = [iovec_of(&a)];
    // Unpinned buffer, yet no panic: a safe fn's caller promised nothing
    // about the pointee, so the check (which reads it) is not made.
    assert!(safe_send(iov.as_ptr(), 1));
    assert!(!is_pinned(iov.as_ptr()));
}

#[pointer_escapes]
fn take(#[escapes(len = n)] p: *const u32, n: i64) -> bool {
    is_pinned(p)
}

#[pointer_escapes]
fn take_bytes(#[escapes(bytes = n)] p: *const u8, n: i32) -> bool {
    is_pinned(p)
}

#[test]
fn negative_length_panics_naming_the_parameter() {
    checked();
    let x = Box::new(1u32);
    let msg = panic_message(|| {
        take(&*x, -3);
    });
    assert!(msg.contains("`take`: argument `p`"), "{msg}");
    assert!(msg.contains("len = -3 is negative"), "{msg}");
    assert!(!is_pinned(&*x));
    let msg = panic_message(|| {
        take_bytes(&*x as *const u32 as *const u8, -1);
    });
    assert!(
        msg.contains("`take_bytes`: argument `p`: bytes = -1 is negative"),
        "{msg}"
    );
}

#[test]
fn overflowing_length_panics_naming_the_parameter() {
    checked();
    let x = Box::new(1u32);
    let msg = panic_message(|| {
        take(&*x, i64::MAX);
    });
    assert!(msg.contains("`take`: argument `p`"), "{msg}");
    assert!(msg.contains("does not fit"), "{msg}");
    assert!(!is_pinned(&*x));
}

#[pointer_escapes]
fn two(#[flow_through] data: &[Vec<u8>], #[escapes(len = n)] p: *const u8, n: i32) -> bool {
    true
}

#[test]
fn a_failure_on_a_later_parameter_releases_the_earlier_ones() {
    checked();
    let bufs = vec![vec![0u8; 4]];
    let msg = panic_message(|| {
        two(&bufs, bufs[0].as_ptr(), -1);
    });
    assert!(msg.contains("argument `p`"), "{msg}");
    assert!(!is_pinned(bufs.as_ptr()) && !is_pinned(bufs[0].as_ptr()));
}

/// Five checked pointers: more than the recorder keeps inline, so the fifth
/// check is stored on the heap and must still run.
#[pointer_escapes]
#[allow(clippy::too_many_arguments)]
unsafe fn five_buffers(
    a: *const Vec<u8>,
    b: *const Vec<u8>,
    c: *const Vec<u8>,
    d: *const Vec<u8>,
    e: *const Vec<u8>,
) -> usize {
    let _ = (a, b, c, d);
    // SAFETY: the caller passes a valid `Vec`.
    unsafe { (*e).len() }
}

#[test]
fn every_checked_pointer_is_checked_past_the_inline_room() {
    checked();
    let bufs: Vec<Vec<u8>> = (0..5).map(|i| vec![i as u8; 8 + i]).collect();
    let mut pinner = Pinner::new();
    for b in &bufs[..4] {
        pinner.pin_slice(b);
    }
    let p: Vec<*const Vec<u8>> = bufs.iter().map(|b| b as *const Vec<u8>).collect();
    let (pa, pb, pc, pd, pe) = (
        p[0] as usize,
        p[1] as usize,
        p[2] as usize,
        p[3] as usize,
        p[4] as usize,
    );
    let msg = panic_message(move || {
        // SAFETY: every pointer points at a live Vec.
        unsafe {
            five_buffers(
                pa as *const Vec<u8>,
                pb as *const Vec<u8>,
                pc as *const Vec<u8>,
                pd as *const Vec<u8>,
                pe as *const Vec<u8>,
            )
        };
    });
    assert!(msg.contains("`five_buffers`: argument `e`"), "{msg}");
    assert!(msg.contains("12 bytes"), "{msg}");
    pinner.pin_slice(&bufs[4]);
    // SAFETY: as above.
    assert_eq!(unsafe { five_buffers(p[0], p[1], p[2], p[3], p[4]) }, 12);
}
