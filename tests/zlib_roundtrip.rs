//! Round trips through the zlib binding of the `zlib` example (an annotated
//! `extern "C"` block, each stream in an `OwnedPin`), checked against the
//! independent pure-Rust `flate2` crate in both directions, on inputs from
//! empty and one byte up to a megabyte, plus the errors a decompressor must
//! report and the stream's pin over its life.

#[path = "../examples/support/mod.rs"]
mod support;
#[path = "../examples/support/zlib.rs"]
mod zlib;

use pointer_escapes::{assert_no_pins, pin_count, snapshot, PinKind};
use std::io::{Read as _, Write as _};
use std::sync::{Mutex, MutexGuard};
use zlib::{Deflater, Inflater, Z_BUF_ERROR, Z_DATA_ERROR, Z_STREAM_END};

/// The registry is process-wide: tests that assert "no pins left" take
/// turns so another test's live stream is not counted.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty", Vec::new()),
        ("one byte", vec![0x5a]),
        ("short text", b"pointer-escapes pins what C keeps".to_vec()),
        ("64 KiB boundary", support::text_like(64 << 10, 1)),
        ("text-like 300 KiB", support::text_like(300 << 10, 2)),
        ("random 200 KiB", support::pattern(200 << 10, 3)),
        // Compresses about 1000:1, so inflate needs many output steps.
        ("zeros 1 MiB", vec![0u8; 1 << 20]),
    ]
}

fn flate2_deflate(input: &[u8], level: u32) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(level));
    enc.write_all(input).expect("flate2 deflate");
    enc.finish().expect("flate2 finish")
}

fn flate2_inflate(input: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(input).read_to_end(&mut out)?;
    Ok(out)
}

#[test]
fn zlib_output_inflates_with_flate2() {
    let _turn = serial();
    for level in [0, 1, 6, 9] {
        for (name, input) in inputs() {
            let compressed = zlib::compress(&input, level)
                .unwrap_or_else(|e| panic!("{name} at level {level}: {e}"));
            let back = flate2_inflate(&compressed).unwrap_or_else(|e| {
                panic!("{name} at level {level}: flate2 refused zlib's output: {e}")
            });
            assert!(back == input, "{name} at level {level}: round trip differs");
        }
    }
    assert_no_pins();
}

#[test]
fn flate2_output_inflates_with_zlib() {
    let _turn = serial();
    for level in [0, 1, 6, 9] {
        for (name, input) in inputs() {
            let compressed = flate2_deflate(&input, level);
            let back = zlib::decompress(&compressed)
                .unwrap_or_else(|e| panic!("{name} at level {level}: {e}"));
            assert!(back == input, "{name} at level {level}: round trip differs");
        }
    }
    assert_no_pins();
}

#[test]
fn zlib_round_trips_through_itself() {
    let _turn = serial();
    for (name, input) in inputs() {
        let compressed = zlib::compress(&input, 6).unwrap();
        assert_eq!(zlib::decompress(&compressed).unwrap(), input, "{name}");
    }
    assert_no_pins();
}

#[test]
fn streaming_in_pieces_matches_one_shot_output() {
    let _turn = serial();
    let input = support::text_like(500 << 10, 4);
    for pieces in [1, 2, 7, 64] {
        let mut deflater = Deflater::new(6).unwrap();
        let mut out = Vec::new();
        let size = input.len().div_ceil(pieces);
        let chunks: Vec<&[u8]> = input.chunks(size).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            deflater
                .deflate(chunk, &mut out, i + 1 == chunks.len())
                .unwrap();
        }
        drop(deflater);
        assert_eq!(flate2_inflate(&out).unwrap(), input, "{pieces} pieces");
        // Same stream content regardless of how the input was fed.
        assert_eq!(out, zlib::compress(&input, 6).unwrap(), "{pieces} pieces");
    }
    assert_no_pins();
}

#[test]
fn the_stream_is_pinned_from_init_to_end_and_never_moves() {
    let _turn = serial();
    let deflater = Deflater::new(6).unwrap();
    let addr = deflater.stream_addr();
    assert_eq!(pin_count(addr as *const u8), 1);
    let snap = snapshot();
    let pin = snap
        .pins
        .iter()
        .find(|p| p.region.addr() == addr)
        .expect("the stream's pin is in the report");
    assert_eq!(pin.kind, PinKind::Owned);
    // `Deflater::new` is #[track_caller]: the pin names this file.
    assert!(
        pin.site.file().ends_with("zlib_roundtrip.rs"),
        "{}",
        pin.site
    );

    // Moving the owner moves nothing zlib points to.
    let mut moved = vec![deflater];
    let mut deflater = moved.pop().unwrap();
    assert_eq!(deflater.stream_addr(), addr);
    let mut out = Vec::new();
    deflater.deflate(b"still here", &mut out, true).unwrap();
    drop(deflater);
    assert_eq!(flate2_inflate(&out).unwrap(), b"still here");
    assert_no_pins();

    let inflater = Inflater::new().unwrap();
    assert_eq!(pin_count(inflater.stream_addr() as *const u8), 1);
    drop(inflater);
    assert_no_pins();
}

#[test]
fn bad_input_is_an_error_not_a_panic_and_leaks_no_pin() {
    let _turn = serial();
    let good = zlib::compress(&support::text_like(10_000, 5), 6).unwrap();

    let truncated = zlib::decompress(&good[..good.len() / 2]).unwrap_err();
    assert_eq!(truncated.code, Z_BUF_ERROR, "{truncated}");
    assert!(truncated.to_string().contains("truncated"), "{truncated}");

    let empty = zlib::decompress(&[]).unwrap_err();
    assert_eq!(empty.code, Z_BUF_ERROR, "{empty}");

    let mut corrupt = good.clone();
    corrupt[0] ^= 0xff; // the zlib header
    let err = zlib::decompress(&corrupt).unwrap_err();
    assert_eq!(err.code, Z_DATA_ERROR, "{err}");
    assert!(err.message.is_some(), "zlib's own message is kept: {err}");

    let mut trailing = good.clone();
    trailing.extend_from_slice(b"extra");
    let err = zlib::decompress(&trailing).unwrap_err();
    assert_eq!(err.code, Z_STREAM_END, "{err}");
    assert!(err.to_string().contains("5 bytes after the end"), "{err}");

    assert_no_pins();
}

#[test]
fn a_bad_level_is_refused_by_deflate_init() {
    let _turn = serial();
    let err = Deflater::new(42).err().expect("level 42 is refused");
    assert_eq!(err.call, "deflateInit_");
    assert_eq!(err.code, zlib::Z_STREAM_ERROR);
    // The failed init released its pin.
    assert_no_pins();
}
