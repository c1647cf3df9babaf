//! A zlib binding written with `pointer-escapes`, shared by the `zlib`
//! example and `tests/zlib_roundtrip.rs` (each includes it with `#[path]`).
//!
//! zlib's API has two kinds of escaping pointer:
//!
//! - **The stream itself.** `deflateInit_` allocates zlib's internal state
//!   and stores in it a pointer back to the caller's `z_stream`
//!   (`strm->state->strm`); every later `deflate`/`deflateEnd` checks that
//!   pointer and answers `Z_STREAM_ERROR` if the `z_stream` is no longer
//!   where it was. So the `z_stream` must not move from `deflateInit_` to
//!   `deflateEnd`: it lives in an `OwnedPin<Box<z_stream>>` (the `Box`'s heap
//!   storage stays put however the owner moves, and `OwnedPin` never hands
//!   out the `z_stream` by value or by `&mut`). Dropping a [`Deflater`] or
//!   [`Inflater`] ends the stream and only then releases the pin, on every
//!   path, unwinding included.
//! - **`next_in` / `next_out`.** Each call reads `avail_in` bytes at
//!   `next_in` and writes up to `avail_out` bytes at `next_out`. Those are the
//!   `z_stream`'s referents (`#[derive(Referents)]` with `#[referents(bytes =
//!   self.avail_in)]`), and every function of the block takes the stream as
//!   `#[flow_through]`, so each call pins the stream and both buffers for
//!   its duration.

// The example and the test each use a subset of this module.
#![allow(dead_code)]
// The block keeps zlib's C names (`deflateInit_`, `zlibVersion`), and the
// functions #[pointer_escapes] generates for it carry them too.
#![allow(non_snake_case)]

use libz_sys as _; // links zlib (the system's, or one libz-sys builds)
use pointer_escapes::{pointer_escapes, OwnedPin, Referents};
use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void, CStr};
use std::fmt;

/// `Z_NO_FLUSH`: more input follows.
pub const Z_NO_FLUSH: c_int = 0;
/// `Z_FINISH`: no more input; finish the stream.
pub const Z_FINISH: c_int = 4;
/// `Z_OK`.
pub const Z_OK: c_int = 0;
/// `Z_STREAM_END`: the stream is complete.
pub const Z_STREAM_END: c_int = 1;
/// `Z_NEED_DICT`: inflate needs a preset dictionary.
pub const Z_NEED_DICT: c_int = 2;
/// `Z_STREAM_ERROR`: the stream is inconsistent (moved, or not initialised).
pub const Z_STREAM_ERROR: c_int = -2;
/// `Z_DATA_ERROR`: the input is not valid compressed data.
pub const Z_DATA_ERROR: c_int = -3;
/// `Z_MEM_ERROR`: out of memory.
pub const Z_MEM_ERROR: c_int = -4;
/// `Z_BUF_ERROR`: no progress was possible.
pub const Z_BUF_ERROR: c_int = -5;
/// `Z_DEFAULT_COMPRESSION`: level 6.
pub const Z_DEFAULT_COMPRESSION: c_int = -1;

/// zlib's `alloc_func`.
pub type AllocFunc = unsafe extern "C" fn(*mut c_void, c_uint, c_uint) -> *mut c_void;
/// zlib's `free_func`.
pub type FreeFunc = unsafe extern "C" fn(*mut c_void, *mut c_void);

/// `z_stream` from zlib.h, field for field (our binding, not libz-sys's).
#[repr(C)]
#[derive(Referents)]
#[allow(non_camel_case_types)]
pub struct z_stream {
    /// Next input byte.
    #[referents(bytes = self.avail_in)]
    pub next_in: *const u8,
    /// Bytes available at `next_in`.
    pub avail_in: c_uint,
    /// Input bytes read so far.
    pub total_in: c_ulong,
    /// Where the next output byte goes.
    #[referents(bytes = self.avail_out)]
    pub next_out: *mut u8,
    /// Room left at `next_out`.
    pub avail_out: c_uint,
    /// Output bytes written so far.
    pub total_out: c_ulong,
    /// zlib's last error message: a static string in zlib, not ours to pin.
    #[referents(skip)]
    pub msg: *const c_char,
    /// zlib's internal state, allocated by zlib: C memory, not ours to pin.
    #[referents(skip)]
    pub state: *mut c_void,
    /// Allocator (null: zlib's default).
    #[referents(skip)]
    pub zalloc: Option<AllocFunc>,
    /// Deallocator (null: zlib's default).
    #[referents(skip)]
    pub zfree: Option<FreeFunc>,
    /// Passed to `zalloc` and `zfree`.
    #[referents(skip)]
    pub opaque: *mut c_void,
    /// Binary or text guess (deflate) or decoding state (inflate).
    pub data_type: c_int,
    /// Adler-32 of the uncompressed data.
    pub adler: c_ulong,
    /// Reserved.
    pub reserved: c_ulong,
}

impl z_stream {
    /// A stream before `*Init_`: no buffers, default allocator.
    pub fn new() -> z_stream {
        z_stream {
            next_in: std::ptr::null(),
            avail_in: 0,
            total_in: 0,
            next_out: std::ptr::null_mut(),
            avail_out: 0,
            total_out: 0,
            msg: std::ptr::null(),
            state: std::ptr::null_mut(),
            zalloc: None,
            zfree: None,
            opaque: std::ptr::null_mut(),
            data_type: 0,
            adler: 0,
            reserved: 0,
        }
    }
}

impl Default for z_stream {
    fn default() -> z_stream {
        z_stream::new()
    }
}

#[pointer_escapes]
unsafe extern "C" {
    /// The library's version string (static memory).
    pub fn zlibVersion() -> *const c_char;
    /// `deflateInit(strm, level)`: zlib keeps a pointer to `strm` from here
    /// to `deflateEnd`.
    pub fn deflateInit_(
        #[flow_through] strm: *mut z_stream,
        level: c_int,
        version: *const c_char,
        stream_size: c_int,
    ) -> c_int;
    /// Compresses from `next_in` into `next_out`.
    pub fn deflate(#[flow_through] strm: *mut z_stream, flush: c_int) -> c_int;
    /// Frees the stream's state; zlib forgets `strm`.
    pub fn deflateEnd(#[flow_through] strm: *mut z_stream) -> c_int;
    /// `inflateInit(strm)`: zlib keeps a pointer to `strm` from here to
    /// `inflateEnd`.
    pub fn inflateInit_(
        #[flow_through] strm: *mut z_stream,
        version: *const c_char,
        stream_size: c_int,
    ) -> c_int;
    /// Decompresses from `next_in` into `next_out`.
    pub fn inflate(#[flow_through] strm: *mut z_stream, flush: c_int) -> c_int;
    /// Frees the stream's state; zlib forgets `strm`.
    pub fn inflateEnd(#[flow_through] strm: *mut z_stream) -> c_int;
}

/// The linked zlib's version.
pub fn version() -> String {
    // SAFETY: zlibVersion returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(zlibVersion()) }
        .to_string_lossy()
        .into_owned()
}

/// The `stream_size` argument of the `*Init_` functions.
pub fn stream_size() -> c_int {
    // z_stream is about a hundred bytes: the cast cannot truncate.
    std::mem::size_of::<z_stream>() as c_int
}

/// zlib's name for a return code.
pub fn code_name(code: c_int) -> &'static str {
    match code {
        Z_OK => "Z_OK",
        Z_STREAM_END => "Z_STREAM_END",
        Z_NEED_DICT => "Z_NEED_DICT",
        Z_STREAM_ERROR => "Z_STREAM_ERROR",
        Z_DATA_ERROR => "Z_DATA_ERROR",
        Z_MEM_ERROR => "Z_MEM_ERROR",
        Z_BUF_ERROR => "Z_BUF_ERROR",
        -6 => "Z_VERSION_ERROR",
        -1 => "Z_ERRNO",
        _ => "unknown code",
    }
}

/// A zlib call that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZError {
    /// The function.
    pub call: &'static str,
    /// Its return code.
    pub code: c_int,
    /// zlib's message, if it set one, or ours.
    pub message: Option<String>,
}

impl fmt::Display for ZError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} returned {} ({})",
            self.call,
            code_name(self.code),
            self.code
        )?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ZError {}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Direction {
    Deflate,
    Inflate,
}

impl Direction {
    fn call(self) -> &'static str {
        match self {
            Direction::Deflate => "deflate",
            Direction::Inflate => "inflate",
        }
    }
}

/// An initialised stream. Its `z_stream` is pinned in place from `*Init_`
/// until the stream is ended (on drop), because zlib points back to it.
struct ZStream {
    /// `None` only after the stream was ended (in `drop`).
    strm: Option<OwnedPin<Box<z_stream>>>,
    direction: Direction,
}

/// What one `deflate`/`inflate` call did.
struct Step {
    /// zlib's return code.
    code: c_int,
    /// Input bytes it took.
    consumed: usize,
    /// Output bytes it wrote.
    produced: usize,
}

impl Step {
    fn progressed(&self) -> bool {
        self.consumed > 0 || self.produced > 0
    }
}

/// How much output room to offer zlib per call.
const OUT_STEP: usize = 64 << 10;
/// The most input handed over per call (`avail_in` is 32 bits wide).
const IN_STEP: usize = 1 << 30;

impl ZStream {
    #[track_caller]
    fn init(direction: Direction, level: c_int) -> Result<ZStream, ZError> {
        // Pinned before zlib learns its address; the pin records our caller.
        let mut strm = OwnedPin::new(Box::new(z_stream::new()));
        let p = strm.as_mut_ptr();
        // SAFETY: `p` is a pinned, initialised z_stream that stays at this
        // address until `*End` (see `Drop`); the version string is zlib's
        // own static memory.
        let (rc, call) = unsafe {
            match direction {
                Direction::Deflate => (
                    deflateInit_(p, level, zlibVersion(), stream_size()),
                    "deflateInit_",
                ),
                Direction::Inflate => (
                    inflateInit_(p, zlibVersion(), stream_size()),
                    "inflateInit_",
                ),
            }
        };
        if rc != Z_OK {
            // SAFETY: `p` is valid; `msg` is null or a static string.
            let message = unsafe { message_of(p) };
            // A failed init keeps no pointer to the stream: the pin can end.
            drop(strm.into_inner());
            return Err(ZError {
                call,
                code: rc,
                message,
            });
        }
        Ok(ZStream {
            strm: Some(strm),
            direction,
        })
    }

    fn stream_addr(&self) -> usize {
        self.strm.as_ref().map_or(0, |s| s.as_ptr() as usize)
    }

    /// The pinned `z_stream` (null only during `drop`, which does not call
    /// this).
    fn raw(&mut self) -> *mut z_stream {
        self.strm
            .as_mut()
            .map_or(std::ptr::null_mut(), |s| s.as_mut_ptr())
    }

    /// One `deflate`/`inflate` call: offers all of `input` (up to 4 GiB) and
    /// at least `OUT_STEP` bytes of room at the end of `out`.
    fn step(&mut self, input: &[u8], out: &mut Vec<u8>, flush: c_int) -> Result<Step, ZError> {
        out.reserve(OUT_STEP);
        let room = (out.capacity() - out.len()).min(c_uint::MAX as usize);
        let in_len = input.len().min(c_uint::MAX as usize);
        let direction = self.direction;
        let p = self.raw();
        if p.is_null() {
            return Err(self.failure(Z_STREAM_ERROR, "the stream was already ended"));
        }
        // SAFETY: `p` is our pinned z_stream; no C call is running on it, so
        // writing its fields cannot race zlib. `len()` is within capacity.
        unsafe {
            (*p).next_in = input.as_ptr();
            (*p).avail_in = in_len as c_uint;
            (*p).next_out = out.as_mut_ptr().add(out.len());
            (*p).avail_out = room as c_uint;
        }
        // SAFETY: `next_in`/`avail_in` describe `input` and `next_out`/
        // `avail_out` the spare capacity of `out`, both borrowed for this
        // call; #[flow_through] pins them and the stream while zlib runs.
        let code = unsafe {
            match direction {
                Direction::Deflate => deflate(p, flush),
                Direction::Inflate => inflate(p, flush),
            }
        };
        // SAFETY: zlib returned; it reports what it used through the fields.
        let (avail_in, avail_out) = unsafe { ((*p).avail_in as usize, (*p).avail_out as usize) };
        // The stream must not keep pointers into buffers whose borrow ends
        // when this returns.
        // SAFETY: as above.
        unsafe {
            (*p).next_in = std::ptr::null();
            (*p).avail_in = 0;
            (*p).next_out = std::ptr::null_mut();
            (*p).avail_out = 0;
        }
        if avail_out > room || avail_in > in_len {
            return Err(self.failure(code, "zlib reported more room or input than it was given"));
        }
        // SAFETY: zlib initialised the first `room - avail_out` bytes of the
        // spare capacity (that is what its `avail_out` accounting means).
        unsafe { out.set_len(out.len() + (room - avail_out)) };
        Ok(Step {
            code,
            consumed: in_len - avail_in,
            produced: room - avail_out,
        })
    }

    /// zlib's error for `code`, with its message if it set one.
    fn error(&mut self, code: c_int) -> ZError {
        let p = self.raw();
        let message = if p.is_null() {
            None
        } else {
            // SAFETY: `p` is our stream, whose `msg` is null or a static
            // string.
            unsafe { message_of(p) }
        };
        ZError {
            call: self.direction.call(),
            code,
            message,
        }
    }

    /// An error of ours about a call.
    fn failure(&self, code: c_int, message: &str) -> ZError {
        ZError {
            call: self.direction.call(),
            code,
            message: Some(message.to_string()),
        }
    }
}

/// A compressor writing the zlib format (`deflateInit` .. `deflateEnd`).
pub struct Deflater(ZStream);

impl Deflater {
    /// `deflateInit(strm, level)`; the stream's pin records the caller's
    /// line.
    #[track_caller]
    pub fn new(level: c_int) -> Result<Deflater, ZError> {
        ZStream::init(Direction::Deflate, level).map(Deflater)
    }

    /// The address of the `z_stream` zlib points back to; it does not
    /// change for the life of the stream.
    pub fn stream_addr(&self) -> usize {
        self.0.stream_addr()
    }

    /// Compresses all of `input`, appending to `out`. With `finish`, also
    /// flushes and writes the end of the compressed stream (after which only
    /// dropping the `Deflater` makes sense).
    pub fn deflate(&mut self, input: &[u8], out: &mut Vec<u8>, finish: bool) -> Result<(), ZError> {
        let flush = if finish { Z_FINISH } else { Z_NO_FLUSH };
        let mut rest = input;
        loop {
            let (chunk, after) = rest.split_at(rest.len().min(IN_STEP));
            let this_flush = if after.is_empty() { flush } else { Z_NO_FLUSH };
            // Call until zlib has taken the whole chunk and, when finishing,
            // written the end of the stream.
            let mut pending = chunk;
            loop {
                let step = self.0.step(pending, out, this_flush)?;
                pending = &pending[step.consumed..];
                match step.code {
                    Z_STREAM_END => return Ok(()),
                    Z_OK | Z_BUF_ERROR if this_flush == Z_NO_FLUSH && pending.is_empty() => break,
                    Z_OK => continue,
                    // With fresh output room every call, no progress means
                    // a stream zlib cannot continue.
                    Z_BUF_ERROR if step.progressed() => continue,
                    code => return Err(self.0.error(code)),
                }
            }
            if after.is_empty() {
                return Ok(());
            }
            rest = after;
        }
    }
}

/// A decompressor reading the zlib format (`inflateInit` .. `inflateEnd`).
pub struct Inflater(ZStream);

impl Inflater {
    /// `inflateInit(strm)`; the stream's pin records the caller's line.
    #[track_caller]
    pub fn new() -> Result<Inflater, ZError> {
        ZStream::init(Direction::Inflate, 0).map(Inflater)
    }

    /// The address of the `z_stream` zlib points back to.
    pub fn stream_addr(&self) -> usize {
        self.0.stream_addr()
    }

    /// Decompresses the whole zlib stream in `input`, appending to `out`.
    /// Truncated input, bytes after the end of the stream and corrupt data
    /// are errors.
    pub fn inflate(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), ZError> {
        let mut pending = input;
        loop {
            let offered = pending.len().min(IN_STEP);
            let step = self.0.step(&pending[..offered], out, Z_NO_FLUSH)?;
            pending = &pending[step.consumed..];
            match step.code {
                Z_STREAM_END if pending.is_empty() => return Ok(()),
                Z_STREAM_END => {
                    let extra = format!("{} bytes after the end of the stream", pending.len());
                    return Err(self.0.failure(Z_STREAM_END, &extra));
                }
                Z_OK => continue,
                Z_BUF_ERROR if pending.is_empty() => {
                    return Err(self
                        .0
                        .failure(Z_BUF_ERROR, "the compressed input is truncated"))
                }
                Z_BUF_ERROR if step.progressed() => continue,
                code => return Err(self.0.error(code)),
            }
        }
    }
}

/// zlib's `msg` for a stream.
///
/// # Safety
/// `p` points at a valid `z_stream` whose `msg` is null or a NUL-terminated
/// string.
unsafe fn message_of(p: *const z_stream) -> Option<String> {
    // SAFETY: the caller's promise.
    let msg = unsafe { (*p).msg };
    // SAFETY: non-null `msg` is a NUL-terminated string (the caller's promise).
    (!msg.is_null()).then(|| {
        unsafe { CStr::from_ptr(msg) }
            .to_string_lossy()
            .into_owned()
    })
}

impl Drop for ZStream {
    fn drop(&mut self) {
        if let Some(mut strm) = self.strm.take() {
            let p = strm.as_mut_ptr();
            // SAFETY: `p` is the pinned stream zlib was initialised with; the
            // End functions free zlib's state, after which zlib keeps no
            // pointer to it. Their code only reports an inconsistent stream,
            // which cannot happen here (it never moved).
            unsafe {
                match self.direction {
                    Direction::Deflate => deflateEnd(p),
                    Direction::Inflate => inflateEnd(p),
                }
            };
            // zlib has forgotten the stream: now the pin can end.
            drop(strm.into_inner());
        }
    }
}

/// Compresses `input` in one go at `level`.
#[track_caller]
pub fn compress(input: &[u8], level: c_int) -> Result<Vec<u8>, ZError> {
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    Deflater::new(level)?.deflate(input, &mut out, true)?;
    Ok(out)
}

/// Decompresses one whole zlib stream.
#[track_caller]
pub fn decompress(input: &[u8]) -> Result<Vec<u8>, ZError> {
    let mut out = Vec::with_capacity(input.len().saturating_mul(3) + 64);
    Inflater::new()?.inflate(input, &mut out)?;
    Ok(out)
}
