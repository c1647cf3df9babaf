// An existing #[link_name] is kept on the import; the block's #[link] too.
#![deny(warnings)]

use pointer_escapes::pointer_escapes;
use std::ffi::c_char;

#[pointer_escapes]
#[link(name = "c")]
unsafe extern "C" {
    #[link_name = "strlen"]
    fn c_string_length(#[escapes(bytes = 1)] s: *const c_char) -> usize;
}

fn main() {
    // SAFETY: a NUL-terminated literal.
    assert_eq!(unsafe { c_string_length(c"hello".as_ptr()) }, 5);
}
