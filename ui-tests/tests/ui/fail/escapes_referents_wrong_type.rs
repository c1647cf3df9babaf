// `referents = path` must report the parameter's pointee: a function for
// another type is refused at the path.
use pointer_escapes::{pointer_escapes, Visitor};

unsafe fn visit_iovec<V: Visitor>(_value: &libc::iovec, _visitor: &mut V) {}

#[pointer_escapes]
unsafe fn send(#[escapes(referents = visit_iovec)] msg: *const libc::msghdr) {
    let _ = msg;
}

fn main() {
    unsafe { send(std::ptr::null()) };
}
