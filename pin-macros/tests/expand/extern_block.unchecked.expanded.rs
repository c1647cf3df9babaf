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
    let _ = || {
        {
            struct PointeeNotChecked;
            #[allow(dead_code)]
            impl PointeeNotChecked {
                #[deprecated(
                    note = "`*mut` parameter `base`'s pointee is not checked: it may be an uninitialised out-parameter; write #[escapes(out)] if C writes it, or #[escapes(inout)] / #[flow_through] if it holds pointers C reads"
                )]
                #[inline(always)]
                fn warn(self) {}
            }
            #[allow(unused_imports)]
            use ::pointer_escapes::__private::{
                PointeeHasReferents as _, PointeeHoldsNoPointers as _,
                PointeeUnknown as _,
            };
            (&&::pointer_escapes::__private::LintProbe::of(&base))
                .lint(PointeeNotChecked)
                .warn();
        }
    };
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
#[inline(always)]
#[allow(non_snake_case, clippy::missing_safety_doc)]
unsafe fn getline(
    lineptr: *mut *mut c_char,
    n: *mut usize,
    stream: *mut libc::FILE,
) -> isize {
    unsafe extern "C" {
        #[link_name = "getline"]
        fn getline(
            lineptr: *mut *mut c_char,
            n: *mut usize,
            stream: *mut libc::FILE,
        ) -> isize;
    }
    let _ = || {
        {
            struct PointeeNotChecked;
            #[allow(dead_code)]
            impl PointeeNotChecked {
                #[deprecated(
                    note = "`*mut` parameter `stream`'s pointee is not checked: it may be an uninitialised out-parameter; write #[escapes(out)] if C writes it, or #[escapes(inout)] / #[flow_through] if it holds pointers C reads"
                )]
                #[inline(always)]
                fn warn(self) {}
            }
            #[allow(unused_imports)]
            use ::pointer_escapes::__private::{
                PointeeHasReferents as _, PointeeHoldsNoPointers as _,
                PointeeUnknown as _,
            };
            (&&::pointer_escapes::__private::LintProbe::of(&stream))
                .lint(PointeeNotChecked)
                .warn();
        }
    };
    unsafe { getline(lineptr, n, stream) }
}
#[inline(always)]
#[allow(non_snake_case, clippy::missing_safety_doc)]
unsafe fn strtol(nptr: *const c_char, endptr: *mut *mut c_char, base: c_int) -> c_long {
    unsafe extern "C" {
        #[link_name = "strtol"]
        fn strtol(nptr: *const c_char, endptr: *mut *mut c_char, base: c_int) -> c_long;
    }
    let _ = || {
        {
            struct PointeeNotChecked;
            #[allow(dead_code)]
            impl PointeeNotChecked {
                #[deprecated(
                    note = "`*mut` parameter `endptr`'s pointee is not checked: it may be an uninitialised out-parameter; write #[escapes(out)] if C writes it, or #[escapes(inout)] / #[flow_through] if it holds pointers C reads"
                )]
                #[inline(always)]
                fn warn(self) {}
            }
            #[allow(unused_imports)]
            use ::pointer_escapes::__private::{
                PointeeHasReferents as _, PointeeHoldsNoPointers as _,
                PointeeUnknown as _,
            };
            (&&::pointer_escapes::__private::LintProbe::of(&endptr))
                .lint(PointeeNotChecked)
                .warn();
        }
    };
    unsafe { strtol(nptr, endptr, base) }
}
#[inline(always)]
#[allow(non_snake_case, clippy::missing_safety_doc)]
unsafe fn set_callback(h: *mut Handle, user_data: *mut c_void) {
    unsafe extern "C" {
        #[link_name = "set_callback"]
        fn set_callback(h: *mut Handle, user_data: *mut c_void);
    }
    let _ = || {
        {
            struct PointeeNotChecked;
            #[allow(dead_code)]
            impl PointeeNotChecked {
                #[deprecated(
                    note = "`*mut` parameter `h`'s pointee is not checked: it may be an uninitialised out-parameter; write #[escapes(out)] if C writes it, or #[escapes(inout)] / #[flow_through] if it holds pointers C reads"
                )]
                #[inline(always)]
                fn warn(self) {}
            }
            #[allow(unused_imports)]
            use ::pointer_escapes::__private::{
                PointeeHasReferents as _, PointeeHoldsNoPointers as _,
                PointeeUnknown as _,
            };
            (&&::pointer_escapes::__private::LintProbe::of(&h))
                .lint(PointeeNotChecked)
                .warn();
        }
    };
    unsafe { set_callback(h, user_data) }
}
