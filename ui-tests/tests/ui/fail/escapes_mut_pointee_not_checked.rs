// An unmarked `*mut` pointee may be an uninitialised out-parameter, so it is
// not checked: a warning when it has referents (made an error here to show
// its text). `#[escapes(out)]` / `#[escapes(inout)]` and pointees without
// pointers (`*mut u8`) raise none.
#![deny(deprecated)]
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;
use std::ptr::NonNull;

#[pointer_escapes]
unsafe fn produce(
    slot: *mut *const u8,
    boxed: Option<NonNull<Box<u8>>>,
    #[escapes(out)] out: *mut *const u8,
    #[escapes(inout)] io: *mut *const u8,
    bytes: *mut u8,
) {
}

#[pointer_escapes]
unsafe extern "C" {
    fn getline(lineptr: *mut *mut std::ffi::c_char, n: *mut usize, stream: *mut libc::FILE) -> isize;
}

fn main() {
    let _ = (produce, getline);
}
