unsafe fn readv(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> isize {
    let _ = || (&iov, iovcnt);
    { unsafe { libc::readv(fd, iov, iovcnt) } }
}
/// A safe function: its raw pointer is pinned but never read through.
pub fn send(buf: *const c_void, n: usize, __pe_arg2: *mut u8) -> isize {
    let _ = __pe_arg2;
    let _ = || (&buf, &__pe_arg2, n);
    { 0 }
}
async fn fill(bufs: &mut [IoSliceMut<'_>], tag: u8) -> usize {
    let _ = || (&bufs,);
    { bufs.len() + usize::from(tag) }
}
impl Stream {
    fn push(&mut self, data: &[&[u8]], (a, b): (u8, u8)) {
        let _ = || (&data,);
        {}
    }
}
