unsafe fn readv(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> isize {
    #[allow(unexpected_cfgs)]
    const __POINTER_ESCAPES_UNCHECKED: bool = ::core::cfg!(pointer_escapes_unchecked);
    let __pe_pins = if __POINTER_ESCAPES_UNCHECKED {
        ::core::option::Option::None
    } else {
        ::core::option::Option::Some(
            ::pointer_escapes::__private::CallPins::new(
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
            ),
        )
    };
    { unsafe { libc::readv(fd, iov, iovcnt) } }
}
/// A safe function: its raw pointer is pinned but never read through.
pub fn send(buf: *const c_void, n: usize, __pe_arg2: *mut u8) -> isize {
    let _ = __pe_arg2;
    #[allow(unexpected_cfgs)]
    const __POINTER_ESCAPES_UNCHECKED: bool = ::core::cfg!(pointer_escapes_unchecked);
    let __pe_pins = if __POINTER_ESCAPES_UNCHECKED {
        ::core::option::Option::None
    } else {
        ::core::option::Option::Some(
            ::my_ffi::pointer_escapes::__private::CallPins::new(
                "send",
                |__pe_call: &mut ::my_ffi::pointer_escapes::__private::CallRecorder| {
                    {
                        struct PointeeNotChecked;
                        #[allow(dead_code)]
                        impl PointeeNotChecked {
                            #[deprecated(
                                note = "the referents of `buf` cannot be checked in a safe fn (nothing promises the pointer is valid); make the fn `unsafe fn`, or take a reference `&T` / `&[T]`"
                            )]
                            #[inline(always)]
                            fn warn(self) {}
                        }
                        #[allow(unused_imports)]
                        use ::my_ffi::pointer_escapes::__private::{
                            PointeeHasReferents as _, PointeeHoldsNoPointers as _,
                            PointeeUnknown as _,
                        };
                        (&&::my_ffi::pointer_escapes::__private::LintProbe::of(&buf))
                            .lint(PointeeNotChecked)
                            .warn();
                    }
                    __pe_call
                        .pointer_without_check(
                            "buf",
                            &buf,
                            ::my_ffi::pointer_escapes::__private::Extent::bytes(n),
                        );
                    {
                        struct PointeeNotChecked;
                        #[allow(dead_code)]
                        impl PointeeNotChecked {
                            #[deprecated(
                                note = "the referents of `#3` cannot be checked in a safe fn (nothing promises the pointer is valid); make the fn `unsafe fn`, or take a reference `&T` / `&[T]`"
                            )]
                            #[inline(always)]
                            fn warn(self) {}
                        }
                        #[allow(unused_imports)]
                        use ::my_ffi::pointer_escapes::__private::{
                            PointeeHasReferents as _, PointeeHoldsNoPointers as _,
                            PointeeUnknown as _,
                        };
                        (&&::my_ffi::pointer_escapes::__private::LintProbe::of(
                            &__pe_arg2,
                        ))
                            .lint(PointeeNotChecked)
                            .warn();
                    }
                    __pe_call
                        .pointer_without_check(
                            "#3",
                            &__pe_arg2,
                            ::my_ffi::pointer_escapes::__private::Extent::One,
                        );
                },
            ),
        )
    };
    { 0 }
}
async fn fill(bufs: &mut [IoSliceMut<'_>], tag: u8) -> usize {
    #[allow(unexpected_cfgs)]
    const __POINTER_ESCAPES_UNCHECKED: bool = ::core::cfg!(pointer_escapes_unchecked);
    let __pe_pins = if __POINTER_ESCAPES_UNCHECKED {
        ::core::option::Option::None
    } else {
        ::core::option::Option::Some(
            ::pointer_escapes::__private::CallPins::new(
                "fill",
                |__pe_call: &mut ::pointer_escapes::__private::CallRecorder| {
                    __pe_call.flow_through_ref("bufs", &*bufs);
                },
            ),
        )
    };
    { bufs.len() + usize::from(tag) }
}
impl Stream {
    fn push(&mut self, data: &[&[u8]], (a, b): (u8, u8)) {
        #[allow(unexpected_cfgs)]
        const __POINTER_ESCAPES_UNCHECKED: bool = ::core::cfg!(
            pointer_escapes_unchecked
        );
        let __pe_pins = if __POINTER_ESCAPES_UNCHECKED {
            ::core::option::Option::None
        } else {
            ::core::option::Option::Some(
                ::pointer_escapes::__private::CallPins::new(
                    "push",
                    |__pe_call: &mut ::pointer_escapes::__private::CallRecorder| {
                        __pe_call.flow_through_ref("data", &*data);
                    },
                ),
            )
        };
        {}
    }
}
/// Out-parameters: `out` is pinned and never read; an unmarked `*mut` is
/// pinned, not read, and warns when its pointee has referents; `inout` is
/// checked; an alias is checked only if its type is a `*const`.
unsafe fn produce(
    out: *mut *const u8,
    slot: *mut *const u8,
    io: *mut *const u8,
    n: usize,
    alias: IovPtr,
) {
    #[allow(unexpected_cfgs)]
    const __POINTER_ESCAPES_UNCHECKED: bool = ::core::cfg!(pointer_escapes_unchecked);
    let __pe_pins = if __POINTER_ESCAPES_UNCHECKED {
        ::core::option::Option::None
    } else {
        ::core::option::Option::Some(
            ::pointer_escapes::__private::CallPins::new(
                "produce",
                |__pe_call: &mut ::pointer_escapes::__private::CallRecorder| {
                    __pe_call
                        .pointer_without_check(
                            "out",
                            &out,
                            ::pointer_escapes::__private::Extent::One,
                        );
                    {
                        struct PointeeNotChecked;
                        #[allow(dead_code)]
                        impl PointeeNotChecked {
                            #[deprecated(
                                note = "`*mut` parameter `slot`'s pointee is not checked: it may be an uninitialised out-parameter; write #[escapes(out)] if C writes it, or #[escapes(inout)] / #[flow_through] if it holds pointers C reads"
                            )]
                            #[inline(always)]
                            fn warn(self) {}
                        }
                        #[allow(unused_imports)]
                        use ::pointer_escapes::__private::{
                            PointeeHasReferents as _, PointeeHoldsNoPointers as _,
                            PointeeUnknown as _,
                        };
                        (&&::pointer_escapes::__private::LintProbe::of(&slot))
                            .lint(PointeeNotChecked)
                            .warn();
                    }
                    __pe_call
                        .pointer_without_check(
                            "slot",
                            &slot,
                            ::pointer_escapes::__private::Extent::One,
                        );
                    {
                        #[allow(unused_imports)]
                        use ::pointer_escapes::__private::{
                            HasReferents as _, NoReferents as _,
                        };
                        let __pe_check = (&::pointer_escapes::__private::Probe::of(&io))
                            .check_fn();
                        unsafe {
                            __pe_call
                                .pointer(
                                    "io",
                                    &io,
                                    ::pointer_escapes::__private::Extent::len(n),
                                    __pe_check,
                                )
                        };
                    }
                    {
                        #[allow(unused_imports)]
                        use ::pointer_escapes::__private::{
                            HasReferents as _, NoReferents as _,
                        };
                        let __pe_check = (&::pointer_escapes::__private::Probe::of(
                            &alias,
                        ))
                            .check_fn();
                        #[allow(unused_imports)]
                        use ::pointer_escapes::__private::{
                            ConstPointee as _, WritablePointee as _,
                        };
                        let __pe_check = (&::pointer_escapes::__private::ConstProbe::of(
                            &alias,
                        ))
                            .keep_if_const(__pe_check);
                        unsafe {
                            __pe_call
                                .pointer(
                                    "alias",
                                    &alias,
                                    ::pointer_escapes::__private::Extent::len(1),
                                    __pe_check,
                                )
                        };
                    }
                },
            ),
        )
    };
    {}
}
/// A safe function whose raw pointer's pointee has referents: a warning.
fn inspect(p: *const Vec<u8>) -> bool {
    #[allow(unexpected_cfgs)]
    const __POINTER_ESCAPES_UNCHECKED: bool = ::core::cfg!(pointer_escapes_unchecked);
    let __pe_pins = if __POINTER_ESCAPES_UNCHECKED {
        ::core::option::Option::None
    } else {
        ::core::option::Option::Some(
            ::pointer_escapes::__private::CallPins::new(
                "inspect",
                |__pe_call: &mut ::pointer_escapes::__private::CallRecorder| {
                    {
                        struct PointeeNotChecked;
                        #[allow(dead_code)]
                        impl PointeeNotChecked {
                            #[deprecated(
                                note = "the referents of `p` cannot be checked in a safe fn (nothing promises the pointer is valid); make the fn `unsafe fn`, or take a reference `&T` / `&[T]`"
                            )]
                            #[inline(always)]
                            fn warn(self) {}
                        }
                        #[allow(unused_imports)]
                        use ::pointer_escapes::__private::{
                            PointeeHasReferents as _, PointeeHoldsNoPointers as _,
                            PointeeUnknown as _,
                        };
                        (&&::pointer_escapes::__private::LintProbe::of(&p))
                            .lint(PointeeNotChecked)
                            .warn();
                    }
                    __pe_call
                        .pointer_without_check(
                            "p",
                            &p,
                            ::pointer_escapes::__private::Extent::One,
                        );
                },
            ),
        )
    };
    { !p.is_null() }
}
/// Pointers C keeps: a retained context taken as a `*const Payload`, and a
/// returned buffer C keeps (checked after the call's own pins are released).
pub unsafe extern "C" fn value_blob(
    ctx: *mut c_void,
    buf: *const u8,
    n: usize,
) -> *const u8 {
    #[allow(unexpected_cfgs)]
    const __POINTER_ESCAPES_UNCHECKED: bool = ::core::cfg!(pointer_escapes_unchecked);
    let __pe_pins = if __POINTER_ESCAPES_UNCHECKED {
        ::core::option::Option::None
    } else {
        ::core::option::Option::Some(
            ::pointer_escapes::__private::CallPins::new(
                "value_blob",
                |__pe_call: &mut ::pointer_escapes::__private::CallRecorder| {
                    {
                        let __pe_extent = ::pointer_escapes::__private::Extent::One;
                        #[allow(unused_imports)]
                        use ::pointer_escapes::__private::{
                            HasReferents as _, NoReferents as _,
                        };
                        let __pe_check = (&::pointer_escapes::__private::Probe::of(
                            &::pointer_escapes::__private::pointee_as::<Payload, _>(&ctx),
                        ))
                            .check_fn();
                        unsafe {
                            __pe_call
                                .pointer(
                                    "ctx",
                                    &::pointer_escapes::__private::pointee_as::<
                                        Payload,
                                        _,
                                    >(&ctx),
                                    __pe_extent,
                                    __pe_check,
                                )
                        };
                        __pe_call
                            .retained(
                                "ctx",
                                &::pointer_escapes::__private::pointee_as::<
                                    Payload,
                                    _,
                                >(&ctx),
                                __pe_extent,
                            );
                    }
                    {
                        let __pe_extent = ::pointer_escapes::__private::Extent::bytes(n);
                        #[allow(unused_imports)]
                        use ::pointer_escapes::__private::{
                            HasReferents as _, NoReferents as _,
                        };
                        let __pe_check = (&::pointer_escapes::__private::Probe::of(&buf))
                            .check_fn();
                        unsafe {
                            __pe_call.pointer("buf", &buf, __pe_extent, __pe_check)
                        };
                        __pe_call.retained("buf", &buf, __pe_extent);
                    }
                },
            ),
        )
    };
    {
        let __pe_returned: *const u8 = (|| -> *const u8 {
            if n == 0 {
                return std::ptr::null();
            }
            buf
        })();
        if !__POINTER_ESCAPES_UNCHECKED {
            ::core::mem::drop(__pe_pins);
            ::pointer_escapes::__private::check_returned(
                "value_blob",
                &__pe_returned,
                ::pointer_escapes::__private::Extent::len(n),
            );
        }
        __pe_returned
    }
}
