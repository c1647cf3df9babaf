// Input of the expansion snapshot test (see src/escapes/snapshot.rs).

#[pointer_escapes]
unsafe fn readv(
    fd: c_int,
    #[flow_through]
    #[escapes(len = iovcnt)]
    iov: *const libc::iovec,
    iovcnt: c_int,
) -> isize {
    unsafe { libc::readv(fd, iov, iovcnt) }
}

/// A safe function: its raw pointer is pinned but never read through.
#[pointer_escapes(crate = ::my_ffi::pointer_escapes)]
pub fn send(#[escapes(bytes = n)] buf: *const c_void, n: usize, _: *mut u8) -> isize {
    0
}

#[pointer_escapes]
async fn fill(#[flow_through] bufs: &mut [IoSliceMut<'_>], tag: u8) -> usize {
    bufs.len() + usize::from(tag)
}

impl Stream {
    #[pointer_escapes]
    fn push(&mut self, #[flow_through] data: &[&[u8]], (a, b): (u8, u8)) {}
}
