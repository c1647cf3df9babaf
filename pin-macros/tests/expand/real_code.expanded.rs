unsafe fn send(
    #[cfg(unix)]
    fd: *const u8,
    #[cfg_attr(not(unix), cfg(any()))]
    buf: *const u8,
) -> usize {
    #[allow(unexpected_cfgs)]
    const __POINTER_ESCAPES_UNCHECKED: bool = ::core::cfg!(pointer_escapes_unchecked);
    let __pe_pins = if __POINTER_ESCAPES_UNCHECKED {
        ::core::option::Option::None
    } else {
        ::core::option::Option::Some(
            ::pointer_escapes::__private::CallPins::new(
                "send",
                |__pe_call: &mut ::pointer_escapes::__private::CallRecorder| {
                    #[cfg(unix)]
                    {
                        {
                            #[allow(unused_imports)]
                            use ::pointer_escapes::__private::{
                                HasReferents as _, NoReferents as _,
                            };
                            let __pe_check = (&::pointer_escapes::__private::Probe::of(
                                &fd,
                            ))
                                .check_fn();
                            unsafe {
                                __pe_call
                                    .pointer(
                                        "fd",
                                        &fd,
                                        ::pointer_escapes::__private::Extent::One,
                                        __pe_check,
                                    )
                            };
                        }
                    }
                    #[cfg_attr(not(unix), cfg(any()))]
                    {
                        {
                            #[allow(unused_imports)]
                            use ::pointer_escapes::__private::{
                                HasReferents as _, NoReferents as _,
                            };
                            let __pe_check = (&::pointer_escapes::__private::Probe::of(
                                &buf,
                            ))
                                .check_fn();
                            unsafe {
                                __pe_call
                                    .pointer(
                                        "buf",
                                        &buf,
                                        ::pointer_escapes::__private::Extent::len(4),
                                        __pe_check,
                                    )
                            };
                        }
                    }
                },
            ),
        )
    };
    { buf as usize }
}
/// abs(3) under the libc crate's per-target name.
#[cfg_attr(target_os = "linux", must_use)]
#[track_caller]
#[allow(non_snake_case, clippy::missing_safety_doc)]
unsafe fn my_abs(v: c_int) -> c_int {
    unsafe { ffi_raw::my_abs(v) }
}
#[track_caller]
#[allow(non_snake_case, clippy::missing_safety_doc)]
unsafe fn write(fd: c_int, #[cfg(unix)] buf: *const u8, n: usize) -> isize {
    #[allow(unexpected_cfgs)]
    const __POINTER_ESCAPES_UNCHECKED: bool = ::core::cfg!(pointer_escapes_unchecked);
    let __pe_pins = if __POINTER_ESCAPES_UNCHECKED {
        ::core::option::Option::None
    } else {
        ::core::option::Option::Some(
            ::pointer_escapes::__private::CallPins::new(
                "write",
                |__pe_call: &mut ::pointer_escapes::__private::CallRecorder| {
                    #[cfg(unix)]
                    {
                        {
                            #[allow(unused_imports)]
                            use ::pointer_escapes::__private::{
                                HasReferents as _, NoReferents as _,
                            };
                            let __pe_check = (&::pointer_escapes::__private::Probe::of(
                                &buf,
                            ))
                                .check_fn();
                            unsafe {
                                __pe_call
                                    .pointer(
                                        "buf",
                                        &buf,
                                        ::pointer_escapes::__private::Extent::len(n),
                                        __pe_check,
                                    )
                            };
                        }
                    }
                },
            ),
        )
    };
    #[cfg(not(unix))]
    let __pe_result = unsafe { ffi_raw::write(fd, n) };
    #[cfg(unix)]
    let __pe_result = unsafe { ffi_raw::write(fd, buf, n) };
    __pe_result
}
#[link(name = "c")]
unsafe extern "C" {
    fn open(path: *const c_char, flags: c_int, ...) -> c_int;
}
///The raw C-ABI imports of an extern block under `#[pointer_escapes]`: no pins, no checks. For C function pointers (`Some(raw::free)` as a destructor callback); call the wrappers of the same names instead.
pub mod ffi_raw {
    #[allow(unused_imports)]
    use super::*;
    #[link(name = "c")]
    unsafe extern "C" {
        #[cfg_attr(target_os = "linux", link_name = "abs")]
        ///The raw import of `my_abs`: C's ABI, no pins or checks.
        pub fn my_abs(v: c_int) -> c_int;
        ///The raw import of `write`: C's ABI, no pins or checks.
        pub fn write(fd: c_int, #[cfg(unix)] buf: *const u8, n: usize) -> isize;
        ///The raw import of `open`: C's ABI, no pins or checks.
        pub fn open(path: *const c_char, flags: c_int, ...) -> c_int;
    }
}
#[deprecated = "use abs"]
#[track_caller]
#[allow(non_snake_case, clippy::missing_safety_doc)]
fn my_abs(v: c_int) -> c_int {
    unsafe extern "C" {
        #[cfg_attr(target_os = "linux", link_name = "abs")]
        #[cfg_attr(not(target_os = "linux"), link_name = "my_abs")]
        fn my_abs(v: c_int) -> c_int;
    }
    unsafe { my_abs(v) }
}
