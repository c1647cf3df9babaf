// Both spellings of an extern block: `extern "C"` (2021) and
// `unsafe extern "C"` (2024, accepted since Rust 1.82); visibility, docs
// and #[cfg] carry over to the wrapper.
#![deny(warnings)]

mod c {
    use pointer_escapes::pointer_escapes;
    use std::ffi::{c_char, c_int};

    #[pointer_escapes]
    extern "C" {
        /// `strlen(3)`.
        pub fn strlen(s: *const c_char) -> usize;
    }

    #[pointer_escapes]
    unsafe extern "C" {
        /// `abs(3)`.
        pub fn abs(v: c_int) -> c_int;
        #[cfg(any())]
        pub fn never_compiled(v: c_int) -> c_int;
        pub unsafe fn labs(v: std::ffi::c_long) -> std::ffi::c_long;
    }
}

fn main() {
    // SAFETY: a NUL-terminated literal; `abs` and `labs` have no
    // preconditions.
    unsafe {
        assert_eq!(c::strlen(c"four".as_ptr()), 4);
        assert_eq!(c::abs(-3), 3);
        assert_eq!(c::labs(-4), 4);
    }
}
