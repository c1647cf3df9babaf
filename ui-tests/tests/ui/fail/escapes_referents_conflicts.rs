// Keys that exclude `referents`: `out` (never read) and `cstr` (no
// pointers in a string); `referents` twice, in #[escapes] and
// #[flow_through].
use pointer_escapes::{pointer_escapes, Visitor};

unsafe fn visit<V: Visitor>(_value: &libc::msghdr, _visitor: &mut V) {}

#[pointer_escapes]
unsafe fn a(#[escapes(out, referents = visit)] msg: *mut libc::msghdr) {
    let _ = msg;
}

#[pointer_escapes]
unsafe fn b(#[escapes(cstr, referents = visit)] s: *const libc::c_char) {
    let _ = s;
}

#[pointer_escapes]
unsafe fn c(
    #[flow_through(referents = visit)]
    #[escapes(referents = visit)]
    msg: *const libc::msghdr,
) {
    let _ = msg;
}

fn main() {}
