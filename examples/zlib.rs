//! zlib's deflate and inflate through an annotated `extern "C"` block.
//!
//! zlib holds two kinds of pointer into Rust memory:
//!
//! - **The stream.** `deflateInit_(&strm, ..)` allocates zlib's state and
//!   stores in it a pointer back to `strm`; every later call checks it
//!   (`strm->state->strm == strm`), so a `z_stream` that moved between calls
//!   gets `Z_STREAM_ERROR`, and one that was freed is a use-after-free. The
//!   binding (`examples/support/zlib.rs`) keeps each stream in an
//!   `OwnedPin<Box<z_stream>>` from `deflateInit_` to `deflateEnd`: the box's
//!   heap storage stays put however the owner moves, and nothing hands the
//!   `z_stream` out by value, so the mistake cannot be written.
//! - **The buffers.** Each `deflate`/`inflate` call reads `next_in` and
//!   writes `next_out`. `z_stream` derives `Referents` with
//!   `#[referents(bytes = self.avail_in)]` (and `avail_out`), and every
//!   function of the `#[pointer_escapes]` block takes the stream as
//!   `#[flow_through]`: each call pins the stream and both buffers while
//!   zlib runs.
//!
//! The program compresses generated text-like and random input, checks the
//! output against the independent pure-Rust `flate2` crate (ours inflated
//! by flate2, flate2's inflated by ours), prints throughput beside
//! flate2's, streams one input through a `Deflater` that is moved between
//! calls (its `z_stream` does not move), and finally shows what zlib says to
//! a raw, unannotated binding whose `z_stream` was moved.
//!
//! ```text
//! cargo run --example zlib [-- --size SIZE --level N]
//! ```

#![deny(unsafe_op_in_unsafe_fn)]

#[path = "support/mod.rs"]
mod support;
#[path = "support/zlib.rs"]
mod zlib;

use pointer_escapes::{pin_count, snapshot, PinKind};
use std::ffi::c_int;
use std::io::{Read as _, Write as _};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use support::{fail, Failure};
use zlib::{z_stream, Deflater, ZError};

/// The same zlib functions imported raw, as a binding without
/// pointer-escapes would declare them: nothing pins or checks anything.
mod unguarded {
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
    }
}

const USAGE: &str = "\
usage: zlib [--size SIZE] [--level N]

Compresses generated text-like and random input with zlib through a
#[pointer_escapes] extern block, verifies against the flate2 crate in both
directions, and prints throughput beside flate2's.

  --size SIZE   bytes of each input (default 1 MiB; 4M, 64MiB...)
  --level N     compression level 0..=9 (default 6)
  --help        this text";

struct Options {
    size: usize,
    level: u32,
}

fn parse_options() -> Result<Option<Options>, Failure> {
    let mut opts = Options {
        size: 1 << 20,
        level: 6,
    };
    let mut args = support::Args::from_env();
    while let Some(flag) = args.next_flag()? {
        match flag.as_str() {
            "--size" => opts.size = args.size(&flag)?,
            "--level" => {
                let text = args.value(&flag)?;
                opts.level = match text.parse::<u32>() {
                    Ok(n) if n <= 9 => n,
                    _ => {
                        return Err(Failure::Usage(format!(
                            "--level: `{text}` is not a level from 0 to 9"
                        )))
                    }
                };
            }
            "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            _ => return Err(Failure::Usage(format!("unknown option `{flag}`"))),
        }
    }
    Ok(Some(opts))
}

fn main() -> ExitCode {
    support::exit_status("zlib", run())
}

fn zerr(e: ZError) -> Failure {
    fail(e.to_string())
}

/// Runs `f` and measures it.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

fn mib_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64().max(1e-9) / f64::from(1u32 << 20)
}

fn flate2_deflate(input: &[u8], level: u32) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(level));
    enc.write_all(input)?;
    enc.finish()
}

fn flate2_inflate(input: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(input).read_to_end(&mut out)?;
    Ok(out)
}

fn run() -> Result<(), Failure> {
    let Some(opts) = parse_options()? else {
        return Ok(());
    };
    let level = opts.level as c_int;
    println!(
        "zlib {} via a #[pointer_escapes] extern block, level {}, {} per input ({} build)",
        zlib::version(),
        opts.level,
        support::human_bytes(opts.size),
        support::build_profile()
    );
    let inputs = [
        ("text-like", support::text_like(opts.size, 0x2_11b)),
        ("random", support::pattern(opts.size, 0x2_11c)),
    ];

    println!(
        "{:<10} {:>10} {:>10}  {:>9} {:>9}  {:>9} {:>9}",
        "input", "zlib out", "flate2 out", "deflate", "flate2", "inflate", "flate2"
    );
    for (name, input) in &inputs {
        let (ours, t_ours_deflate) = timed(|| zlib::compress(input, level));
        let ours = ours.map_err(zerr)?;
        let (theirs, t_theirs_deflate) = timed(|| flate2_deflate(input, opts.level));
        let theirs = theirs?;
        let (back_ours, t_ours_inflate) = timed(|| zlib::decompress(&theirs));
        let back_ours = back_ours.map_err(zerr)?;
        let (back_theirs, t_theirs_inflate) = timed(|| flate2_inflate(&ours));
        let back_theirs = back_theirs
            .map_err(|e| fail(format!("{name}: flate2 cannot inflate zlib's output: {e}")))?;
        if back_theirs != *input {
            return Err(fail(format!(
                "{name}: zlib's output inflated by flate2 differs at byte {:?}",
                support::first_difference(&back_theirs, input)
            )));
        }
        if back_ours != *input {
            return Err(fail(format!(
                "{name}: flate2's output inflated by zlib differs at byte {:?}",
                support::first_difference(&back_ours, input)
            )));
        }
        println!(
            "{:<10} {:>10} {:>10}  {:>9.1} {:>9.1}  {:>9.1} {:>9.1}",
            name,
            ours.len(),
            theirs.len(),
            mib_per_s(input.len(), t_ours_deflate),
            mib_per_s(input.len(), t_theirs_deflate),
            mib_per_s(input.len(), t_ours_inflate),
            mib_per_s(input.len(), t_theirs_inflate),
        );
    }
    println!(
        "(throughput in MiB/s of uncompressed data; zlib's output inflated by flate2 and \
         flate2's by zlib, both byte for byte)"
    );

    stream_across_moves(&inputs[0].1, level)?;
    moved_stream(level)?;
    let left = snapshot();
    if !left.pins.is_empty() {
        return Err(fail(format!("pins left at the end:\n{left}")));
    }
    println!("ok");
    Ok(())
}

/// Streams `input` in pieces through one `Deflater`, moving the `Deflater`
/// between calls: its `z_stream` stays pinned at one address throughout.
fn stream_across_moves(input: &[u8], level: c_int) -> Result<(), Failure> {
    let mut deflater = Deflater::new(level).map_err(zerr)?;
    let addr = deflater.stream_addr();
    let snap = snapshot();
    let pin = snap
        .pins
        .iter()
        .find(|p| p.kind == PinKind::Owned && p.region.addr() == addr)
        .ok_or_else(|| {
            fail(format!(
                "the open stream at {addr:#x} is not pinned:\n{snap}"
            ))
        })?;
    println!(
        "\nstreaming: the z_stream of an open Deflater is at {addr:#x}, pinned ({} bytes, \
         OwnedPin made at {})",
        pin.region.len(),
        pin.site
    );

    let mut out = Vec::new();
    let pieces: Vec<&[u8]> = input.chunks(input.len().div_ceil(4).max(1)).collect();
    let mut owners = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        deflater
            .deflate(piece, &mut out, i + 1 == pieces.len())
            .map_err(zerr)?;
        // Move the owner between calls, as a program passing it around does.
        owners.push(deflater);
        deflater = owners.pop().ok_or_else(|| fail("lost the Deflater"))?;
        let boxed = Box::new(deflater);
        deflater = *boxed;
        if deflater.stream_addr() != addr || pin_count(addr as *const u8) == 0 {
            return Err(fail(format!(
                "after moving the Deflater the z_stream is at {:#x} with {} pin(s)",
                deflater.stream_addr(),
                pin_count(addr as *const u8)
            )));
        }
    }
    if pieces.is_empty() {
        deflater.deflate(&[], &mut out, true).map_err(zerr)?;
    }
    println!(
        "  {} deflate calls with the Deflater moved (into a Vec, into a Box, back) between \
         them: the z_stream stayed at {addr:#x}, pinned",
        pieces.len().max(1)
    );
    drop(deflater);
    let back = flate2_inflate(&out)?;
    if back != input {
        return Err(fail("the streamed output does not inflate to the input"));
    }
    println!(
        "  {} in, {} out, inflated by flate2 byte for byte; after deflateEnd the stream has {} \
         pin(s)",
        support::human_bytes(input.len()),
        support::human_bytes(out.len()),
        pin_count(addr as *const u8)
    );
    Ok(())
}

/// What zlib says when the `z_stream` it points back to has moved: done
/// with the raw, unannotated import and a plain stack `z_stream`.
fn moved_stream(level: c_int) -> Result<(), Failure> {
    let mut original = z_stream::new();
    // SAFETY: `original` is a valid stream that stays at this address until
    // deflateEnd below; the version string is zlib's static memory.
    let rc = unsafe {
        unguarded::deflateInit_(
            &mut original,
            level,
            zlib::zlibVersion(),
            zlib::stream_size(),
        )
    };
    if rc != zlib::Z_OK {
        return Err(fail(format!(
            "deflateInit_ returned {}",
            zlib::code_name(rc)
        )));
    }
    // What `let moved = original;` does: the same bytes at a new address.
    // `original` stays where it was, so the state can still be freed.
    // SAFETY: z_stream is plain data; the copy is only passed to zlib.
    let mut moved: z_stream = unsafe { std::ptr::read(&original) };
    let input = b"moved streams are refused";
    let mut out = [0u8; 128];
    moved.next_in = input.as_ptr();
    moved.avail_in = input.len() as u32;
    moved.next_out = out.as_mut_ptr();
    moved.avail_out = out.len() as u32;
    // SAFETY: the buffers are live for the call; zlib validates the stream
    // before touching its state.
    let rc_moved = unsafe { unguarded::deflate(&mut moved, zlib::Z_FINISH) };
    // SAFETY: `original` is the stream zlib was initialised with.
    let rc_end = unsafe { unguarded::deflateEnd(&mut original) };
    println!(
        "\nmoved stream (raw import, plain z_stream): deflateInit_ at {:#x}, then deflate on the \
         same bytes at {:#x} answered {} ({rc_moved}); deflateEnd at the original address \
         answered {}",
        &original as *const z_stream as usize,
        &moved as *const z_stream as usize,
        zlib::code_name(rc_moved),
        zlib::code_name(rc_end)
    );
    println!(
        "  with OwnedPin<Box<z_stream>> that move cannot be written: the Deflater above was \
         moved between every call and its z_stream never was"
    );
    if rc_moved != zlib::Z_STREAM_ERROR || rc_end != zlib::Z_OK {
        return Err(fail("zlib did not answer as expected to a moved stream"));
    }
    Ok(())
}
