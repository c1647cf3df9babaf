// `#[escapes(out)]` and `#[escapes(inout)]` on every raw-pointer shape, with
// and without an extent, in both forms: no warning.
#![deny(warnings, unsafe_op_in_unsafe_fn)]

use pointer_escapes::{is_pinned, pointer_escapes, set_check_mode, CheckMode};
use std::ffi::{c_char, c_int, c_long};
use std::mem::MaybeUninit;
use std::ptr::NonNull;

type Slot = *mut *const u8;

#[pointer_escapes]
unsafe fn shapes(
    #[escapes(out)] a: *mut *const u8,
    #[escapes(out, len = n)] b: *mut *const u8,
    #[escapes(bytes = 16, out)] c: NonNull<*const u8>,
    #[escapes(out)] d: Option<NonNull<*const u8>>,
    #[escapes(out)] e: Option<*mut *const u8>,
    #[escapes(out)] f: Slot,
    #[escapes(inout)] g: *mut *const u8,
    #[escapes(inout, len = n)] h: *const *const u8,
    #[flow_through] #[escapes(inout)] i: *mut *const u8,
    n: usize,
) -> bool {
    is_pinned(a) && is_pinned(b) && is_pinned(c.as_ptr()) && d.is_some() && e.is_some() && is_pinned(f)
        && is_pinned(g) && is_pinned(h) && is_pinned(i)
}

#[pointer_escapes]
fn safe_out(#[escapes(out)] out: *mut *const u8) -> bool {
    is_pinned(out)
}

#[pointer_escapes]
unsafe extern "C" {
    fn strtol(nptr: *const c_char, #[escapes(out)] endptr: *mut *mut c_char, base: c_int) -> c_long;
    fn getline(
        #[escapes(out)] lineptr: *mut *mut c_char,
        #[escapes(out)] n: *mut usize,
        stream: *mut libc::FILE,
    ) -> isize;
}

fn main() {
    set_check_mode(CheckMode::Args);
    static BYTE: u8 = 1;
    let mut slots = [MaybeUninit::<*const u8>::uninit(); 2];
    let p = slots[0].as_mut_ptr();
    let nn = NonNull::new(p).unwrap();
    let mut init: [*const u8; 2] = [&BYTE, &BYTE];
    let q = init.as_mut_ptr();
    // SAFETY: writable slots; `init` holds two pointers to a static.
    assert!(unsafe { shapes(p, p, nn, Some(nn), Some(p), p, q, q, q, 2) });
    assert!(safe_out(p));
    let mut end = MaybeUninit::<*mut c_char>::uninit();
    // SAFETY: a NUL-terminated string and a writable slot.
    assert_eq!(unsafe { strtol(c"12".as_ptr(), end.as_mut_ptr(), 10) }, 12);
    let _ = getline;
}
