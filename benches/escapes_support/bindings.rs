//! Every measured call, twice: written by hand and through
//! `#[pointer_escapes]`. Both sides of a pair call the same function with the
//! same arguments, so the difference between them is what the attribute
//! adds.
//!
//! The wrappers and callers are `#[inline(never)]` so that each is one
//! symbol of its own: callgrind attributes instructions to it, and
//! `scripts/disasm-call.sh` compares their machine code (with the cargo
//! `--cfg pointer_escapes_unchecked`, each annotated function must be the hand-written
//! one, instruction for instruction).

use pointer_escapes::pointer_escapes;
use std::ffi::{c_int, c_uint, c_ulong};

/// iovecs per readv-shaped call, as in the target.
pub const IOVECS: usize = 16;

// ------------------------------------------------------------------ fake C

/// A stand-in for a cheap C function taking a pointer: writes one byte at
/// `p` and returns `n`. `extern "C"`, not inlined, and exported under a
/// fixed name so an extern block can import it like any C symbol.
///
/// # Safety
/// `p` is null or points at one writable byte.
#[no_mangle]
#[inline(never)]
pub unsafe extern "C" fn pe_bench_touch(p: *mut u8, n: usize) -> usize {
    if !p.is_null() {
        // SAFETY: the caller's promise.
        unsafe { p.write_volatile(n as u8) };
    }
    n
}

/// A stand-in for `readv(2)` that does what the kernel does to the
/// arguments without a system call: follows every iovec and writes the
/// first byte of each buffer. Returns the bytes the iovecs describe.
///
/// # Safety
/// `iov` points at `iovcnt` iovecs, each describing writable memory.
#[no_mangle]
#[inline(never)]
pub unsafe extern "C" fn pe_bench_fake_readv(
    fd: c_int,
    iov: *const libc::iovec,
    iovcnt: c_int,
) -> isize {
    let mut total = 0usize;
    for i in 0..iovcnt.max(0) as usize {
        // SAFETY: the caller promises `iovcnt` valid iovecs.
        let v = unsafe { *iov.add(i) };
        if v.iov_len > 0 {
            // SAFETY: each iovec describes at least `iov_len` writable bytes.
            unsafe { v.iov_base.cast::<u8>().write_volatile(fd as u8) };
        }
        total += v.iov_len;
    }
    total as isize
}

// ------------------------------------------------- wrapper functions: hand

/// `touch` by hand: the call and nothing else.
///
/// # Safety
/// As for [`pe_bench_touch`].
#[inline(never)]
pub unsafe fn hand_touch(p: *mut u8, n: usize) -> usize {
    // SAFETY: the caller's promise.
    unsafe { pe_bench_touch(p, n) }
}

/// The fake readv by hand.
///
/// # Safety
/// As for [`pe_bench_fake_readv`].
#[inline(never)]
pub unsafe fn hand_fake_readv(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> isize {
    // SAFETY: the caller's promise.
    unsafe { pe_bench_fake_readv(fd, iov, iovcnt) }
}

/// The real readv by hand.
///
/// # Safety
/// As for `readv(2)`: `iovcnt` iovecs describing writable memory.
#[inline(never)]
pub unsafe fn hand_readv(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> isize {
    // SAFETY: the caller's promise.
    unsafe { libc::readv(fd, iov, iovcnt) }
}

// -------------------------------------------- wrapper functions: annotated

/// `touch` through the attribute: pins `n` bytes at `p` for the call.
///
/// # Safety
/// As for [`pe_bench_touch`].
#[pointer_escapes]
#[inline(never)]
pub unsafe fn annotated_touch(#[escapes(len = n)] p: *mut u8, n: usize) -> usize {
    // SAFETY: the caller's promise.
    unsafe { pe_bench_touch(p, n) }
}

/// The fake readv through the attribute, `#[flow_through]`: pins the array
/// and the buffer of each entry.
///
/// # Safety
/// As for [`pe_bench_fake_readv`].
#[pointer_escapes]
#[inline(never)]
pub unsafe fn annotated_fake_readv(
    fd: c_int,
    #[flow_through]
    #[escapes(len = iovcnt)]
    iov: *const libc::iovec,
    iovcnt: c_int,
) -> isize {
    // SAFETY: the caller's promise.
    unsafe { pe_bench_fake_readv(fd, iov, iovcnt) }
}

/// The fake readv through the attribute without `#[flow_through]`: pins the
/// array and, in checked mode, checks that each entry's buffer is pinned.
///
/// # Safety
/// As for [`pe_bench_fake_readv`].
#[pointer_escapes]
#[inline(never)]
pub unsafe fn annotated_fake_readv_array_only(
    fd: c_int,
    #[escapes(len = iovcnt)] iov: *const libc::iovec,
    iovcnt: c_int,
) -> isize {
    // SAFETY: the caller's promise.
    unsafe { pe_bench_fake_readv(fd, iov, iovcnt) }
}

/// The real readv through the attribute, `#[flow_through]` (the binding of
/// `examples/readv.rs`).
///
/// # Safety
/// As for [`hand_readv`].
#[pointer_escapes]
#[inline(never)]
pub unsafe fn annotated_readv(
    fd: c_int,
    #[flow_through]
    #[escapes(len = iovcnt)]
    iov: *const libc::iovec,
    iovcnt: c_int,
) -> isize {
    // SAFETY: the caller's promise.
    unsafe { libc::readv(fd, iov, iovcnt) }
}

/// The real readv through the attribute, array only (checks the buffers).
///
/// # Safety
/// As for [`hand_readv`].
#[pointer_escapes]
#[inline(never)]
pub unsafe fn annotated_readv_array_only(
    fd: c_int,
    #[escapes(len = iovcnt)] iov: *const libc::iovec,
    iovcnt: c_int,
) -> isize {
    // SAFETY: the caller's promise.
    unsafe { libc::readv(fd, iov, iovcnt) }
}

// ------------------------------------------------------------ extern blocks

/// The imports as a binding without pointer-escapes declares them.
pub mod raw {
    use std::ffi::{c_int, c_uint, c_ulong};

    extern "C" {
        /// [`super::pe_bench_touch`], imported by symbol.
        pub fn pe_bench_touch(p: *mut u8, n: usize) -> usize;
        /// [`super::pe_bench_fake_readv`], imported by symbol.
        pub fn pe_bench_fake_readv(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> isize;
        /// zlib's `adler32` (a real, cheap C function taking a buffer).
        pub fn adler32(adler: c_ulong, buf: *const u8, len: c_uint) -> c_ulong;
    }
}

/// The same imports through the attribute: every call pins (and in checked
/// mode checks) its pointer arguments.
pub mod annotated {
    use pointer_escapes::pointer_escapes;
    use std::ffi::{c_int, c_uint, c_ulong};

    #[pointer_escapes]
    extern "C" {
        /// [`super::pe_bench_touch`]: pins `n` bytes at `p`.
        pub fn pe_bench_touch(#[escapes(len = n)] p: *mut u8, n: usize) -> usize;
        /// [`super::pe_bench_fake_readv`]: pins the array and each buffer.
        pub fn pe_bench_fake_readv(
            fd: c_int,
            #[flow_through]
            #[escapes(len = iovcnt)]
            iov: *const libc::iovec,
            iovcnt: c_int,
        ) -> isize;
        /// zlib's `adler32`: pins `len` bytes at `buf`.
        pub fn adler32(
            adler: c_ulong,
            #[escapes(len = len)] buf: *const u8,
            len: c_uint,
        ) -> c_ulong;
    }
}

// The callers of the extern-block functions: one symbol each, so the raw
// import and the annotated wrapper are compared inside identical callers (a
// wrapper may be inlined into its caller, as it would be in user code).

/// Calls the raw `pe_bench_touch` import.
///
/// # Safety
/// As for [`pe_bench_touch`].
#[inline(never)]
pub unsafe fn call_raw_touch(p: *mut u8, n: usize) -> usize {
    // SAFETY: the caller's promise.
    unsafe { raw::pe_bench_touch(p, n) }
}

/// Calls `pe_bench_touch` through the annotated block.
///
/// # Safety
/// As for [`pe_bench_touch`].
#[inline(never)]
pub unsafe fn call_annotated_touch(p: *mut u8, n: usize) -> usize {
    // SAFETY: the caller's promise.
    unsafe { annotated::pe_bench_touch(p, n) }
}

/// Calls the raw `pe_bench_fake_readv` import.
///
/// # Safety
/// As for [`pe_bench_fake_readv`].
#[inline(never)]
pub unsafe fn call_raw_fake_readv(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> isize {
    // SAFETY: the caller's promise.
    unsafe { raw::pe_bench_fake_readv(fd, iov, iovcnt) }
}

/// Calls `pe_bench_fake_readv` through the annotated block.
///
/// # Safety
/// As for [`pe_bench_fake_readv`].
#[inline(never)]
pub unsafe fn call_annotated_fake_readv(
    fd: c_int,
    iov: *const libc::iovec,
    iovcnt: c_int,
) -> isize {
    // SAFETY: the caller's promise.
    unsafe { annotated::pe_bench_fake_readv(fd, iov, iovcnt) }
}

/// Calls the raw `adler32` import.
///
/// # Safety
/// `buf` points at `len` readable bytes.
#[inline(never)]
pub unsafe fn call_raw_adler32(adler: c_ulong, buf: *const u8, len: c_uint) -> c_ulong {
    // SAFETY: the caller's promise.
    unsafe { raw::adler32(adler, buf, len) }
}

/// Calls `adler32` through the annotated block.
///
/// # Safety
/// `buf` points at `len` readable bytes.
#[inline(never)]
pub unsafe fn call_annotated_adler32(adler: c_ulong, buf: *const u8, len: c_uint) -> c_ulong {
    // SAFETY: the caller's promise.
    unsafe { annotated::adler32(adler, buf, len) }
}

// ------------------------------------------------------------------ buffers

/// `IOVECS` `Vec` buffers of one size and the iovecs describing them.
pub struct IoBufs {
    bufs: Vec<Vec<u8>>,
    iov: Vec<libc::iovec>,
}

impl IoBufs {
    /// `IOVECS` zeroed buffers of `size` bytes.
    pub fn new(size: usize) -> IoBufs {
        let mut bufs: Vec<Vec<u8>> = (0..IOVECS).map(|_| vec![0u8; size]).collect();
        let iov = bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        IoBufs { bufs, iov }
    }

    /// The iovecs. They stay valid while `self` lives (the buffers are
    /// never resized), and writing through them is how the buffers are
    /// filled: nothing hands out references to the buffers meanwhile.
    pub fn iov(&self) -> *const libc::iovec {
        self.iov.as_ptr()
    }

    /// `IOVECS` as readv's `iovcnt`.
    pub fn count(&self) -> c_int {
        self.iov.len() as c_int
    }

    /// The buffers, to see what was read into them.
    pub fn bufs_mut(&mut self) -> &mut [Vec<u8>] {
        &mut self.bufs
    }
}

/// The `c_uint` length of a small bench buffer.
pub fn c_len(buf: &[u8]) -> c_uint {
    c_uint::try_from(buf.len()).expect("bench buffers are small")
}
