// A safe fn cannot read through a raw pointer, so a pointee with referents
// is not checked: a warning (made an error here to show its text). A
// pointee that holds no pointers (`*const u8`) raises none.
#![deny(deprecated)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
fn inspect(p: *const Vec<u8>, bytes: *const u8) -> bool {
    !p.is_null() && !bytes.is_null()
}

#[pointer_escapes]
unsafe extern "C" {
    safe fn labs_of(p: *const *const u8) -> i64;
}

fn main() {
    inspect(std::ptr::null(), std::ptr::null());
    let _ = labs_of;
}
