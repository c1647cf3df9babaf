//! The bindings `build.rs` generated and pointer-escapes-bindgen annotated
//! compile, link and check: zlib's `z_stream` (callback fields, table field
//! options) and `<sys/uio.h>`'s iovec (a `bytes` extent from the table).

use bindgen_readv::{uio, zlib, zlib_checked};
use pointer_escapes::{is_pinned, set_check_mode, CheckMode, Pinner};
use std::ffi::{c_int, c_uint, c_void};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};

const Z_OK: c_int = 0;
const Z_STREAM_END: c_int = 1;
const Z_FINISH: c_int = 4;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn counting_alloc(
    _opaque: *mut c_void,
    items: c_uint,
    size: c_uint,
) -> *mut c_void {
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    // SAFETY: calloc with zlib's counts; zlib checks for null.
    unsafe { libc::calloc(items as usize, size as usize) }
}

unsafe extern "C" fn counting_free(_opaque: *mut c_void, address: *mut c_void) {
    // SAFETY: `address` came from `counting_alloc`.
    unsafe { libc::free(address) }
}

/// A zeroed stream (zlib's documented starting state) with the callbacks
/// set, of either module's `z_stream` (each `include!` has its own).
macro_rules! stream {
    ($module:ident) => {{
        // SAFETY: all-zero is a valid z_stream: null pointers, `None`
        // callbacks, zero counts.
        let mut strm: $module::z_stream = unsafe { std::mem::zeroed() };
        strm.zalloc = Some(counting_alloc);
        strm.zfree = Some(counting_free);
        strm
    }};
}

fn compress(input: &[u8], out: &mut [u8]) -> usize {
    let mut strm = stream!(zlib);
    // SAFETY: a zeroed stream with valid callbacks; zlibVersion returns
    // zlib's static version string.
    let rc = unsafe {
        zlib::deflateInit_(
            &mut strm,
            6,
            zlib::zlibVersion(),
            size_of::<zlib::z_stream>() as c_int,
        )
    };
    assert_eq!(rc, Z_OK);
    strm.next_in = input.as_ptr().cast_mut();
    strm.avail_in = input.len() as c_uint;
    strm.next_out = out.as_mut_ptr();
    strm.avail_out = out.len() as c_uint;
    // SAFETY: the stream points at `avail_in` readable and `avail_out`
    // writable bytes; `flow_through` pins them for the call.
    let rc = unsafe { zlib::deflate(&mut strm, Z_FINISH) };
    assert_eq!(rc, Z_STREAM_END);
    let produced = out.len() - strm.avail_out as usize;
    // deflateEnd's stream is `inout`: checked. Its buffer pointers are
    // stale once the caller's buffers may move; clear them, as the checker
    // would otherwise (rightly) refuse them unpinned.
    strm.next_in = std::ptr::null_mut();
    strm.next_out = std::ptr::null_mut();
    // SAFETY: a stream deflateInit_ set up.
    assert_eq!(unsafe { zlib::deflateEnd(&mut strm) }, Z_OK);
    produced
}

#[test]
fn flow_through_stream_pins_its_buffers_and_callback_fields_pass_the_check() {
    set_check_mode(CheckMode::Args);
    let input: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let mut compressed = vec![0u8; 30_000];
    let n = compress(&input, &mut compressed);
    assert!(n > 0 && n < input.len());
    assert!(
        ALLOCATIONS.load(Ordering::Relaxed) > 0,
        "zlib used the callbacks"
    );
    assert!(!is_pinned(input.as_ptr()) && !is_pinned(compressed.as_ptr()));

    // inflate's stream is `inout`: checked, so the buffers are pinned here.
    let mut output = vec![0u8; input.len()];
    let mut strm = stream!(zlib);
    // SAFETY: as in `compress`.
    let rc = unsafe {
        zlib::inflateInit_(
            &mut strm,
            zlib::zlibVersion(),
            size_of::<zlib::z_stream>() as c_int,
        )
    };
    assert_eq!(rc, Z_OK);
    strm.next_in = compressed.as_mut_ptr();
    strm.avail_in = n as c_uint;
    strm.next_out = output.as_mut_ptr();
    strm.avail_out = output.len() as c_uint;
    let mut pinner = Pinner::new();
    pinner.pin_slice(&compressed[..n]);
    pinner.pin_slice(&output[..]);
    // SAFETY: the stream points at pinned, live buffers of the counts given.
    assert_eq!(unsafe { zlib::inflate(&mut strm, Z_FINISH) }, Z_STREAM_END);
    // SAFETY: a stream inflateInit_ set up.
    assert_eq!(unsafe { zlib::inflateEnd(&mut strm) }, Z_OK);
    drop(pinner);
    assert_eq!(output, input);
}

/// Runs `f`, expecting the checker to refuse the call; returns its message.
fn refusal(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(f).expect_err("the checker let the call through");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn an_inout_stream_must_point_only_to_pinned_buffers() {
    set_check_mode(CheckMode::Args);
    let input = vec![3u8; 4096];
    let mut out = vec![0u8; 8192];
    let mut strm = stream!(zlib_checked);
    // SAFETY: as in `compress`.
    let rc = unsafe {
        zlib_checked::deflateInit_(
            &mut strm,
            6,
            zlib_checked::zlibVersion(),
            size_of::<zlib_checked::z_stream>() as c_int,
        )
    };
    assert_eq!(rc, Z_OK);
    strm.next_in = input.as_ptr().cast_mut();
    strm.avail_in = input.len() as c_uint;
    strm.next_out = out.as_mut_ptr();
    strm.avail_out = out.len() as c_uint;
    let strm_ptr: *mut zlib_checked::z_stream = &mut strm;
    let message = refusal(move || {
        // SAFETY: the stream points at live buffers (nobody pinned them:
        // the checker refuses before zlib runs).
        unsafe { zlib_checked::deflate(strm_ptr, Z_FINISH) };
    });
    assert!(
        message.contains("`deflate`: argument `strm`") && message.contains("next_in"),
        "{message}"
    );

    let mut pinner = Pinner::new();
    pinner.pin_slice(&input[..]);
    pinner.pin_slice(&out[..]);
    // SAFETY: as above, and now pinned.
    assert_eq!(
        unsafe { zlib_checked::deflate(&mut strm, Z_FINISH) },
        Z_STREAM_END
    );
    // SAFETY: a stream deflateInit_ set up.
    assert_eq!(unsafe { zlib_checked::deflateEnd(&mut strm) }, Z_OK);
}

#[test]
fn a_pin_must_cover_each_iovec_buffers_whole_extent() {
    set_check_mode(CheckMode::Args);
    let file = std::fs::File::open("/dev/zero").unwrap();
    let mut bufs = vec![vec![1u8; 32]; 2];
    let iov: Vec<uio::iovec> = bufs
        .iter_mut()
        .map(|b| uio::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    let fd = file.as_raw_fd();
    let message = {
        // Only the first half of the first buffer: `bytes = self.iov_len`
        // makes the check ask for all 32 bytes.
        let mut pinner = Pinner::new();
        pinner.pin_slice(&bufs[0][..16]);
        pinner.pin_slice(&bufs[1][..]);
        let iov_ptr = iov.as_ptr() as usize;
        refusal(move || {
            // SAFETY: two live, writable buffers (not wholly pinned).
            unsafe { uio::preadv(fd, iov_ptr as *const uio::iovec, 2, 0) };
        })
    };
    assert!(
        message.contains("`__iovec[0].iov_base`") && message.contains("32 bytes"),
        "{message}"
    );
    assert_eq!(bufs[0], [1u8; 32], "refused before the read");

    let mut pinner = Pinner::new();
    pinner.pin_slice(&bufs[0][..]);
    pinner.pin_slice(&bufs[1][..]);
    // SAFETY: as above, wholly pinned.
    assert_eq!(unsafe { uio::preadv(fd, iov.as_ptr(), 2, 0) }, 64);
    drop(pinner);
    assert!(bufs.iter().all(|b| b.iter().all(|&x| x == 0)));
}

/// The rule: a block bindgen merged with variadic imports still builds
/// (`skip_variadic`), the variadic imports are callable unwrapped, and the
/// other imports of the same block are still wrapped (they pin their
/// pointer arguments for the call).
#[test]
fn a_block_with_variadic_imports_builds_and_still_wraps_the_others() {
    use bindgen_readv::fcntl;
    let dir = std::env::temp_dir().join(format!("bindgen-readv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = std::ffi::CString::new(dir.join("f").into_os_string().into_encoded_bytes())
        .expect("no NUL in the path");
    // `creat` is wrapped (a Rust-ABI fn: its path is pinned for the call),
    // `open` and `fcntl` are the raw variadic imports (C-ABI, variadic):
    // each coercion below compiles only for that shape.
    let _wrapped: unsafe fn(*const std::ffi::c_char, libc::mode_t) -> c_int = fcntl::creat;
    let _raw: unsafe extern "C" fn(*const std::ffi::c_char, c_int, ...) -> c_int = fcntl::open;
    // SAFETY: `path` is a NUL-terminated string that outlives the calls.
    let created = unsafe { fcntl::creat(path.as_ptr(), 0o600) };
    assert!(created >= 0, "creat failed");
    // SAFETY: as above; `O_RDONLY` takes no mode argument.
    let fd = unsafe { fcntl::open(path.as_ptr(), libc::O_RDONLY) };
    assert!(fd >= 0, "open failed");
    // SAFETY: `fd` is open; F_GETFD takes no argument.
    let flags = unsafe { fcntl::fcntl(fd, libc::F_GETFD) };
    assert!(flags >= 0, "fcntl failed");
    // SAFETY: both descriptors are open and closed once.
    unsafe {
        libc::close(fd);
        libc::close(created);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
