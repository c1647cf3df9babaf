/// Gathers `iovcnt` buffers into `fd`.
#[track_caller]
#[allow(non_snake_case, clippy::missing_safety_doc)]
pub unsafe fn writev(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> isize {
    #[link(name = "c")]
    unsafe extern "C" {
        #[link_name = "writev"]
        fn writev(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> isize;
    }
    #[allow(unexpected_cfgs)]
    const __POINTER_ESCAPES_UNCHECKED: bool = ::core::cfg!(pointer_escapes_unchecked);
    let __pe_pins = if __POINTER_ESCAPES_UNCHECKED {
        ::core::option::Option::None
    } else {
        ::core::option::Option::Some(
            ::pointer_escapes::__private::CallPins::new(
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
            ),
        )
    };
    unsafe { writev(fd, iov, iovcnt) }
}
#[track_caller]
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
    #[allow(unexpected_cfgs)]
    const __POINTER_ESCAPES_UNCHECKED: bool = ::core::cfg!(pointer_escapes_unchecked);
    let __pe_pins = if __POINTER_ESCAPES_UNCHECKED {
        ::core::option::Option::None
    } else {
        ::core::option::Option::Some(
            ::pointer_escapes::__private::CallPins::new(
                "sort",
                |__pe_call: &mut ::pointer_escapes::__private::CallRecorder| {
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
                    __pe_call
                        .pointer_without_check(
                            "base",
                            &base,
                            ::pointer_escapes::__private::Extent::bytes(nmemb * size),
                        );
                },
            ),
        )
    };
    unsafe { sort(base, nmemb, size, compar) }
}
#[track_caller]
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
#[track_caller]
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
    #[allow(unexpected_cfgs)]
    const __POINTER_ESCAPES_UNCHECKED: bool = ::core::cfg!(pointer_escapes_unchecked);
    let __pe_pins = if __POINTER_ESCAPES_UNCHECKED {
        ::core::option::Option::None
    } else {
        ::core::option::Option::Some(
            ::pointer_escapes::__private::CallPins::new(
                "getline",
                |__pe_call: &mut ::pointer_escapes::__private::CallRecorder| {
                    __pe_call
                        .pointer_without_check(
                            "lineptr",
                            &lineptr,
                            ::pointer_escapes::__private::Extent::One,
                        );
                    __pe_call
                        .pointer_without_check(
                            "n",
                            &n,
                            ::pointer_escapes::__private::Extent::One,
                        );
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
                    __pe_call
                        .pointer_without_check(
                            "stream",
                            &stream,
                            ::pointer_escapes::__private::Extent::One,
                        );
                },
            ),
        )
    };
    unsafe { getline(lineptr, n, stream) }
}
#[track_caller]
#[allow(non_snake_case, clippy::missing_safety_doc)]
unsafe fn strtol(nptr: *const c_char, endptr: *mut *mut c_char, base: c_int) -> c_long {
    unsafe extern "C" {
        #[link_name = "strtol"]
        fn strtol(nptr: *const c_char, endptr: *mut *mut c_char, base: c_int) -> c_long;
    }
    #[allow(unexpected_cfgs)]
    const __POINTER_ESCAPES_UNCHECKED: bool = ::core::cfg!(pointer_escapes_unchecked);
    let __pe_pins = if __POINTER_ESCAPES_UNCHECKED {
        ::core::option::Option::None
    } else {
        ::core::option::Option::Some(
            ::pointer_escapes::__private::CallPins::new(
                "strtol",
                |__pe_call: &mut ::pointer_escapes::__private::CallRecorder| {
                    {
                        #[allow(unused_imports)]
                        use ::pointer_escapes::__private::{
                            HasReferents as _, NoReferents as _,
                        };
                        let __pe_check = (&::pointer_escapes::__private::Probe::of(
                            &nptr,
                        ))
                            .check_fn();
                        unsafe {
                            __pe_call
                                .pointer(
                                    "nptr",
                                    &nptr,
                                    ::pointer_escapes::__private::Extent::One,
                                    __pe_check,
                                )
                        };
                    }
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
                    __pe_call
                        .pointer_without_check(
                            "endptr",
                            &endptr,
                            ::pointer_escapes::__private::Extent::One,
                        );
                },
            ),
        )
    };
    unsafe { strtol(nptr, endptr, base) }
}
#[track_caller]
#[allow(non_snake_case, clippy::missing_safety_doc)]
unsafe fn set_callback(h: *mut Handle, user_data: *mut c_void) {
    unsafe extern "C" {
        #[link_name = "set_callback"]
        fn set_callback(h: *mut Handle, user_data: *mut c_void);
    }
    #[allow(unexpected_cfgs)]
    const __POINTER_ESCAPES_UNCHECKED: bool = ::core::cfg!(pointer_escapes_unchecked);
    let __pe_pins = if __POINTER_ESCAPES_UNCHECKED {
        ::core::option::Option::None
    } else {
        ::core::option::Option::Some(
            ::pointer_escapes::__private::CallPins::new(
                "set_callback",
                |__pe_call: &mut ::pointer_escapes::__private::CallRecorder| {
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
                    __pe_call
                        .pointer_without_check(
                            "h",
                            &h,
                            ::pointer_escapes::__private::Extent::One,
                        );
                    {
                        let __pe_extent = ::pointer_escapes::__private::Extent::One;
                        #[allow(unused_imports)]
                        use ::pointer_escapes::__private::{
                            HasReferents as _, NoReferents as _,
                        };
                        let __pe_check = (&::pointer_escapes::__private::Probe::of(
                            &::pointer_escapes::__private::pointee_as::<
                                Ctx,
                                _,
                            >(&user_data),
                        ))
                            .check_fn();
                        unsafe {
                            __pe_call
                                .pointer(
                                    "user_data",
                                    &::pointer_escapes::__private::pointee_as::<
                                        Ctx,
                                        _,
                                    >(&user_data),
                                    __pe_extent,
                                    __pe_check,
                                )
                        };
                        __pe_call
                            .retained(
                                "user_data",
                                &::pointer_escapes::__private::pointee_as::<
                                    Ctx,
                                    _,
                                >(&user_data),
                                __pe_extent,
                            );
                    }
                },
            ),
        )
    };
    unsafe { set_callback(h, user_data) }
}
