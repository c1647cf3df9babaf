// `cstr` gives the extent: `len`/`bytes` too is a conflict; `out` has no
// NUL to find yet; `pointee` says something else is pointed at.
use pointer_escapes::pointer_escapes;
use std::ffi::c_char;

#[pointer_escapes]
unsafe fn a(#[escapes(cstr, len = 4)] s: *const c_char) {
    let _ = s;
}

#[pointer_escapes]
unsafe fn b(#[escapes(out, cstr)] s: *mut c_char) {
    let _ = s;
}

#[pointer_escapes]
unsafe fn c(#[escapes(cstr, pointee = u8)] s: *const c_char) {
    let _ = s;
}

fn main() {}
