// Attributes the macro does not know stay on the wrapper's parameter,
// where the compiler reports them once; near-misses get a suggestion.
use pointer_escapes::pointer_escapes;
use std::ffi::c_int;

#[pointer_escapes]
unsafe extern "C" {
    fn writev(fd: c_int, #[flow_thru] iov: *const libc::iovec, iovcnt: c_int) -> isize;
    fn close(#[fd_like] fd: c_int) -> c_int;
}

fn main() {}
