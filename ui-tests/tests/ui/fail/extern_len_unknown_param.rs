// A length naming a parameter that does not exist: the compiler says so at
// the name as written.
use pointer_escapes::pointer_escapes;
use std::ffi::c_int;

#[pointer_escapes]
unsafe extern "C" {
    fn writev(fd: c_int, #[escapes(len = count)] iov: *const libc::iovec, iovcnt: c_int) -> isize;
}

fn main() {}
