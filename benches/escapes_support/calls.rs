//! The overhead calls of `escapes_call` and the callgrind driver, with the
//! memory their pointers point at, behind one safe method: `Calls` owns the
//! byte, the buffers and the file, so every pointer it passes is valid for
//! as long as it lives.

use super::bindings::{self as b, IoBufs, IOVECS};
use super::readv_file::TmpfsFile;
use pointer_escapes::Pinner;
use std::hint::black_box;

/// Buffer size of the readv-shaped calls: small, so the call's own work (and
/// the system call's copy) stays small next to the overhead measured.
pub const READV_BUF: usize = 64;

/// Which side of a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Written by hand (or the raw import).
    Baseline,
    /// Through `#[pointer_escapes]`.
    Ours,
}

/// Which call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `pe_bench_touch(p, 1)` through a wrapper function.
    Touch,
    /// `pe_bench_touch(p, 1)` through an extern block.
    ExternTouch,
    /// The fake readv, 16 iovecs, `#[flow_through]` wrapper function.
    FakeReadv,
    /// The fake readv, 16 iovecs, `#[flow_through]` in an extern block.
    ExternFakeReadv,
    /// The fake readv, 16 iovecs, array-only wrapper function (needs
    /// [`Calls::pin_buffers`] in checked mode).
    FakeReadvArrayOnly,
    /// zlib's `adler32` of 16 bytes through an extern block.
    Adler32,
    /// The real readv of a tmpfs file, `#[flow_through]` wrapper function.
    Readv,
    /// The real readv, array-only wrapper function (needs
    /// [`Calls::pin_buffers`] in checked mode).
    ReadvArrayOnly,
}

/// Everything the calls point at.
pub struct Calls {
    /// Declared first, so it is dropped (unpinning) before the buffers.
    pinner: Pinner<'static>,
    /// One byte, written only through `byte_ptr`.
    byte: Vec<u8>,
    byte_ptr: *mut u8,
    bufs: IoBufs,
    data: [u8; 16],
    file: TmpfsFile,
}

impl Calls {
    /// The byte, 16 buffers of [`READV_BUF`] bytes, and a tmpfs file.
    pub fn new(tag: &str) -> std::io::Result<Calls> {
        let mut byte = vec![0u8; 1];
        let byte_ptr = byte.as_mut_ptr();
        Ok(Calls {
            pinner: Pinner::new(),
            byte,
            byte_ptr,
            bufs: IoBufs::new(READV_BUF),
            data: [0x5a; 16],
            file: TmpfsFile::new(tag)?,
        })
    }

    /// Pins the 16 buffers with a `Pinner`, as a caller of the array-only
    /// bindings does before its loop.
    pub fn pin_buffers(&mut self) {
        let iov = self.bufs.iov();
        for i in 0..IOVECS {
            // SAFETY: `iov` holds IOVECS entries describing the buffers of
            // `self.bufs`, which outlive the pinner: it is unpinned by
            // `unpin_buffers` or dropped before them (field order).
            unsafe {
                let v = *iov.add(i);
                self.pinner.pin_raw(v.iov_base.cast::<u8>(), v.iov_len);
            }
        }
    }

    /// Releases what [`pin_buffers`](Calls::pin_buffers) pinned.
    pub fn unpin_buffers(&mut self) {
        self.pinner.unpin();
    }

    /// One call. Inlined, so that with constant arguments the closure
    /// around it is just the call.
    #[inline(always)]
    pub fn call(&self, call: Call, side: Side) -> usize {
        // Arguments through `black_box`, so the calls cannot be folded.
        let p = || black_box(self.byte_ptr);
        let iov = || black_box(self.bufs.iov());
        let n = self.bufs.count();
        let fd = self.file.fd();
        let want = READV_BUF * IOVECS;
        // SAFETY: `p()` points at `self.byte` (one writable byte, written
        // only through this pointer), `iov()` at the IOVECS iovecs of
        // `self.bufs` (writable buffers, written only through them), `data`
        // is 16 readable bytes and `fd` is open for reading: all owned by
        // `self`, so valid for the call. The array-only bindings check, in
        // checked mode, that `pin_buffers` was called.
        unsafe {
            match (call, side) {
                (Call::Touch, Side::Baseline) => b::hand_touch(p(), 1),
                (Call::Touch, Side::Ours) => b::annotated_touch(p(), 1),
                (Call::ExternTouch, Side::Baseline) => b::call_raw_touch(p(), 1),
                (Call::ExternTouch, Side::Ours) => b::call_annotated_touch(p(), 1),
                (Call::FakeReadv | Call::FakeReadvArrayOnly, Side::Baseline) => {
                    b::hand_fake_readv(0, iov(), n) as usize
                }
                (Call::FakeReadv, Side::Ours) => b::annotated_fake_readv(0, iov(), n) as usize,
                (Call::FakeReadvArrayOnly, Side::Ours) => {
                    b::annotated_fake_readv_array_only(0, iov(), n) as usize
                }
                (Call::ExternFakeReadv, Side::Baseline) => {
                    b::call_raw_fake_readv(0, iov(), n) as usize
                }
                (Call::ExternFakeReadv, Side::Ours) => {
                    b::call_annotated_fake_readv(0, iov(), n) as usize
                }
                (Call::Adler32, side) => {
                    let (d, len) = (black_box(self.data.as_ptr()), b::c_len(&self.data));
                    (match side {
                        Side::Baseline => b::call_raw_adler32(1, d, len),
                        Side::Ours => b::call_annotated_adler32(1, d, len),
                    }) as usize
                }
                (Call::Readv | Call::ReadvArrayOnly, Side::Baseline) => {
                    self.file.after_read(b::hand_readv(fd, iov(), n), want)
                }
                (Call::Readv, Side::Ours) => {
                    self.file.after_read(b::annotated_readv(fd, iov(), n), want)
                }
                (Call::ReadvArrayOnly, Side::Ours) => self
                    .file
                    .after_read(b::annotated_readv_array_only(fd, iov(), n), want),
            }
        }
    }
}
