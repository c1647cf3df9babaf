/// Gathers `iovcnt` buffers into `fd`.
#[allow(non_snake_case, clippy::missing_safety_doc)]
pub unsafe fn writev(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> isize {
    #[link(name = "c")]
    unsafe extern "C" {
        #[link_name = "writev"]
        fn writev(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> isize;
    }
    let __pe_pins = ::pointer_escapes::__private::CallPins::new(
        "writev",
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
    unsafe { writev(fd, iov, iovcnt) }
}
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
    let __pe_pins = ::pointer_escapes::__private::CallPins::new(
        "sort",
        |__pe_call: &mut ::pointer_escapes::__private::CallRecorder| {
            {
                #[allow(unused_imports)]
                use ::pointer_escapes::__private::{HasReferents as _, NoReferents as _};
                let __pe_check = (&::pointer_escapes::__private::Probe::of(&base))
                    .check_fn();
                unsafe {
                    __pe_call
                        .pointer(
                            "base",
                            &base,
                            ::pointer_escapes::__private::Extent::bytes(nmemb * size),
                            __pe_check,
                        )
                };
            }
        },
    );
    unsafe { sort(base, nmemb, size, compar) }
}
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
