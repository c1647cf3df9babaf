// In a safe fn nothing vouches for the pointee, so `referents = path` is
// not called: the same warning as for any pointee with referents (made an
// error here to show its text).
#![deny(deprecated)]
use pointer_escapes::{pointer_escapes, Visitor};

unsafe fn visit<V: Visitor>(_value: &libc::msghdr, _visitor: &mut V) {}

#[pointer_escapes]
fn send(#[escapes(referents = visit)] msg: *const libc::msghdr) -> bool {
    msg.is_null()
}

fn main() {
    send(std::ptr::null());
}
