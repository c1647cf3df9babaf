// A `safe fn` item gets a safe wrapper, which may not read through a raw
// pointer: #[flow_through] on one needs the item to be unsafe.
use pointer_escapes::pointer_escapes;
use std::ffi::c_int;

#[pointer_escapes]
unsafe extern "C" {
    safe fn writev(fd: c_int, #[flow_through] #[escapes(len = n)] iov: *const libc::iovec, n: c_int) -> isize;
}

fn main() {}
