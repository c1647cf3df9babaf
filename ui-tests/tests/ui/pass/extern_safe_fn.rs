// A `safe fn` item becomes a safe wrapper: calling it needs no `unsafe`.
#![deny(warnings)]

use pointer_escapes::pointer_escapes;
use std::ffi::c_int;

#[pointer_escapes]
unsafe extern "C" {
    safe fn abs(v: c_int) -> c_int;
    safe fn getpid() -> c_int;
}

fn main() {
    assert_eq!(abs(-7), 7);
    assert_eq!(getpid() as u32, std::process::id());
}
