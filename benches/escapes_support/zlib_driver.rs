//! One deflate/inflate loop, run over two bindings of the same zlib: the
//! project's annotated binding (`examples/support/zlib.rs`, whose
//! `#[pointer_escapes]` extern block takes every stream `#[flow_through]`)
//! and a plain extern block declaring the same symbols, as a binding
//! without pointer-escapes would. Everything but the six calls is the same
//! code, so a throughput difference is the attribute's.
//!
//! The loop offers zlib the whole input at once and 64 KiB of output room
//! per call (the binding's own step), so a few MiB take a few dozen calls,
//! each of which, in checked mode, pins the stream and both buffers.

#[path = "../../examples/support/data.rs"]
#[allow(dead_code)] // the benches use `text_like` only
mod data;
// Not every bench that includes this module generates input.
#[allow(unused_imports)]
pub use data::text_like;

#[path = "../../examples/support/zlib.rs"]
pub mod zlib;

use pointer_escapes::OwnedPin;
use std::ffi::{c_int, c_uint};
use zlib::{z_stream, Z_BUF_ERROR, Z_FINISH, Z_NO_FLUSH, Z_OK, Z_STREAM_END};

/// Output room offered per call (the binding's `OUT_STEP`).
pub const OUT_STEP: usize = 64 << 10;

/// The same functions imported raw: nothing pins or checks anything.
#[allow(non_snake_case)]
mod raw {
    use super::zlib::z_stream;
    use std::ffi::{c_char, c_int};

    extern "C" {
        pub fn deflateInit_(
            strm: *mut z_stream,
            level: c_int,
            version: *const c_char,
            stream_size: c_int,
        ) -> c_int;
        pub fn deflate(strm: *mut z_stream, flush: c_int) -> c_int;
        pub fn deflateEnd(strm: *mut z_stream) -> c_int;
        pub fn inflateInit_(
            strm: *mut z_stream,
            version: *const c_char,
            stream_size: c_int,
        ) -> c_int;
        pub fn inflate(strm: *mut z_stream, flush: c_int) -> c_int;
        pub fn inflateEnd(strm: *mut z_stream) -> c_int;
        pub fn zlibVersion() -> *const c_char;
    }
}

/// A way to call zlib.
pub trait Binding {
    /// Runs `f` with a fresh `z_stream` that stays put until `f` returns.
    fn with_stream<R>(f: impl FnOnce(*mut z_stream) -> R) -> R;
    /// `deflateInit_`.
    ///
    /// # Safety
    /// `strm` is a valid stream that stays put until `deflate_end`.
    unsafe fn deflate_init(strm: *mut z_stream, level: c_int) -> c_int;
    /// `deflate`.
    ///
    /// # Safety
    /// `strm` was initialised by `deflate_init`; its buffers are valid.
    unsafe fn deflate(strm: *mut z_stream, flush: c_int) -> c_int;
    /// `deflateEnd`.
    ///
    /// # Safety
    /// `strm` was initialised by `deflate_init`.
    unsafe fn deflate_end(strm: *mut z_stream) -> c_int;
    /// `inflateInit_`.
    ///
    /// # Safety
    /// `strm` is a valid stream that stays put until `inflate_end`.
    unsafe fn inflate_init(strm: *mut z_stream) -> c_int;
    /// `inflate`.
    ///
    /// # Safety
    /// `strm` was initialised by `inflate_init`; its buffers are valid.
    unsafe fn inflate(strm: *mut z_stream, flush: c_int) -> c_int;
    /// `inflateEnd`.
    ///
    /// # Safety
    /// `strm` was initialised by `inflate_init`.
    unsafe fn inflate_end(strm: *mut z_stream) -> c_int;
}

/// zlib through the plain extern block; the stream in a `Box`.
pub struct Raw;

/// zlib through the annotated block of `examples/support/zlib.rs`; the
/// stream in an `OwnedPin<Box<z_stream>>`, as that binding keeps it (zlib
/// points back to it between calls).
pub struct Annotated;

impl Binding for Raw {
    fn with_stream<R>(f: impl FnOnce(*mut z_stream) -> R) -> R {
        let mut strm = Box::new(z_stream::new());
        f(&mut *strm)
    }
    unsafe fn deflate_init(strm: *mut z_stream, level: c_int) -> c_int {
        // SAFETY: the caller's promise; the version string is zlib's own.
        unsafe { raw::deflateInit_(strm, level, raw::zlibVersion(), zlib::stream_size()) }
    }
    unsafe fn deflate(strm: *mut z_stream, flush: c_int) -> c_int {
        // SAFETY: the caller's promise.
        unsafe { raw::deflate(strm, flush) }
    }
    unsafe fn deflate_end(strm: *mut z_stream) -> c_int {
        // SAFETY: the caller's promise.
        unsafe { raw::deflateEnd(strm) }
    }
    unsafe fn inflate_init(strm: *mut z_stream) -> c_int {
        // SAFETY: the caller's promise; the version string is zlib's own.
        unsafe { raw::inflateInit_(strm, raw::zlibVersion(), zlib::stream_size()) }
    }
    unsafe fn inflate(strm: *mut z_stream, flush: c_int) -> c_int {
        // SAFETY: the caller's promise.
        unsafe { raw::inflate(strm, flush) }
    }
    unsafe fn inflate_end(strm: *mut z_stream) -> c_int {
        // SAFETY: the caller's promise.
        unsafe { raw::inflateEnd(strm) }
    }
}

impl Binding for Annotated {
    fn with_stream<R>(f: impl FnOnce(*mut z_stream) -> R) -> R {
        let mut strm = OwnedPin::new(Box::new(z_stream::new()));
        let result = f(strm.as_mut_ptr());
        // `f` ended the stream (the drivers below always do): zlib keeps no
        // pointer to it, so the pin can end.
        drop(strm.into_inner());
        result
    }
    unsafe fn deflate_init(strm: *mut z_stream, level: c_int) -> c_int {
        // SAFETY: the caller's promise; the version string is zlib's own.
        unsafe { zlib::deflateInit_(strm, level, zlib::zlibVersion(), zlib::stream_size()) }
    }
    unsafe fn deflate(strm: *mut z_stream, flush: c_int) -> c_int {
        // SAFETY: the caller's promise.
        unsafe { zlib::deflate(strm, flush) }
    }
    unsafe fn deflate_end(strm: *mut z_stream) -> c_int {
        // SAFETY: the caller's promise.
        unsafe { zlib::deflateEnd(strm) }
    }
    unsafe fn inflate_init(strm: *mut z_stream) -> c_int {
        // SAFETY: the caller's promise; the version string is zlib's own.
        unsafe { zlib::inflateInit_(strm, zlib::zlibVersion(), zlib::stream_size()) }
    }
    unsafe fn inflate(strm: *mut z_stream, flush: c_int) -> c_int {
        // SAFETY: the caller's promise.
        unsafe { zlib::inflate(strm, flush) }
    }
    unsafe fn inflate_end(strm: *mut z_stream) -> c_int {
        // SAFETY: the caller's promise.
        unsafe { zlib::inflateEnd(strm) }
    }
}

/// Which way the data goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Compress.
    Deflate,
    /// Decompress.
    Inflate,
}

/// Compresses (or decompresses) all of `input` into `out` (cleared first;
/// its capacity is reused) through binding `Z`: init, calls with
/// `OUT_STEP` bytes of room each until the end of the stream, end.
/// Returns the number of `deflate`/`inflate` calls.
pub fn run<Z: Binding>(
    direction: Direction,
    input: &[u8],
    level: c_int,
    out: &mut Vec<u8>,
) -> Result<usize, String> {
    out.clear();
    let avail_in = c_uint::try_from(input.len()).map_err(|_| "input over 4 GiB".to_string())?;
    Z::with_stream(|strm| {
        // SAFETY: `strm` stays put until `with_stream`'s closure returns,
        // and the stream is ended below on every path after a good init.
        let rc = unsafe {
            match direction {
                Direction::Deflate => Z::deflate_init(strm, level),
                Direction::Inflate => Z::inflate_init(strm),
            }
        };
        if rc != Z_OK {
            return Err(format!("{direction:?} init returned {rc}"));
        }
        let result = pump::<Z>(direction, strm, input, avail_in, out);
        // SAFETY: the stream was initialised above; no buffer pointers are
        // left in it (`pump` clears them).
        unsafe {
            match direction {
                Direction::Deflate => Z::deflate_end(strm),
                Direction::Inflate => Z::inflate_end(strm),
            }
        };
        result
    })
}

/// The calls between init and end.
fn pump<Z: Binding>(
    direction: Direction,
    strm: *mut z_stream,
    input: &[u8],
    avail_in: c_uint,
    out: &mut Vec<u8>,
) -> Result<usize, String> {
    let flush = match direction {
        Direction::Deflate => Z_FINISH,
        Direction::Inflate => Z_NO_FLUSH,
    };
    // SAFETY: `strm` is the initialised stream; no call runs on it.
    unsafe {
        (*strm).next_in = input.as_ptr();
        (*strm).avail_in = avail_in;
    }
    let mut calls = 0;
    let outcome = loop {
        out.reserve(OUT_STEP);
        // SAFETY: `reserve` made room for OUT_STEP bytes after `len()`; the
        // stream is ours between calls.
        unsafe {
            (*strm).next_out = out.as_mut_ptr().add(out.len());
            (*strm).avail_out = OUT_STEP as c_uint;
        }
        // SAFETY: the stream is initialised and both buffers are valid for
        // the call (`input` is borrowed, `out`'s spare room is reserved).
        let rc = unsafe {
            match direction {
                Direction::Deflate => Z::deflate(strm, flush),
                Direction::Inflate => Z::inflate(strm, flush),
            }
        };
        calls += 1;
        // SAFETY: zlib returned; it reports what it wrote in `avail_out`.
        let produced = OUT_STEP - unsafe { (*strm).avail_out } as usize;
        // SAFETY: zlib initialised the first `produced` bytes of the room.
        unsafe { out.set_len(out.len() + produced) };
        match rc {
            Z_STREAM_END => break Ok(calls),
            Z_OK => continue,
            Z_BUF_ERROR if produced > 0 => continue,
            rc => break Err(format!("{direction:?} returned {rc} after {calls} calls")),
        }
    };
    // The stream must not keep pointers into buffers this borrow ends on.
    // SAFETY: as above.
    unsafe {
        (*strm).next_in = std::ptr::null();
        (*strm).avail_in = 0;
        (*strm).next_out = std::ptr::null_mut();
        (*strm).avail_out = 0;
    }
    outcome
}

/// Checks that both bindings deflate `input` to the same bytes and that
/// both inflate them back to `input`; returns the compressed bytes and the
/// calls each direction takes.
pub fn verify(input: &[u8], level: c_int) -> Result<(Vec<u8>, usize, usize), String> {
    let mut raw = Vec::new();
    let mut ours = Vec::new();
    let deflate_calls = run::<Raw>(Direction::Deflate, input, level, &mut raw)?;
    run::<Annotated>(Direction::Deflate, input, level, &mut ours)?;
    if raw != ours {
        return Err("the two bindings deflate to different bytes".into());
    }
    let mut back = Vec::new();
    let inflate_calls = run::<Raw>(Direction::Inflate, &raw, level, &mut back)?;
    if back != input {
        return Err("raw inflate does not give the input back".into());
    }
    run::<Annotated>(Direction::Inflate, &raw, level, &mut back)?;
    if back != input {
        return Err("annotated inflate does not give the input back".into());
    }
    Ok((raw, deflate_calls, inflate_calls))
}
