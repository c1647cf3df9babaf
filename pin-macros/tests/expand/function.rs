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

/// Out-parameters: `out` is pinned and never read; an unmarked `*mut` is
/// pinned, not read, and warns when its pointee has referents; `inout` is
/// checked; an alias is checked only if its type is a `*const`.
#[pointer_escapes]
unsafe fn produce(
    #[escapes(out)] out: *mut *const u8,
    slot: *mut *const u8,
    #[escapes(inout, len = n)] io: *mut *const u8,
    n: usize,
    #[escapes(len = 1)] alias: IovPtr,
) {
}

/// A safe function whose raw pointer's pointee has referents: a warning.
#[pointer_escapes]
fn inspect(p: *const Vec<u8>) -> bool {
    !p.is_null()
}

/// Pointers C keeps: a retained context taken as a `*const Payload`, and a
/// returned buffer C keeps (checked after the call's own pins are released).
#[pointer_escapes(returns(retained, len = n))]
pub unsafe extern "C" fn value_blob(
    #[escapes(retained, pointee = Payload)] ctx: *mut c_void,
    #[escapes(retained, bytes = n)] buf: *const u8,
    n: usize,
) -> *const u8 {
    if n == 0 {
        return std::ptr::null();
    }
    buf
}
