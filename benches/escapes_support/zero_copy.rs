//! The two ways of reading a file into `Vec<Vec<u8>>` that
//! `readv_zero_copy` compares, 16 iovecs per `readv(2)` call:
//!
//! - zero-copy: readv straight into the `Vec`s through the annotated
//!   binding (`#[flow_through] #[escapes(len = iovcnt)]`, the binding of
//!   `examples/readv.rs`);
//! - copying: the usual way around buffers that cannot be pinned: readv into
//!   `calloc`'d C buffers through the raw import, then copy into the same
//!   `Vec`s.

use super::bindings::{annotated_readv, IoBufs, IOVECS};
use super::readv_file::TmpfsFile;
use std::ffi::c_int;
use std::hint::black_box;

/// `IOVECS` C buffers (`calloc`) and the iovecs describing them.
struct CBufs {
    ptrs: Vec<*mut u8>,
    iov: Vec<libc::iovec>,
}

impl CBufs {
    fn new(len: usize) -> CBufs {
        let ptrs: Vec<*mut u8> = (0..IOVECS)
            .map(|_| {
                // SAFETY: calloc may be called with any size; null is checked.
                let p = unsafe { libc::calloc(1, len.max(1)) }.cast::<u8>();
                assert!(!p.is_null(), "calloc failed");
                p
            })
            .collect();
        let iov = ptrs
            .iter()
            .map(|&p| libc::iovec {
                iov_base: p.cast(),
                iov_len: len,
            })
            .collect();
        CBufs { ptrs, iov }
    }
}

impl Drop for CBufs {
    fn drop(&mut self) {
        for &p in &self.ptrs {
            // SAFETY: each pointer came from calloc and is freed once.
            unsafe { libc::free(p.cast()) };
        }
    }
}

/// A file and the buffers of both methods at one buffer size.
pub struct Reader {
    file: TmpfsFile,
    bufs: IoBufs,
    c: CBufs,
    size: usize,
    want: usize,
}

impl Reader {
    /// 16 `Vec` buffers and 16 C buffers of `size` bytes, and a tmpfs file.
    pub fn new(tag: &str, size: usize) -> std::io::Result<Reader> {
        Ok(Reader {
            file: TmpfsFile::new(tag)?,
            bufs: IoBufs::new(size),
            c: CBufs::new(size),
            size,
            want: size * IOVECS,
        })
    }

    /// Bytes one call asks for.
    pub fn bytes_per_call(&self) -> usize {
        self.want
    }

    /// readv straight into the `Vec`s through the annotated binding.
    #[inline]
    pub fn zero_copy(&self) -> usize {
        // SAFETY: the iovecs describe the live `Vec` buffers of `self.bufs`,
        // which are only written through them while the bench runs.
        let got = unsafe {
            annotated_readv(
                self.file.fd(),
                black_box(self.bufs.iov()),
                self.bufs.count(),
            )
        };
        self.file.after_read(got, self.want)
    }

    /// readv into the C buffers through the raw import, then copy into the
    /// `Vec`s.
    #[inline]
    pub fn copying(&self) -> usize {
        // SAFETY: the iovecs describe the calloc'd buffers of `self.c`.
        let got = unsafe {
            libc::readv(
                self.file.fd(),
                black_box(self.c.iov.as_ptr()),
                IOVECS as c_int,
            )
        };
        let got = self.file.after_read(got, self.want);
        let dst = self.bufs.iov();
        let mut left = got;
        for (i, &src) in self.c.ptrs.iter().enumerate() {
            let k = left.min(self.size);
            // SAFETY: `src` is a C buffer of `size` >= k bytes; entry `i` of
            // the iovecs describes a `Vec` buffer of `size` bytes, written
            // only through it; the two are different allocations.
            unsafe {
                let to = (*dst.add(i)).iov_base.cast::<u8>();
                std::ptr::copy_nonoverlapping(src, to, k);
            }
            left -= k;
        }
        got
    }

    /// Checks that both methods read what the file holds (one call each,
    /// from the start), and rewinds.
    pub fn verify(&mut self) -> Result<(), String> {
        for method in ["zero_copy", "copying"] {
            self.file.rewind();
            for b in self.bufs.bufs_mut() {
                b.fill(0);
            }
            let got = match method {
                "zero_copy" => self.zero_copy(),
                _ => self.copying(),
            };
            if got != self.want {
                return Err(format!("{method}: read {got} bytes, not {}", self.want));
            }
            let read: Vec<u8> = self.bufs.bufs_mut().concat();
            if read != self.file.expected(0, self.want) {
                return Err(format!("{method}: the bytes read differ from the file"));
            }
        }
        self.file.rewind();
        Ok(())
    }
}
