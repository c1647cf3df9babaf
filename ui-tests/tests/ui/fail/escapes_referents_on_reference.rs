// `referents = path` is for raw pointers; a reference's pointee type is
// known to the compiler and borrowed.
use pointer_escapes::{pointer_escapes, Visitor};

unsafe fn visit<V: Visitor>(_value: &libc::msghdr, _visitor: &mut V) {}

#[pointer_escapes]
fn send(#[flow_through(referents = visit)] msg: &libc::msghdr) {
    let _ = msg;
}

fn main() {}
