// The wrapper passes each argument on by name: `_` cannot be passed.
use pointer_escapes::pointer_escapes;
use std::ffi::c_int;

#[pointer_escapes]
unsafe extern "C" {
    fn close(_: c_int) -> c_int;
}

fn main() {}
