// The attribute on code as real crates write it: parameters and imports
// under #[cfg] / #[cfg_attr], variadic imports, raw imports, one-line bodies.

#[pointer_escapes]
unsafe fn send(
    #[cfg(unix)] fd: *const u8,
    #[cfg_attr(not(unix), cfg(any()))]
    #[escapes(len = 4)]
    buf: *const u8,
) -> usize {
    buf as usize
}

#[pointer_escapes(skip_variadic, raw = pub ffi_raw)]
#[link(name = "c")]
unsafe extern "C" {
    /// abs(3) under the libc crate's per-target name.
    #[cfg_attr(target_os = "linux", link_name = "abs", must_use)]
    fn my_abs(v: c_int) -> c_int;
    fn write(fd: c_int, #[cfg(unix)] #[escapes(len = n)] buf: *const u8, n: usize) -> isize;
    fn open(path: *const c_char, flags: c_int, ...) -> c_int;
}

// Without `raw`: each wrapper holds its import, with the link_name the
// macro adds only where the user's does not apply.
#[pointer_escapes]
unsafe extern "C" {
    #[cfg_attr(target_os = "linux", link_name = "abs")]
    #[deprecated = "use abs"]
    safe fn my_abs(v: c_int) -> c_int;
}
