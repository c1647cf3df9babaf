// Input of the expansion snapshot test (see src/escapes/snapshot.rs): items
// marked `unchecked` are emitted without pins or checks, whatever the crate's
// `pointer_escapes_unchecked` cfg says; their parameters are still named.

#[pointer_escapes(unchecked)]
fn send(#[escapes(len = n)] p: *const u8, n: usize, #[flow_through] bufs: &[Vec<u8>]) -> usize {
    n
}

#[pointer_escapes(unchecked, returns(retained, len = n))]
fn keep(n: usize) -> *const u8 {
    core::ptr::null()
}

#[pointer_escapes(unchecked)]
unsafe extern "C" {
    pub fn writev(fd: c_int, #[flow_through] #[escapes(len = iovcnt)] iov: *const libc::iovec, iovcnt: c_int) -> isize;
}
