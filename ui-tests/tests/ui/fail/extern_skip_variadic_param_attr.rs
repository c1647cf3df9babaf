// skip_variadic passes a variadic import through unchecked: a check asked
// for on one of its parameters would silently not exist, so it is refused.
use pointer_escapes::pointer_escapes;
use std::ffi::{c_char, c_int};

#[pointer_escapes(skip_variadic)]
unsafe extern "C" {
    fn open(#[escapes(bytes = 1)] path: *const c_char, flags: c_int, ...) -> c_int;
}

fn main() {}
