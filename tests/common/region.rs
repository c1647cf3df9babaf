//! Regions and what the registry says about the bytes around pins: exact
//! ends, adjacent and overlapping pins, zero-length regions, and the
//! overflowing end that `Region` refuses.

use super::mode::with_check_mode;
use super::panics::{assert_mentions, panic_message};
use pointer_escapes::__private::{CallPins, Extent};
use pointer_escapes::*;
use proptest::prelude::*;
use std::mem::size_of;

/// One byte before and one byte past a pin are not pinned; every byte in
/// between is.
pub fn one_byte_past_or_before_a_pin_is_not_pinned() {
    let buf = [0u8; 64];
    let mut pinner = Pinner::new();
    let mid = pinner.pin_slice(&buf[16..48]);
    assert!(!is_pinned(buf[15..].as_ptr()), "the byte before the pin");
    assert!(!is_pinned(buf[48..].as_ptr()), "the byte past the pin");
    for (i, byte) in buf.iter().enumerate().take(48).skip(16) {
        assert!(is_pinned(byte), "byte {i} inside the pin");
    }
    assert!(is_region_pinned(mid, 32));
    assert!(!is_region_pinned(mid, 33), "one byte too many");
    assert!(
        !is_region_pinned(buf[15..].as_ptr(), 2),
        "starts one byte early"
    );
}

/// Adjacent pins together cover a range; a gap between them does not.
pub fn adjacent_pins_cover_a_range_together() {
    let buf = [0u8; 96];
    let base = buf.as_ptr();
    let mut pinner = Pinner::new();
    pinner.pin_slice(&buf[..32]);
    pinner.pin_slice(&buf[32..64]);
    assert!(is_region_pinned(base, 64), "two adjacent pins cover 0..64");
    assert!(
        is_region_pinned(buf[20..].as_ptr(), 30),
        "a range across the seam"
    );
    assert!(!is_region_pinned(base, 65));

    // 80..96 is pinned, 64..80 is a gap.
    pinner.pin_slice(&buf[80..]);
    assert!(!is_region_pinned(base, 96), "a gap of 16 bytes is covered");
    assert!(is_region_pinned(buf[80..].as_ptr(), 16));
    pinner.pin_slice(&buf[64..80]);
    assert!(is_region_pinned(base, 96), "the gap is filled");
    pinner.unpin();
    assert!(!is_region_pinned(base, 1));
}

/// Overlapping pins: the count is the number of pins covering each byte,
/// and releasing one leaves the other's bytes pinned.
pub fn overlapping_pins_count_where_they_overlap() {
    let buf = [0u8; 64];
    let mut first = Pinner::new();
    let mut second = Pinner::new();
    first.pin_slice(&buf[..32]);
    second.pin_slice(&buf[16..48]);
    assert_eq!(pin_count(buf[8..].as_ptr()), 1);
    assert_eq!(pin_count(buf[20..].as_ptr()), 2);
    assert_eq!(pin_count(buf[40..].as_ptr()), 1);
    assert_eq!(pin_count(buf[48..].as_ptr()), 0);
    assert!(is_region_pinned(buf.as_ptr(), 48));

    drop(first);
    assert_eq!(pin_count(buf[20..].as_ptr()), 1);
    assert!(!is_pinned(buf[8..].as_ptr()));
    assert!(is_region_pinned(buf[16..].as_ptr(), 32));
    assert!(!is_region_pinned(buf.as_ptr(), 48));
}

/// A zero-length region pins its address only.
pub fn zero_length_region_pins_its_address() {
    let buf = [0u8; 8];
    let at = buf[4..].as_ptr();
    let region = Region::new(at, 0).expect("a zero-length region never overflows");
    assert!(region.is_empty());
    assert!(region.contains(at as usize));
    assert!(!region.contains(at as usize + 1));
    let mut pinner = Pinner::new();
    // SAFETY: `buf` outlives the pinner.
    unsafe { pinner.pin_region(region) };
    assert!(is_pinned(at));
    assert_eq!(pin_count(at), 1);
    assert!(!is_pinned(buf[5..].as_ptr()));
    assert!(!is_pinned(buf[3..].as_ptr()));
    assert!(!is_region_pinned(at, 1));
}

/// `Region::new` refuses an end past the address space with an error that
/// says so, never wrapping around.
pub fn overflowing_region_is_refused_with_a_clear_error() {
    let addr = usize::MAX - 3;
    let err = Region::new(addr as *const u8, 8).unwrap_err();
    assert_eq!(err, RegionError::EndOverflows { addr, len: 8 });
    let text = err.to_string();
    assert_eq!(
        text,
        format!(
            "region {addr:#x} + 8 bytes ends past the end of the address space; \
             a pointer's extent must stay inside memory it points to"
        )
    );
    // It is an `Error` like any other.
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert_eq!(boxed.to_string(), text);

    // The boundaries: ending exactly at the top is fine, one more is not.
    assert!(Region::new((usize::MAX - 1) as *const u8, 1).is_ok());
    assert!(Region::new(usize::MAX as *const u8, 0).is_ok());
    assert!(Region::new(usize::MAX as *const u8, 1).is_err());
    assert!(Region::new(2 as *const u8, usize::MAX).is_err());
    // The registry's questions answer "no" instead of wrapping.
    assert!(!is_region_pinned(addr as *const u8, 8));
}

/// `pin_raw` of an overflowing range panics with the region's error and pins
/// nothing; `try_pin_raw` returns the error.
pub fn pinning_an_overflowing_range_pins_nothing() {
    let addr = usize::MAX - 15;
    let mut pinner = Pinner::new();
    // SAFETY: the range is refused before anything is recorded.
    let msg = panic_message(|| unsafe { pinner.pin_raw(addr as *const u8, 32) });
    assert_mentions(
        &msg,
        &[
            "Pinner::pin_raw",
            &format!("{addr:#x}"),
            "32 bytes",
            "past the end of the address space",
        ],
    );
    assert!(pinner.is_empty(), "a refused pin_raw left a pin behind");
    assert_eq!(pin_count(addr as *const u8), 0);

    // SAFETY: as above.
    let err = unsafe { pinner.try_pin_raw(addr as *const u8, 32) }.unwrap_err();
    assert_eq!(err, RegionError::EndOverflows { addr, len: 32 });
    assert!(pinner.is_empty());
}

/// Accessors and formatting of `Region`.
pub fn region_accessors_and_display() {
    let words = [0u32; 6];
    let r = Region::of_slice(&words);
    assert_eq!(r.addr(), words.as_ptr() as usize);
    assert_eq!(r.len(), 24);
    assert_eq!(r.end(), r.addr() + 24);
    assert!(!r.is_empty() && !r.is_null());
    assert_eq!(Region::of(&words), r);
    assert_eq!(Region::new(words.as_ptr(), 24), Ok(r));
    assert!(r.contains(r.addr()) && r.contains(r.end() - 1) && !r.contains(r.end()));
    let shown = format!("{:#x}..{:#x} (24 bytes)", r.addr(), r.end());
    assert_eq!(r.to_string(), shown);
    assert_eq!(format!("{r:?}"), shown);

    let left = Region::new(words.as_ptr(), 8).unwrap();
    let right = Region::new(words[2..].as_ptr(), 16).unwrap();
    assert!(!left.overlaps(&right), "adjacent regions share no byte");
    assert!(r.overlaps(&left) && r.overlaps(&right));
    let point = Region::new(words[2..].as_ptr(), 0).unwrap();
    assert!(right.overlaps(&point) && !left.overlaps(&point));
    assert!(Region::new(std::ptr::null::<u8>(), 0).unwrap().is_null());
}

/// A pin of any length, at any offset, covers exactly its bytes: the
/// registry files regions by size class and granule, so ends that fall on
/// and off granule boundaries are all checked.
pub fn pins_cover_exactly_their_bytes() {
    const SPAN: usize = 1 << 20;
    let buf = vec![0u8; SPAN + 2];
    // Byte 0 and the last byte stay outside every pin.
    let lens = prop_oneof![
        1usize..=130,
        Just(64usize),
        Just(512),
        Just(513),
        Just(4096),
        Just(4097),
        130usize..=70_000,
        Just(SPAN),
    ];
    let config = ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(len in lens, offset_seed in any::<usize>())| {
        let offset = 1 + offset_seed % (SPAN - len + 1);
        let start = buf[offset..].as_ptr();
        let mut pinner = Pinner::new();
        pinner.pin_slice(&buf[offset..offset + len]);
        prop_assert!(!is_pinned(buf[offset - 1..].as_ptr()), "byte before");
        prop_assert!(is_pinned(start), "first byte");
        prop_assert!(is_pinned(buf[offset + len - 1..].as_ptr()), "last byte");
        prop_assert!(is_pinned(buf[offset + len / 2..].as_ptr()), "middle byte");
        prop_assert!(!is_pinned(buf[offset + len..].as_ptr()), "byte past");
        prop_assert!(is_region_pinned(start, len));
        prop_assert!(!is_region_pinned(start, len + 1));
        prop_assert_eq!(pin_count(start), 1);
        drop(pinner);
        prop_assert!(!is_pinned(start));
    });
}

/// A range split into adjacent pieces, pinned separately, is covered as a
/// whole; releasing any one piece uncovers it.
pub fn split_pins_cover_the_whole() {
    let buf = vec![0u8; 8192];
    let config = ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(mut cuts in proptest::collection::vec(1usize..8192, 1..12), hole in any::<prop::sample::Index>())| {
        cuts.push(0);
        cuts.push(8192);
        cuts.sort_unstable();
        cuts.dedup();
        let pieces: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
        let skip = hole.index(pieces.len());
        let mut pinner = Pinner::new();
        for (i, &(from, to)) in pieces.iter().enumerate() {
            if i != skip {
                pinner.pin_slice(&buf[from..to]);
            }
        }
        let (from, to) = pieces[skip];
        prop_assert!(!is_region_pinned(buf.as_ptr(), 8192), "the hole {}..{} is covered", from, to);
        prop_assert!(!is_pinned(buf[from..].as_ptr()));
        prop_assert!(!is_pinned(buf[to - 1..].as_ptr()));
        pinner.pin_slice(&buf[from..to]);
        prop_assert!(is_region_pinned(buf.as_ptr(), 8192));
    });
}

/// Thousands of distinct small pins, every other 8-byte chunk of a buffer:
/// each is found, no gap is, and all go away with the pinner.
pub fn thousands_of_distinct_pins_are_each_found() {
    const CHUNKS: usize = 4096;
    let buf = vec![0u8; CHUNKS * 8];
    let mut pinner = Pinner::new();
    for chunk in buf.chunks(8).step_by(2) {
        pinner.pin_slice(chunk);
    }
    assert_eq!(pinner.len(), CHUNKS / 2);
    for (i, chunk) in buf.chunks(8).enumerate() {
        let pinned = i % 2 == 0;
        assert_eq!(is_pinned(chunk.as_ptr()), pinned, "chunk {i}");
        assert_eq!(is_pinned(&chunk[7]), pinned, "end of chunk {i}");
        assert_eq!(is_region_pinned(chunk.as_ptr(), 8), pinned, "chunk {i}");
        assert_eq!(pin_count(chunk.as_ptr()), usize::from(pinned), "chunk {i}");
    }
    assert!(!is_region_pinned(buf.as_ptr(), 16));
    drop(pinner);
    assert!(buf.chunks(8).all(|c| !is_pinned(c.as_ptr())));
}

/// Pins of `#[pointer_escapes]` calls (their run-time, `CallPins`) cover
/// like any other pin, whatever order the calls and other pins end in.
pub fn call_pins_cover_whatever_the_release_order() {
    let a = [0u8; 32];
    let b = [0u8; 48];
    let c = vec![0u8; 16];
    with_check_mode(CheckMode::Args, || {
        let mut pinner = Pinner::new();
        pinner.pin_slice(&c);
        let first = CallPins::new("first", |first| {
            first.flow_through_ref("a", &a[..]);
        });
        let second = CallPins::new("second", |second| {
            second.pointer_without_check("b", &b.as_ptr(), Extent::len(48usize));
        });
        assert!(is_region_pinned(a.as_ptr(), 32));
        assert!(is_region_pinned(b.as_ptr(), 48));
        assert!(!is_pinned(b[47..].as_ptr().wrapping_add(1)));
        assert_eq!(pin_count(c.as_ptr()), 1);

        drop(pinner);
        assert!(!is_pinned(c.as_ptr()));
        assert!(is_region_pinned(a.as_ptr(), 32) && is_region_pinned(b.as_ptr(), 48));
        // The older call ends first.
        drop(first);
        assert!(!is_pinned(a.as_ptr()) && !is_pinned(&a[31]));
        assert!(is_region_pinned(b.as_ptr(), 48));
        drop(second);
        assert!(!is_pinned(b.as_ptr()) && !is_pinned(&b[47]));
    });
}

/// A call with more regions than one group holds: every region pinned for
/// the call, none after.
pub fn call_with_hundreds_of_regions_pins_them_all() {
    let bufs: Vec<Vec<u8>> = (0..300).map(|i| vec![i as u8; 8 + i % 5]).collect();
    with_check_mode(CheckMode::Args, || {
        let call = CallPins::new("writev", |call| {
            call.flow_through_ref("bufs", &bufs[..]);
        });
        assert!(is_region_pinned(bufs.as_ptr(), 300 * size_of::<Vec<u8>>()));
        for (i, b) in bufs.iter().enumerate() {
            assert!(is_region_pinned(b.as_ptr(), b.len()), "buffer {i}");
        }
        check_referents(&bufs);
        drop(call);
        assert!(!is_pinned(bufs.as_ptr()));
        assert!(bufs.iter().all(|b| !is_pinned(b.as_ptr())));
    });
}

macro_rules! region_tests {
    () => {
        crate::common::scenario_tests!(region:
            one_byte_past_or_before_a_pin_is_not_pinned,
            adjacent_pins_cover_a_range_together,
            overlapping_pins_count_where_they_overlap,
            zero_length_region_pins_its_address,
            overflowing_region_is_refused_with_a_clear_error,
            pinning_an_overflowing_range_pins_nothing,
            region_accessors_and_display,
            pins_cover_exactly_their_bytes,
            split_pins_cover_the_whole,
            thousands_of_distinct_pins_are_each_found,
            call_pins_cover_whatever_the_release_order,
            call_with_hundreds_of_regions_pins_them_all,
        );
    };
}
pub(crate) use region_tests as tests;
