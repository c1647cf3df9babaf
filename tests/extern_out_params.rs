//! Out-parameters of real C functions through an annotated extern block
//! (native only: Miri cannot run C). `getline(3)` manages `*lineptr`
//! itself: after the first call it is getline's own `malloc`'d buffer,
//! which no pin covers, so checking it would refuse the second call.
//! `strtol(3)` writes `*endptr` without reading it.

use pointer_escapes::{pointer_escapes, set_check_mode, CheckMode};
use std::ffi::{c_char, c_int, c_long, CStr};
use std::io::Write;
use std::mem::MaybeUninit;

#[pointer_escapes]
unsafe extern "C" {
    fn getline(
        #[escapes(out)] lineptr: *mut *mut c_char,
        #[escapes(out)] n: *mut usize,
        stream: *mut libc::FILE,
    ) -> isize;
    fn strtol(nptr: *const c_char, #[escapes(out)] endptr: *mut *mut c_char, base: c_int)
        -> c_long;
}

#[test]
fn out_parameter_managed_by_c_is_not_refused_on_later_calls() {
    set_check_mode(CheckMode::Args);
    let mut file = tempfile();
    file.1
        .write_all(b"first line\nsecond, longer line\n")
        .expect("write");
    let path = std::ffi::CString::new(file.0.as_os_str().as_encoded_bytes()).expect("no NUL");
    // SAFETY: a valid path and mode.
    let stream = unsafe { libc::fopen(path.as_ptr(), c"r".as_ptr()) };
    assert!(!stream.is_null(), "fopen");
    let mut line: *mut c_char = std::ptr::null_mut();
    let mut cap: usize = 0;
    let mut lines = Vec::new();
    for _ in 0..2 {
        // SAFETY: `line`/`cap` are getline's to manage; `stream` is open.
        let read = unsafe { getline(&mut line, &mut cap, stream) };
        assert!(read > 0, "getline read {read}");
        // SAFETY: getline NUL-terminates what it read.
        lines.push(
            unsafe { CStr::from_ptr(line) }
                .to_str()
                .expect("utf-8")
                .to_owned(),
        );
    }
    assert_eq!(lines, ["first line\n", "second, longer line\n"]);
    // SAFETY: `line` came from getline's malloc; `stream` from fopen.
    unsafe {
        libc::free(line.cast());
        libc::fclose(stream);
    }
    std::fs::remove_file(&file.0).expect("remove");
}

#[test]
fn uninitialised_out_parameter_of_c_is_not_read() {
    set_check_mode(CheckMode::Args);
    let text = c"1234 rest";
    let mut end = MaybeUninit::<*mut c_char>::uninit();
    // SAFETY: a NUL-terminated string and a writable slot.
    let value = unsafe { strtol(text.as_ptr(), end.as_mut_ptr(), 10) };
    assert_eq!(value, 1234);
    // SAFETY: strtol set it, into `text`.
    let rest = unsafe { CStr::from_ptr(end.assume_init()) };
    assert_eq!(rest, c" rest");
}

/// A fresh file under the temp directory, and its writer.
fn tempfile() -> (std::path::PathBuf, std::fs::File) {
    let path = std::env::temp_dir().join(format!(
        "pointer-escapes-getline-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let file = std::fs::File::create(&path).expect("create temp file");
    (path, file)
}
