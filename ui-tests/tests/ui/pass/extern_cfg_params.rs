// Parameters under #[cfg] / #[cfg_attr(.., cfg(..))], removed or kept, in
// both forms: every place the expansion names a parameter (its pin, its
// check, the call to the import) goes away with it.
#![deny(warnings)]

use pointer_escapes::pointer_escapes;
use std::ffi::{c_char, c_int};

#[pointer_escapes]
unsafe extern "C" {
    fn strlen(
        #[cfg(unix)]
        #[escapes(bytes = 1)]
        s: *const c_char,
        #[cfg(any())]
        #[flow_through]
        gone: *const *const c_char,
    ) -> usize;
    safe fn abs(
        #[cfg_attr(unix, cfg(any()))] gone: *const u8,
        #[cfg_attr(not(unix), cfg(any()))] v: c_int,
    ) -> c_int;
}

#[pointer_escapes]
unsafe fn both(
    #[cfg(unix)]
    #[escapes(len = 2)]
    kept: *const u8,
    #[cfg(any())]
    #[flow_through]
    gone: &[u8],
    #[cfg_attr(unix, cfg(any()))]
    #[escapes(len = 1)]
    _gone_too: *const u8,
    // A pointer bound by a pattern is rebound under its cfg too.
    #[cfg(any())] _: *const u8,
    #[cfg(unix)] ref also_kept: *const u8,
) -> usize {
    kept as usize + *also_kept as usize
}

#[pointer_escapes(unchecked)]
unsafe fn unchecked(#[cfg(any())] #[escapes(len = n)] gone: *const u8, n: usize) -> usize {
    n
}

fn main() {
    // SAFETY: a NUL-terminated string.
    assert_eq!(unsafe { strlen(c"four".as_ptr()) }, 4);
    assert_eq!(abs(-3), 3);
    let two = [1u8, 2];
    // SAFETY: `two` holds two bytes.
    assert_eq!(
        unsafe { both(two.as_ptr(), two.as_ptr()) },
        2 * two.as_ptr() as usize
    );
    // SAFETY: nothing is read.
    assert_eq!(unsafe { unchecked(4) }, 4);
}
