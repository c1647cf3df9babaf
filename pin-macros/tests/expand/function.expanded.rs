unsafe fn readv(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> isize {
    let __pe_pins = ::pointer_escapes::__private::CallPins::new(
        "readv",
        |__pe_call: &mut ::pointer_escapes::__private::CallRecorder| {
            unsafe {
                __pe_call
                    .flow_through_pointer(
                        "iov",
                        &iov,
                        ::pointer_escapes::__private::Extent::len(iovcnt),
                    )
            };
        },
    );
    { unsafe { libc::readv(fd, iov, iovcnt) } }
}
/// A safe function: its raw pointer is pinned but never read through.
pub fn send(buf: *const c_void, n: usize, __pe_arg2: *mut u8) -> isize {
    let _ = __pe_arg2;
    let __pe_pins = ::my_ffi::pointer_escapes::__private::CallPins::new(
        "send",
        |__pe_call: &mut ::my_ffi::pointer_escapes::__private::CallRecorder| {
            __pe_call
                .pointer_without_check(
                    "buf",
                    &buf,
                    ::my_ffi::pointer_escapes::__private::Extent::bytes(n),
                );
            __pe_call
                .pointer_without_check(
                    "#3",
                    &__pe_arg2,
                    ::my_ffi::pointer_escapes::__private::Extent::One,
                );
        },
    );
    { 0 }
}
async fn fill(bufs: &mut [IoSliceMut<'_>], tag: u8) -> usize {
    let __pe_pins = ::pointer_escapes::__private::CallPins::new(
        "fill",
        |__pe_call: &mut ::pointer_escapes::__private::CallRecorder| {
            __pe_call.flow_through_ref("bufs", &*bufs);
        },
    );
    { bufs.len() + usize::from(tag) }
}
impl Stream {
    fn push(&mut self, data: &[&[u8]], (a, b): (u8, u8)) {
        let __pe_pins = ::pointer_escapes::__private::CallPins::new(
            "push",
            |__pe_call: &mut ::pointer_escapes::__private::CallRecorder| {
                __pe_call.flow_through_ref("data", &*data);
            },
        );
        {}
    }
}
