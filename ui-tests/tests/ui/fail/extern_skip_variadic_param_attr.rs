// skip_variadic passes a variadic import through unchecked: a check asked
// for on one of its parameters would silently not exist, so it is refused.
// The error is the only one: the import and its raw module still exist.
use pointer_escapes::pointer_escapes;
use std::ffi::{c_char, c_int};

#[pointer_escapes(skip_variadic, raw = ffi_raw)]
unsafe extern "C" {
    fn open(#[escapes(bytes = 1)] path: *const c_char, flags: c_int, ...) -> c_int;
}

fn main() {
    let _ = (open, ffi_raw::open);
}
