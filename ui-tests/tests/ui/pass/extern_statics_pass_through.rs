// Statics in an annotated block pass through untouched, beside wrapped
// functions.
#![deny(warnings)]

use pointer_escapes::pointer_escapes;
use std::ffi::c_char;

#[pointer_escapes]
unsafe extern "C" {
    static environ: *const *const c_char;
    safe static stdin: *mut std::ffi::c_void;
    fn strlen(s: *const c_char) -> usize;
}

fn main() {
    // SAFETY: libc initialises `environ` before main.
    assert!(!unsafe { environ }.is_null());
    assert!(!stdin.is_null());
    // SAFETY: a NUL-terminated literal.
    assert_eq!(unsafe { strlen(c"x".as_ptr()) }, 1);
}
