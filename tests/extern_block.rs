//! `#[pointer_escapes]` on extern blocks: every call into C through the
//! block pins and checks its arguments, as every cgo call does. Real libc
//! functions (`qsort`, `writev`, `getpid`, `strlen`) are bound here.
//! Every test sets `CheckMode::Args` (the binary's only mode).

use pointer_escapes::{is_pinned, set_check_mode, CheckMode};
use std::ffi::{c_int, c_void};
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

fn checked() {
    set_check_mode(CheckMode::Args);
}

mod sort {
    use pointer_escapes::pointer_escapes;
    use std::ffi::{c_int, c_void};

    #[pointer_escapes]
    unsafe extern "C" {
        /// C's `qsort`: the array is pinned for the whole sort.
        pub fn qsort(
            #[escapes(bytes = nmemb * size)] base: *mut c_void,
            nmemb: usize,
            size: usize,
            compar: Option<unsafe extern "C" fn(*const c_void, *const c_void) -> c_int>,
        );
    }
}

static COMPARISONS: AtomicUsize = AtomicUsize::new(0);
static ALL_PINNED: AtomicBool = AtomicBool::new(true);

unsafe extern "C" fn compare(a: *const c_void, b: *const c_void) -> c_int {
    COMPARISONS.fetch_add(1, Ordering::SeqCst);
    if !(is_pinned(a) && is_pinned(b)) {
        ALL_PINNED.store(false, Ordering::SeqCst);
    }
    // SAFETY: qsort passes pointers to two elements of the u32 array.
    let (a, b) = unsafe { (*a.cast::<u32>(), *b.cast::<u32>()) };
    a.cmp(&b) as c_int
}

#[test]
fn qsort_sees_pinned_elements_and_nothing_stays_pinned() {
    checked();
    let mut values: Vec<u32> = (0..500u32)
        .map(|i| i.wrapping_mul(2_654_435_761) % 1000)
        .collect();
    let mut expected = values.clone();
    expected.sort_unstable();
    // SAFETY: `values` holds `len` u32s; `compare` reads two of them.
    unsafe {
        sort::qsort(
            values.as_mut_ptr().cast(),
            values.len(),
            std::mem::size_of::<u32>(),
            Some(compare),
        )
    };
    assert_eq!(values, expected);
    assert!(COMPARISONS.load(Ordering::SeqCst) > 0);
    assert!(
        ALL_PINNED.load(Ordering::SeqCst),
        "the comparator saw unpinned elements"
    );
    assert!(!is_pinned(values.as_ptr()) && !is_pinned(values.last().unwrap()));
}

/// `writev` declared without #[flow_through]: its iovec array is pinned and
/// its buffers are checked.
mod plain {
    use pointer_escapes::pointer_escapes;
    use std::ffi::c_int;

    #[pointer_escapes]
    extern "C" {
        pub fn writev(
            fd: c_int,
            #[escapes(len = iovcnt)] iov: *const libc::iovec,
            iovcnt: c_int,
        ) -> isize;
    }
}

/// `writev` declared with #[flow_through]: the buffers are pinned too.
mod flowing {
    use pointer_escapes::pointer_escapes;
    use std::ffi::c_int;

    #[pointer_escapes]
    unsafe extern "C" {
        pub fn writev(
            fd: c_int,
            #[flow_through]
            #[escapes(len = iovcnt)]
            iov: *const libc::iovec,
            iovcnt: c_int,
        ) -> isize;
    }
}

struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str) -> TempFile {
        TempFile(std::env::temp_dir().join(format!(
            "pointer-escapes-extern-{tag}-{}",
            std::process::id()
        )))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn iovecs(bufs: &mut [Vec<u8>]) -> Vec<libc::iovec> {
    bufs.iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect()
}

#[test]
fn writev_without_flow_through_panics_before_c_runs() {
    checked();
    let tmp = TempFile::new("plain");
    let file = File::create(&tmp.0).expect("create temp file");
    let mut bufs = vec![b"hello, ".to_vec(), b"world".to_vec()];
    let iov = iovecs(&mut bufs);
    let payload = std::panic::catch_unwind(|| {
        // SAFETY: two live iovecs.
        unsafe { plain::writev(file.as_raw_fd(), iov.as_ptr(), 2) }
    })
    .expect_err("unpinned buffers are refused");
    let msg = payload
        .downcast_ref::<String>()
        .expect("a formatted message");
    assert!(msg.contains("`writev`: argument `iov`"), "{msg}");
    assert!(msg.contains("element 0"), "{msg}");
    assert!(
        msg.contains(&format!("{:#x}", bufs[0].as_ptr() as usize)),
        "{msg}"
    );
    assert!(msg.contains("7 bytes"), "{msg}");
    assert_eq!(
        fs::read(&tmp.0).expect("read back"),
        b"",
        "C must not have run"
    );
    assert!(!is_pinned(iov.as_ptr()));
}

#[test]
fn writev_with_flow_through_writes_the_bytes() {
    checked();
    let tmp = TempFile::new("flowing");
    let file = File::create(&tmp.0).expect("create temp file");
    let mut bufs = vec![b"hello, ".to_vec(), b"world".to_vec()];
    let iov = iovecs(&mut bufs);
    // SAFETY: two live iovecs.
    let n = unsafe { flowing::writev(file.as_raw_fd(), iov.as_ptr(), 2) };
    assert_eq!(n, 12);
    assert_eq!(fs::read(&tmp.0).expect("read back"), b"hello, world");
    assert!(!is_pinned(iov.as_ptr()) && !is_pinned(bufs[0].as_ptr()));
}

mod misc {
    use pointer_escapes::{is_pinned, pointer_escapes};
    use std::ffi::{c_char, c_int};

    #[pointer_escapes]
    unsafe extern "C" {
        /// `getpid(2)`, declared safe: the wrapper is a safe `fn`.
        pub safe fn getpid() -> c_int;

        /// `strlen` under another name; the pin covers the first byte.
        #[link_name = "strlen"]
        pub fn c_strlen(s: *const c_char) -> usize;

        /// Statics pass through untouched.
        pub static environ: *const *const c_char;
    }

    /// A parameter named like its function: the wrapper still calls C.
    #[pointer_escapes]
    extern "C" {
        pub fn abs(abs: c_int) -> c_int;
    }

    pub fn pinned_now(p: *const c_char) -> bool {
        is_pinned(p)
    }
}

#[test]
fn safe_fns_link_names_statics_and_shadowing_parameters() {
    checked();
    assert_eq!(misc::getpid() as u32, std::process::id());
    let s = std::ffi::CString::new("twelve bytes").expect("no NUL");
    // SAFETY: a NUL-terminated string.
    assert_eq!(unsafe { misc::c_strlen(s.as_ptr()) }, 12);
    assert!(!misc::pinned_now(s.as_ptr()));
    // SAFETY: reading a pointer-sized static that libc initialises.
    assert!(!unsafe { misc::environ }.is_null());
    // SAFETY: `abs` has no preconditions.
    assert_eq!(unsafe { misc::abs(-5) }, 5);
}
