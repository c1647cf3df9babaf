// The libc crate's idiom for per-target symbols: a link_name under
// cfg_attr stays on the import (where the linker reads it); docs and
// must_use under cfg_attr go on the wrapper.
#![deny(warnings)]

use pointer_escapes::pointer_escapes;
use std::ffi::{c_int, c_long};

#[pointer_escapes]
unsafe extern "C" {
    /// abs(3), bound under another name on Linux.
    #[cfg_attr(target_os = "linux", link_name = "abs", must_use)]
    safe fn my_abs(v: c_int) -> c_int;
    #[cfg_attr(not(target_os = "linux"), link_name = "no_such_symbol")]
    safe fn labs(v: c_long) -> c_long;
    #[cfg(any())]
    fn no_such_function(v: c_int) -> c_int;
}

fn main() {
    assert_eq!(my_abs(-5), 5);
    assert_eq!(labs(-6), 6);
}
