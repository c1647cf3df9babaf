//! Real `readv(2)` and `writev(2)` through annotated bindings: the kernel
//! reads and writes the buffers while they are pinned; the bytes are
//! compared with what the file holds. Every test sets `CheckMode::Args`.

use pointer_escapes::{is_pinned, pointer_escapes, set_check_mode, CheckMode, Pinner};
use std::fs::{self, File};
use std::io::IoSliceMut;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

#[pointer_escapes]
unsafe fn writev(
    fd: libc::c_int,
    #[flow_through]
    #[escapes(len = iovcnt)]
    iov: *const libc::iovec,
    iovcnt: libc::c_int,
) -> isize {
    // SAFETY: forwarded from our caller; the buffers are pinned.
    unsafe { libc::writev(fd, iov, iovcnt) }
}

#[pointer_escapes]
unsafe fn readv(
    fd: libc::c_int,
    #[flow_through]
    #[escapes(len = iovcnt)]
    iov: *const libc::iovec,
    iovcnt: libc::c_int,
) -> isize {
    // SAFETY: forwarded from our caller; the buffers are pinned.
    unsafe { libc::readv(fd, iov, iovcnt) }
}

/// The same call with a safe signature: the slice says where the buffers are.
#[pointer_escapes]
fn read_into(fd: libc::c_int, #[flow_through] bufs: &mut [IoSliceMut<'_>]) -> isize {
    let count = libc::c_int::try_from(bufs.len()).expect("few buffers");
    // SAFETY: `IoSliceMut` is ABI-compatible with `iovec` on Unix; the
    // buffers are live and pinned for the call.
    unsafe { libc::readv(fd, bufs.as_ptr().cast(), count) }
}

struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!(
            "pointer-escapes-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn iovec_of(buf: &mut [u8]) -> libc::iovec {
    libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn writev_then_readv_round_trips() {
    set_check_mode(CheckMode::Args);
    let tmp = TempFile::new("iov");
    let mut out = [pattern(100, 1), pattern(4096, 2), pattern(7, 3)];
    let expected: Vec<u8> = out.concat();
    {
        let file = File::create(&tmp.0).expect("create temp file");
        let iov: Vec<libc::iovec> = out.iter_mut().map(|b| iovec_of(b)).collect();
        // SAFETY: three live iovecs.
        let n = unsafe { writev(file.as_raw_fd(), iov.as_ptr(), 3) };
        assert_eq!(n, expected.len() as isize);
        assert!(!is_pinned(iov.as_ptr()) && !is_pinned(out[1].as_ptr()));
    }
    assert_eq!(fs::read(&tmp.0).expect("read back"), expected);

    let file = File::open(&tmp.0).expect("open temp file");
    let mut back = [vec![0u8; 100], vec![0u8; 4096], vec![0u8; 7]];
    let iov: Vec<libc::iovec> = back.iter_mut().map(|b| iovec_of(b)).collect();
    // SAFETY: three live iovecs.
    let n = unsafe { readv(file.as_raw_fd(), iov.as_ptr(), 3) };
    assert_eq!(n, expected.len() as isize);
    assert_eq!(back.concat(), expected);
    assert!(!is_pinned(back[0].as_ptr()));
}

#[test]
fn readv_through_io_slices() {
    set_check_mode(CheckMode::Args);
    let tmp = TempFile::new("ioslice");
    let expected = pattern(300, 9);
    fs::write(&tmp.0, &expected).expect("write temp file");
    let file = File::open(&tmp.0).expect("open temp file");
    let (mut a, mut b) = (vec![0u8; 120], vec![0u8; 180]);
    let mut slices = [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)];
    assert_eq!(read_into(file.as_raw_fd(), &mut slices), 300);
    assert_eq!([a, b].concat(), expected);
}

#[pointer_escapes]
unsafe fn writev_plain(
    fd: libc::c_int,
    #[escapes(len = iovcnt)] iov: *const libc::iovec,
    iovcnt: libc::c_int,
) -> isize {
    // SAFETY: forwarded from our caller.
    unsafe { libc::writev(fd, iov, iovcnt) }
}

#[test]
fn a_plain_pointer_needs_its_buffers_pinned_first() {
    set_check_mode(CheckMode::Args);
    let tmp = TempFile::new("plain");
    let file = File::create(&tmp.0).expect("create temp file");
    let mut bufs = vec![pattern(10, 4), pattern(20, 5)];
    let iov: Vec<libc::iovec> = bufs.iter_mut().map(|b| iovec_of(b)).collect();
    let failed = std::panic::catch_unwind(|| {
        // SAFETY: two live iovecs.
        unsafe { writev_plain(file.as_raw_fd(), iov.as_ptr(), 2) }
    });
    assert!(failed.is_err());
    assert_eq!(fs::read(&tmp.0).expect("read back"), b"", "C never ran");
    let mut pinner = Pinner::new();
    for b in &bufs {
        pinner.pin_slice(b);
    }
    // SAFETY: two live iovecs whose buffers are pinned.
    assert_eq!(
        unsafe { writev_plain(file.as_raw_fd(), iov.as_ptr(), 2) },
        30
    );
    drop(pinner);
    assert_eq!(fs::read(&tmp.0).expect("read back"), bufs.concat());
}
