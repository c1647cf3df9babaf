// `raw = name`: the block's imports as C declared them, for C function
// pointers (a wrapper is a Rust-ABI function and cannot be one).
#![deny(warnings)]

use pointer_escapes::pointer_escapes;
use std::ffi::c_void;

#[pointer_escapes(raw = pub(crate) ffi_raw)]
unsafe extern "C" {
    fn malloc(size: usize) -> *mut c_void;
    fn free(#[escapes(out)] p: *mut c_void);
}

/// Takes a C destructor callback, as C libraries do.
fn set_destructor(d: Option<unsafe extern "C" fn(*mut c_void)>) -> bool {
    d.is_some()
}

fn main() {
    assert_eq!(safe::abs(-2), 2);
    assert_eq!((safe::ABS)(-3), 3);
    assert!(set_destructor(Some(ffi_raw::free)));
    // SAFETY: malloc of a size; free of what it returned.
    unsafe {
        let p = malloc(8);
        assert!(!p.is_null());
        free(p);
    }
}

// A `safe fn` import: the wrapper is a safe fn, and the raw one a safe C
// function pointer.
mod safe {
    use pointer_escapes::pointer_escapes;
    use std::ffi::c_int;

    #[pointer_escapes(raw = pub raw)]
    unsafe extern "C" {
        pub safe fn abs(v: c_int) -> c_int;
    }

    pub const ABS: extern "C" fn(c_int) -> c_int = raw::abs;
}
