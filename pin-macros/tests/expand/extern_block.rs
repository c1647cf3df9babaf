// Input of the expansion snapshot test (see src/escapes/snapshot.rs).

#[pointer_escapes]
#[link(name = "c")]
unsafe extern "C" {
    /// Gathers `iovcnt` buffers into `fd`.
    pub fn writev(
        fd: c_int,
        #[flow_through]
        #[escapes(len = iovcnt)]
        iov: *const libc::iovec,
        iovcnt: c_int,
    ) -> isize;
    #[link_name = "qsort"]
    fn sort(
        #[escapes(bytes = nmemb * size)] base: *mut c_void,
        nmemb: usize,
        size: usize,
        compar: Option<unsafe extern "C" fn(*const c_void, *const c_void) -> c_int>,
    );
    pub safe fn getpid() -> c_int;
    static environ: *const *const c_char;
}

#[pointer_escapes]
unsafe extern "C" {
    fn getline(
        #[escapes(out)] lineptr: *mut *mut c_char,
        #[escapes(out)] n: *mut usize,
        stream: *mut libc::FILE,
    ) -> isize;
    fn strtol(nptr: *const c_char, endptr: *mut *mut c_char, base: c_int) -> c_long;
}

#[pointer_escapes]
unsafe extern "C" {
    fn set_callback(h: *mut Handle, #[escapes(retained, pointee = Ctx)] user_data: *mut c_void);
}
