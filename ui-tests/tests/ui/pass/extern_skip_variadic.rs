// `skip_variadic`: the variadic imports of an annotated block (bindgen
// merges a header's functions into one block) are emitted as plain imports
// under their own names, unchecked; the other imports are wrapped.
#![deny(warnings)]

use pointer_escapes::pointer_escapes;
use std::ffi::{c_char, c_int};

#[pointer_escapes(skip_variadic)]
unsafe extern "C" {
    fn open(path: *const c_char, flags: c_int, ...) -> c_int;
    fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
    fn printf(format: *const c_char, ...) -> c_int;
    fn close(fd: c_int) -> c_int;
    fn strlen(#[escapes(bytes = 1)] s: *const c_char) -> usize;
}

// Each variadic import is C's function itself: a C function pointer.
const OPEN: unsafe extern "C" fn(*const c_char, c_int, ...) -> c_int = open;

fn main() {
    // SAFETY: a NUL-terminated path, no O_CREAT.
    let fd = unsafe { OPEN(c"/dev/null".as_ptr(), 0) };
    assert!(fd >= 0);
    // SAFETY: `fd` is open; F_GETFD takes no argument.
    assert!(unsafe { fcntl(fd, 1) } >= 0);
    // SAFETY: `fd` is ours.
    unsafe { close(fd) };
    // SAFETY: a NUL-terminated format without conversions.
    unsafe { printf(c"".as_ptr()) };
    // SAFETY: a NUL-terminated string.
    assert_eq!(unsafe { strlen(c"four".as_ptr()) }, 4);
}
