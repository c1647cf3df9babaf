/// Gathers `iovcnt` buffers into `fd`.
#[inline(always)]
#[allow(non_snake_case, clippy::missing_safety_doc)]
pub unsafe fn writev(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> isize {
    #[link(name = "c")]
    unsafe extern "C" {
        #[link_name = "writev"]
        fn writev(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> isize;
    }
    unsafe { writev(fd, iov, iovcnt) }
}
#[inline(always)]
#[allow(non_snake_case, clippy::missing_safety_doc)]
unsafe fn sort(
    base: *mut c_void,
    nmemb: usize,
    size: usize,
    compar: Option<unsafe extern "C" fn(*const c_void, *const c_void) -> c_int>,
) {
    #[link(name = "c")]
    unsafe extern "C" {
        #[link_name = "qsort"]
        fn sort(
            base: *mut c_void,
            nmemb: usize,
            size: usize,
            compar: Option<unsafe extern "C" fn(*const c_void, *const c_void) -> c_int>,
        );
    }
    unsafe { sort(base, nmemb, size, compar) }
}
#[inline(always)]
#[allow(non_snake_case, clippy::missing_safety_doc)]
pub fn getpid() -> c_int {
    #[link(name = "c")]
    unsafe extern "C" {
        #[link_name = "getpid"]
        fn getpid() -> c_int;
    }
    unsafe { getpid() }
}
#[link(name = "c")]
unsafe extern "C" {
    static environ: *const *const c_char;
}
