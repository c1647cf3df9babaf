unsafe fn readv(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> isize {
    let mut __pe_pins = ::pointer_escapes::__private::CallPins::new("readv");
    if __pe_pins.is_active() {
        unsafe {
            __pe_pins
                .flow_through_pointer(
                    "iov",
                    &iov,
                    ::pointer_escapes::__private::Extent::len(iovcnt),
                )
        };
        __pe_pins.commit();
    }
    { unsafe { libc::readv(fd, iov, iovcnt) } }
}
/// A safe function: its raw pointer is pinned but never read through.
pub fn send(buf: *const c_void, n: usize, __pe_arg2: *mut u8) -> isize {
    let _ = __pe_arg2;
    let mut __pe_pins = ::my_ffi::pointer_escapes::__private::CallPins::new("send");
    if __pe_pins.is_active() {
        __pe_pins
            .pointer_without_check(
                "buf",
                &buf,
                ::my_ffi::pointer_escapes::__private::Extent::bytes(n),
            );
        __pe_pins
            .pointer_without_check(
                "#3",
                &__pe_arg2,
                ::my_ffi::pointer_escapes::__private::Extent::One,
            );
        __pe_pins.commit();
    }
    { 0 }
}
async fn fill(bufs: &mut [IoSliceMut<'_>], tag: u8) -> usize {
    let mut __pe_pins = ::pointer_escapes::__private::CallPins::new("fill");
    if __pe_pins.is_active() {
        __pe_pins.flow_through_ref("bufs", &*bufs);
        __pe_pins.commit();
    }
    { bufs.len() + usize::from(tag) }
}
impl Stream {
    fn push(&mut self, data: &[&[u8]], (a, b): (u8, u8)) {
        let mut __pe_pins = ::pointer_escapes::__private::CallPins::new("push");
        if __pe_pins.is_active() {
            __pe_pins.flow_through_ref("data", &*data);
            __pe_pins.commit();
        }
        {}
    }
}
