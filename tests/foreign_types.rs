//! Foreign types (SPEC, "Fits -sys crates and bindgen"): the shipped libc
//! impls (`msghdr` through a real `sendmsg(2)` on a socketpair),
//! `#[escapes(referents = path)]` / `#[flow_through(referents = path)]` for
//! a type the orphan rule keeps us from implementing `Referents` for
//! (`libc::addrinfo`), the `#[referents(remote = ..)]` mirror derive, and
//! `#[escapes(cstr)]`. Every test runs in `CheckMode::Args`.

use pointer_escapes::referents::direct_referents;
use pointer_escapes::{
    is_pinned, is_region_pinned, pointer_escapes, set_check_mode, CheckMode, Pinner, Referents,
    Via, Visitor,
};
use std::ffi::{c_char, c_int, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

fn panic_text<R>(f: impl FnOnce() -> R) -> Option<String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => None,
        Err(payload) => Some(payload.downcast::<String>().map(|s| *s).unwrap_or_default()),
    }
}

#[pointer_escapes]
extern "C" {
    fn sendmsg(fd: c_int, #[flow_through] msg: *const libc::msghdr, flags: c_int) -> isize;
}

/// A connected pair of Unix datagram sockets, closed on drop.
struct Pair([c_int; 2]);

impl Pair {
    fn new() -> Pair {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors.
        let rc = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0, fds.as_mut_ptr()) };
        assert_eq!(rc, 0, "socketpair: {}", std::io::Error::last_os_error());
        Pair(fds)
    }

    fn receive(&self) -> Vec<u8> {
        let mut buf = [0u8; 64];
        // SAFETY: `buf` has 64 writable bytes.
        let n = unsafe { libc::recv(self.0[1], buf.as_mut_ptr().cast(), buf.len(), 0) };
        assert!(n >= 0, "recv: {}", std::io::Error::last_os_error());
        buf[..n as usize].to_vec()
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for fd in self.0 {
            // SAFETY: our own descriptors, closed once.
            unsafe { libc::close(fd) };
        }
    }
}

fn msghdr_for(iov: &mut [libc::iovec]) -> libc::msghdr {
    // SAFETY: all-zero is a valid, empty `msghdr`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = iov.len() as _;
    msg
}

#[test]
fn flow_through_msghdr_pins_its_iovecs_and_a_pinned_payload_passes() {
    set_check_mode(CheckMode::Args);
    let pair = Pair::new();
    let mut head = *b"hello, ";
    let mut tail = *b"kernel";
    let mut pinner = Pinner::new();
    let (head_len, tail_len) = (head.len(), tail.len());
    let mut iov = [
        libc::iovec {
            iov_base: pinner.pin_mut(&mut head).cast(),
            iov_len: head_len,
        },
        libc::iovec {
            iov_base: pinner.pin_mut(&mut tail).cast(),
            iov_len: tail_len,
        },
    ];
    let msg = msghdr_for(&mut iov);
    // SAFETY: `msg` and everything it points to are live for the call.
    let sent = unsafe { sendmsg(pair.0[0], &msg, 0) };
    assert_eq!(sent, 13, "sendmsg: {}", std::io::Error::last_os_error());
    assert_eq!(pair.receive(), b"hello, kernel");
    pinner.unpin();
    assert!(!is_pinned(iov.as_ptr()), "the call's pins are released");
}

#[test]
fn unpinned_payload_behind_msg_iov_fails_the_check() {
    set_check_mode(CheckMode::Args);
    let pair = Pair::new();
    let mut payload = vec![7u8; 16];
    let mut iov = [libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: payload.len(),
    }];
    let msg = msghdr_for(&mut iov);
    let message = panic_text(|| {
        // SAFETY: `msg` and everything it points to are live.
        unsafe { sendmsg(pair.0[0], &msg, 0) }
    })
    .expect("a payload nobody pinned is refused");
    assert!(message.contains("`sendmsg`"), "{message}");
    assert!(message.contains("msg_iov"), "{message}");
    assert!(
        !is_pinned(iov.as_ptr()),
        "no pin leaks from the refused call"
    );
}

// -- referents = path: `libc::addrinfo` has no `Referents` impl, and the
// orphan rule forbids one here.

/// A mirror of `libc::addrinfo`: `ai_addr` points at `ai_addrlen` bytes,
/// `ai_canonname` at a string (one byte reported: its extent is C's to
/// find), and `ai_next` at another `addrinfo`, which has no impl: skipped.
#[derive(Referents)]
#[referents(remote = libc::addrinfo)]
struct AddrInfoDef {
    ai_flags: c_int,
    ai_family: c_int,
    ai_socktype: c_int,
    ai_protocol: c_int,
    ai_addrlen: libc::socklen_t,
    #[referents(bytes = self.ai_addrlen)]
    ai_addr: *mut libc::sockaddr,
    ai_canonname: *mut c_char,
    #[referents(skip)]
    ai_next: *mut libc::addrinfo,
}

/// The same, written by hand: what `referents = path` names.
///
/// # Safety
/// `value`'s `ai_addr` is valid for `ai_addrlen` bytes when it is valid.
unsafe fn visit_addrinfo<V: Visitor>(value: &libc::addrinfo, visitor: &mut V) {
    visitor.bytes(
        value.ai_addr as *const u8,
        value.ai_addrlen as usize,
        Via::Field("ai_addr"),
    );
}

#[pointer_escapes]
unsafe fn use_addrinfo(
    #[escapes(referents = AddrInfoDef::visit_referents)] ai: *const libc::addrinfo,
) -> bool {
    is_pinned(ai)
}

#[pointer_escapes]
unsafe fn use_addrinfo_by_hand(
    #[escapes(referents = visit_addrinfo)] ai: *const libc::addrinfo,
) -> bool {
    is_pinned(ai)
}

#[pointer_escapes]
unsafe fn flow_addrinfo(
    #[flow_through(referents = AddrInfoDef::visit_referents)] ai: *const libc::addrinfo,
) -> bool {
    // SAFETY: our caller vouches for `ai`.
    let ai = unsafe { &*ai };
    is_region_pinned(ai.ai_addr as *const u8, ai.ai_addrlen as usize)
}

fn addrinfo_with(addr: &mut libc::sockaddr_in) -> libc::addrinfo {
    // SAFETY: all-zero is a valid, empty `addrinfo`.
    let mut ai: libc::addrinfo = unsafe { std::mem::zeroed() };
    ai.ai_family = libc::AF_INET;
    ai.ai_addr = (addr as *mut libc::sockaddr_in).cast();
    ai.ai_addrlen = std::mem::size_of::<libc::sockaddr_in>() as _;
    ai
}

#[test]
fn referents_path_reports_a_foreign_pointee_and_an_unpinned_referent_fails() {
    set_check_mode(CheckMode::Args);
    // SAFETY: all-zero is a valid `sockaddr_in`.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let ai = addrinfo_with(&mut addr);
    for (name, call) in [
        // SAFETY (both): `ai` and its address are live.
        (
            "mirror",
            Box::new(|| unsafe { use_addrinfo(&ai) }) as Box<dyn Fn() -> bool>,
        ),
        ("by hand", Box::new(|| unsafe { use_addrinfo_by_hand(&ai) })),
    ] {
        let message = panic_text(&call).expect("the unpinned `ai_addr` is refused");
        assert!(message.contains("ai_addr"), "{name}: {message}");
        let mut pinner = Pinner::new();
        pinner.pin(&addr);
        assert!(call(), "{name}: passes once `ai_addr` is pinned");
        pinner.unpin();
    }
}

#[test]
fn flow_through_referents_path_pins_the_foreign_referents_for_the_call() {
    set_check_mode(CheckMode::Args);
    // SAFETY: all-zero is a valid `sockaddr_in`.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let ai = addrinfo_with(&mut addr);
    // SAFETY: `ai` and its address are live.
    assert!(unsafe { flow_addrinfo(&ai) });
    assert!(!is_pinned(&addr), "released after the call");
}

#[test]
fn remote_mirror_reads_its_lengths_from_the_remote_value() {
    // SAFETY: all-zero is a valid `sockaddr_in`.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let name = CString::new("host").expect("no NUL");
    let mut ai = addrinfo_with(&mut addr);
    ai.ai_addrlen = 4; // the mirror's `bytes = self.ai_addrlen`, as set here
    ai.ai_canonname = name.as_ptr().cast_mut();
    /// Each reported pointer's address and extent (elements or bytes).
    struct Collect(Vec<(usize, usize)>);
    impl Visitor for Collect {
        fn pointer<T: Referents>(&mut self, ptr: *const T, count: usize, _via: Via) {
            self.0.push((ptr as usize, count));
        }
        fn bytes(&mut self, ptr: *const u8, len: usize, _via: Via) {
            self.0.push((ptr as usize, len));
        }
    }
    let mut seen = Collect(Vec::new());
    AddrInfoDef::visit_referents(&ai, &mut seen);
    assert_eq!(
        seen.0,
        [(&addr as *const _ as usize, 4), (name.as_ptr() as usize, 1),]
    );
}

// -- cstr

#[pointer_escapes]
unsafe fn my_strlen(#[escapes(cstr)] s: *const c_char) -> (usize, bool) {
    // SAFETY: our caller vouches for a NUL-terminated string.
    let len = unsafe { libc::strlen(s) };
    (len, is_region_pinned(s, len + 1))
}

#[pointer_escapes]
unsafe fn keep_name(#[escapes(cstr, retained)] name: *const c_char) -> bool {
    is_pinned(name)
}

#[pointer_escapes]
extern "C" {
    fn strlen(#[escapes(cstr)] s: *const c_char) -> usize;
}

#[test]
fn cstr_pins_the_whole_string_with_its_nul() {
    set_check_mode(CheckMode::Args);
    let s = CString::new("a string of 25 characters").expect("no NUL");
    // SAFETY: a valid C string.
    assert_eq!(unsafe { my_strlen(s.as_ptr()) }, (25, true));
    assert!(!is_pinned(s.as_ptr()), "released after the call");
    // SAFETY: null is allowed: nothing is pinned.
    assert!(!unsafe { keep_name(std::ptr::null()) });
    // SAFETY: a valid C string, through a real import.
    assert_eq!(unsafe { strlen(c"through an import".as_ptr()) }, 17);
}

#[test]
fn cstr_retained_string_needs_a_pin_that_outlives_the_call() {
    set_check_mode(CheckMode::Args);
    let s = CString::new("kept by C").expect("no NUL");
    let message = panic_text(|| {
        // SAFETY: a valid C string.
        unsafe { keep_name(s.as_ptr()) }
    })
    .expect("a string only the call pins is refused");
    assert!(message.contains("`name`"), "{message}");
    assert!(message.contains("10 bytes"), "{message}");
    let mut pinner = Pinner::new();
    pinner.pin(&s);
    // Pinning the `CString` value does not pin its heap bytes: pin them.
    pinner.pin(s.as_bytes_with_nul());
    // SAFETY: a valid C string, pinned beyond the call.
    assert!(unsafe { keep_name(s.as_ptr()) });
    pinner.unpin();
}

#[test]
fn shipped_libc_impls_report_through_the_check_api() {
    set_check_mode(CheckMode::Args);
    let mut payload = [1u8; 8];
    let mut iov = [libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: 8,
    }];
    let msg = msghdr_for(&mut iov);
    assert_eq!(direct_referents(&msg).len(), 1, "the iovec array");
    // SAFETY: the iovec array and the payload are live.
    let unpinned = unsafe { pointer_escapes::try_check_referents_through_raw(&msg) };
    let failure = unpinned.expect_err("nothing is pinned");
    assert!(failure.to_string().contains("msg_iov"), "{failure}");
    let mut pinner = Pinner::new();
    pinner.pin(&iov);
    pinner.pin(&payload);
    // SAFETY: as above.
    unsafe { pointer_escapes::try_check_referents_through_raw(&msg) }.expect("all pinned");
    pinner.unpin();
}
