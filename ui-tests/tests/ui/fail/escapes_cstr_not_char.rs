// `cstr` needs a pointer to `c_char`; a string is not made of `u32`s, and
// a reference is not a raw pointer.
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
unsafe fn wide(#[escapes(cstr)] s: *const u32) {
    let _ = s;
}

#[pointer_escapes]
unsafe fn by_ref(#[escapes(cstr)] s: &u8) {
    let _ = s;
}

fn main() {}
