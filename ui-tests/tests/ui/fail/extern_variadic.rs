// A variadic C function cannot be wrapped: its extra arguments are unseen.
use pointer_escapes::pointer_escapes;
use std::ffi::{c_char, c_int};

#[pointer_escapes]
unsafe extern "C" {
    fn printf(format: *const c_char, ...) -> c_int;
}

fn main() {}
