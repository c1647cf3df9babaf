// Foreign types: `referents = path` (with `pointee`, `retained`, `len`),
// `#[flow_through(referents = ..)]` on an import, the remote mirror, and
// `cstr` (with `retained`), all warning-free.
#![deny(warnings)]
use pointer_escapes::{pointer_escapes, Referents, Visitor};
use std::ffi::{c_char, c_int, c_void};

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
    #[referents(skip)]
    ai_canonname: *mut c_char,
    #[referents(skip)]
    ai_next: *mut libc::addrinfo,
}

// A packed remote (`epoll_event` is packed on x86_64): a packed mirror
// reads its fields by copy.
#[derive(Referents)]
#[referents(remote = libc::epoll_event)]
#[repr(packed)]
struct EpollEventDef {
    events: u32,
    u64: u64,
}

#[pointer_escapes]
extern "C" {
    fn epoll_ctl(
        epfd: c_int,
        op: c_int,
        fd: c_int,
        #[escapes(referents = EpollEventDef::visit_referents)] event: *mut libc::epoll_event,
    ) -> c_int;
}

/// # Safety
/// Nothing beyond a valid `msghdr`.
unsafe fn visit_msghdr<V: Visitor>(value: &libc::msghdr, visitor: &mut V) {
    value.visit_referents(visitor);
}

#[pointer_escapes]
unsafe fn lookup(
    #[escapes(referents = AddrInfoDef::visit_referents, len = n)] ai: *const libc::addrinfo,
    n: usize,
    #[escapes(retained, pointee = libc::msghdr, referents = visit_msghdr)] ctx: *mut c_void,
    #[escapes(cstr, retained)] name: *const c_char,
) {
    let _ = (ai, ctx, name);
}

#[pointer_escapes]
extern "C" {
    fn sendmsg(
        fd: c_int,
        #[flow_through(referents = visit_msghdr)] msg: *const libc::msghdr,
        flags: c_int,
    ) -> isize;
    fn strlen(#[escapes(cstr)] s: *const c_char) -> usize;
}

#[pointer_escapes(unchecked)]
extern "C" {
    fn recvmsg(
        fd: c_int,
        #[escapes(referents = visit_msghdr)] msg: *mut libc::msghdr,
        flags: c_int,
    ) -> isize;
}

#[pointer_escapes(unchecked)]
unsafe fn unchecked(#[escapes(referents = visit_msghdr)] msg: *const libc::msghdr) {
    let _ = msg;
}

fn main() {
    let _ = (lookup, sendmsg, strlen, unchecked, epoll_ctl, recvmsg);
}
