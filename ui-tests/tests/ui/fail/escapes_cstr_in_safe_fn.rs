// `cstr` reads the string to find its NUL: only an `unsafe fn`'s caller
// vouches for that.
use pointer_escapes::pointer_escapes;
use std::ffi::c_char;

#[pointer_escapes]
fn name_len(#[escapes(cstr)] s: *const c_char) -> bool {
    s.is_null()
}

#[pointer_escapes]
unsafe extern "C" {
    safe fn strlen(#[escapes(cstr)] s: *const c_char) -> usize;
}

fn main() {}
