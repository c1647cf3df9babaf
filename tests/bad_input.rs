//! Bad input, one test per kind, each pinning down the exact error or
//! behaviour: null pointers, zero-size regions, ends past the address
//! space, negative and huge lengths, unaligned pointers, empty pinners, a
//! null `store_pointer` slot and referents with impossible extents.
//!
//! (Entries pinned more than `u32::MAX` times are tested at the unit level
//! in pin-core's `registry/table.rs`: four billion pins are impractical.)
//!
//! Some tests change the process-wide check mode or pin a region spanning
//! nearly the whole address space, so the tests of this binary take turns.

#![deny(unsafe_op_in_unsafe_fn)]

use pointer_escapes::__private::{referent_count, CallPins, Extent};
use pointer_escapes::referents::{Referents, Via, Visitor};
use pointer_escapes::{
    assert_pinned, check_mode, is_pinned, is_region_pinned, pin_count, pointer_escapes,
    set_check_mode, store_pointer, try_check_referents, with_pinned, CheckMode, FailureCause,
    OwnedPin, Pinner, Region, RegionError,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::{Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::new(());

/// Takes this binary's turn and restores the check mode when done.
struct Turn {
    mode: CheckMode,
    _serial: MutexGuard<'static, ()>,
}

fn turn() -> Turn {
    let serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Turn {
        mode: check_mode(),
        _serial: serial,
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        set_check_mode(self.mode);
    }
}

#[track_caller]
fn panic_text<R>(f: impl FnOnce() -> R) -> String {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic, but the closure returned"),
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default(),
    }
}

const TOP: usize = usize::MAX;

fn addr(a: usize) -> *const u8 {
    a as *const u8
}

// ------------------------------------------------------------------ null

#[test]
fn null_is_never_pinned() {
    let _t = turn();
    let null_slice: *const [u8] = ptr::slice_from_raw_parts(ptr::null(), 5);
    assert!(!is_pinned(ptr::null::<u8>()));
    assert!(!is_pinned(ptr::null::<u64>()));
    assert!(!is_pinned(null_slice));
    assert_eq!(pin_count(ptr::null::<u8>()), 0);
    for len in [0, 1, 100] {
        assert!(!is_region_pinned(ptr::null::<u8>(), len), "null + {len}");
    }
    let msg = panic_text(|| assert_pinned(ptr::null::<u8>(), 0));
    assert!(msg.contains("0x0 (0 bytes) is not pinned"), "{msg}");
}

#[test]
fn pinning_a_null_region_pins_nothing_visible() {
    let _t = turn();
    let mut pinner = Pinner::new();
    // SAFETY: nothing is dereferenced; a null region pins nothing.
    unsafe {
        pinner.pin_raw(ptr::null::<u8>(), 16);
        pinner.try_pin_raw(ptr::null::<u8>(), 4).unwrap();
        pinner.pin_region(Region::new(ptr::null::<u8>(), 0).unwrap());
    }
    assert!(
        pinner.is_empty(),
        "null regions must not be recorded: {pinner:?}"
    );
    with_pinned(&[Region::new(ptr::null::<u8>(), 32).unwrap()], || {
        for a in [0, 1, 8, 15, 31] {
            assert!(!is_pinned(addr(a)), "address {a:#x} seen pinned");
            assert_eq!(pin_count(addr(a)), 0);
        }
        assert!(!is_region_pinned(addr(1), 15));
    });
    assert!(!is_pinned(addr(8)));
    assert!(Region::new(ptr::null::<u8>(), 16).unwrap().is_null());
}

// ------------------------------------------------------------------ zero size

#[test]
fn a_zero_length_region_pins_its_address_and_no_byte() {
    let _t = turn();
    let buf = [0u8; 16];
    let mut pinner = Pinner::new();
    let p = pinner.pin_slice(&buf[5..5]);
    assert_eq!(p, buf[5..].as_ptr());
    assert!(is_pinned(&buf[5]));
    assert_eq!(pin_count(&buf[5]), 1);
    assert!(!is_pinned(&buf[4]) && !is_pinned(&buf[6]));
    // A zero-length question asks about the address ...
    assert!(is_region_pinned(&buf[5], 0));
    assert_pinned(&buf[5], 0);
    // ... but the pin covers no byte.
    assert!(!is_region_pinned(&buf[5], 1));
    assert!(panic_text(|| assert_pinned(&buf[5], 1)).contains("(only part of it is)"));
    drop(pinner);
    assert!(!is_pinned(&buf[5]));
}

#[test]
fn an_owned_pin_of_an_empty_buffer_round_trips() {
    let _t = turn();
    let pin = OwnedPin::new(Vec::<u64>::new());
    assert!(pin.is_empty());
    assert_eq!(pin.region().len(), 0);
    // The empty Vec's dangling (aligned, non-null) address is pinned as a
    // zero-length region, and released with the buffer.
    let at = pin.as_ptr();
    assert_eq!(pin_count(at), 1);
    let back = pin.into_inner();
    assert!(back.is_empty());
    assert_eq!(pin_count(at), 0);
}

// ------------------------------------------------------------------ overflow

#[test]
fn region_ends_past_the_address_space_are_refused() {
    let _t = turn();
    let err = Region::new(addr(TOP), 1).unwrap_err();
    assert_eq!(err, RegionError::EndOverflows { addr: TOP, len: 1 });
    assert_eq!(
        err.to_string(),
        "region 0xffffffffffffffff + 1 bytes ends past the end of the address space; \
         a pointer's extent must stay inside memory it points to"
    );
    assert!(Region::new(addr(16), TOP).is_err());
    // Ending exactly at the top is fine.
    let last = Region::new(addr(TOP - 1), 1).unwrap();
    assert_eq!(last.end(), TOP);

    let mut pinner = Pinner::new();
    // SAFETY: refused before anything is recorded.
    let msg = panic_text(|| unsafe { pinner.pin_raw(addr(TOP - 1), 2) });
    assert_eq!(
        msg,
        "Pinner::pin_raw: region 0xfffffffffffffffe + 2 bytes ends past the end of the address \
         space; a pointer's extent must stay inside memory it points to"
    );
    // SAFETY: as above.
    let err = unsafe { pinner.try_pin_raw(addr(TOP - 3), 10) }.unwrap_err();
    assert_eq!(
        err,
        RegionError::EndOverflows {
            addr: TOP - 3,
            len: 10
        }
    );
    assert!(pinner.is_empty(), "a refused region is not pinned");
    assert!(!is_pinned(addr(TOP - 1)));

    assert!(!is_region_pinned(addr(TOP - 3), 10));
    let msg = panic_text(|| assert_pinned(addr(TOP - 3), 10));
    assert!(
        msg.starts_with(
            "pointer-escapes: assert_pinned: region 0xfffffffffffffffc + 10 bytes ends past"
        ),
        "{msg}"
    );
}

#[test]
fn regions_at_the_top_of_the_address_space_are_exact() {
    let _t = turn();
    let mut pinner = Pinner::new();
    // SAFETY: never dereferenced; nothing else uses these addresses.
    unsafe { pinner.pin_raw(addr(TOP - 15), 15) };
    assert!(is_region_pinned(addr(TOP - 15), 15));
    assert!(is_pinned(addr(TOP - 1)));
    assert!(!is_pinned(addr(TOP)));
    assert!(!is_pinned(addr(TOP - 16)));
    // SAFETY: as above.
    unsafe { pinner.pin_raw(addr(TOP), 0) };
    assert!(is_pinned(addr(TOP)));
    assert!(is_region_pinned(addr(TOP), 0));
    drop(pinner);
    assert!(!is_pinned(addr(TOP - 1)) && !is_pinned(addr(TOP)));
}

#[test]
fn a_region_longer_than_half_the_address_space_pins_and_unpins() {
    let _t = turn();
    let buf = [0u8; 8];
    let mut pinner = Pinner::new();
    // SAFETY: never dereferenced. Covers every address from 0x1000 up,
    // `buf` included, until released a few lines down.
    unsafe { pinner.pin_raw(addr(0x1000), TOP - 0x1000) };
    assert!(is_pinned(buf.as_ptr()));
    assert!(is_region_pinned(buf.as_ptr(), 8));
    assert!(is_region_pinned(addr(0x1000), TOP - 0x1000));
    assert!(!is_pinned(addr(0xfff)));
    assert_eq!(pin_count(buf.as_ptr()), 1);
    drop(pinner);
    assert!(!is_pinned(buf.as_ptr()));
    assert_eq!(pin_count(addr(0x1000)), 0);
}

// ------------------------------------------------------------------ lengths

/// Runs one `#[pointer_escapes]` call's pinning by hand, as the macro's
/// generated code does, and returns the panic message if there is one.
fn call_with(ptr: *const u32, extent: Extent) -> Option<String> {
    catch_unwind(AssertUnwindSafe(|| {
        let _call = CallPins::new("read_words", |call| {
            // SAFETY: no check function is given, so nothing is read.
            unsafe { call.pointer("words", &ptr, extent, None) };
        });
    }))
    .err()
    .map(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| "<not a String>".to_string())
    })
}

#[test]
fn negative_and_huge_lengths_pin_nothing_and_panic_in_checked_mode() {
    let _t = turn();
    set_check_mode(CheckMode::Args);
    let words = [0u32; 4];
    let p = words.as_ptr();
    let tail =
        "; nothing was pinned for it (fix the #[escapes(len = ..)] expression or the value passed)";
    assert_eq!(
        call_with(p, Extent::len(-1i32)).unwrap(),
        format!("pointer-escapes: `read_words`: argument `words`: len = -1 is negative{tail}")
    );
    assert_eq!(
        call_with(p, Extent::len(i64::MIN)).unwrap(),
        format!(
            "pointer-escapes: `read_words`: argument `words`: len = {} is negative{tail}",
            i64::MIN
        )
    );
    // usize::MAX elements of 4 bytes overflow the byte count.
    assert_eq!(
        call_with(p, Extent::len(usize::MAX)).unwrap(),
        format!(
            "pointer-escapes: `read_words`: argument `words`: len = {} does not fit the address \
             space{tail}",
            usize::MAX
        )
    );
    assert_eq!(
        call_with(p, Extent::len(1u128 << 64)).unwrap(),
        format!(
            "pointer-escapes: `read_words`: argument `words`: len = 18446744073709551616 does not \
             fit the address space{tail}"
        )
    );
    let msg = call_with(p, Extent::len(u128::MAX)).unwrap();
    assert!(msg.contains("does not fit the address space"), "{msg}");
    assert_eq!(
        call_with(p, Extent::bytes(-5i64)).unwrap(),
        "pointer-escapes: `read_words`: argument `words`: bytes = -5 is negative; nothing was \
         pinned for it (fix the #[escapes(bytes = ..)] expression or the value passed)"
    );
    let msg = call_with(p, Extent::bytes(usize::MAX)).unwrap();
    assert_eq!(
        msg,
        format!(
            "pointer-escapes: `read_words`: argument `words`: region {p:p} + {} bytes ends past \
             the end of the address space; a pointer's extent must stay inside memory it points \
             to; nothing was pinned for it (fix the #[escapes(bytes = ..)] expression or the \
             value passed)",
            usize::MAX
        )
    );
    assert_eq!(pin_count(p), 0);

    // A null pointer pins nothing whatever its length says.
    assert_eq!(call_with(ptr::null(), Extent::len(-7i32)), None);
    // A good length still works after all that.
    assert_eq!(call_with(p, Extent::len(4u8)), None);
    assert_eq!(pin_count(p), 0);
}

#[test]
fn negative_lengths_pin_nothing_silently_when_unchecked() {
    let _t = turn();
    set_check_mode(CheckMode::Off);
    let words = [0u32; 4];
    // No allocator guard and no checks: the call records nothing at all.
    assert!(!CallPins::new("read_words", |_| {}).is_active());
    assert_eq!(call_with(words.as_ptr(), Extent::len(-1i32)), None);
    assert_eq!(call_with(words.as_ptr(), Extent::bytes(usize::MAX)), None);
    assert_eq!(pin_count(words.as_ptr()), 0);
}

#[pointer_escapes]
unsafe fn first_word(#[escapes(len = n)] words: *const u32, n: i32) -> u32 {
    // SAFETY: the caller passes `n > 0` valid words.
    unsafe { *words }
}

#[test]
fn a_negative_length_through_the_macro_names_function_and_parameter() {
    let _t = turn();
    set_check_mode(CheckMode::Args);
    let words = [5u32; 2];
    // SAFETY: the call panics before the body runs.
    let msg = panic_text(|| unsafe { first_word(words.as_ptr(), -3) });
    assert_eq!(
        msg,
        "pointer-escapes: `first_word`: argument `words`: len = -3 is negative; nothing was \
         pinned for it (fix the #[escapes(len = ..)] expression or the value passed)"
    );
    assert_eq!(pin_count(words.as_ptr()), 0);
    // SAFETY: two valid words.
    assert_eq!(unsafe { first_word(words.as_ptr(), 2) }, 5);
}

#[test]
fn negative_referent_counts_mean_none() {
    assert_eq!(referent_count(-3i32), 0);
    assert_eq!(referent_count(i64::MIN), 0);
    assert_eq!(referent_count(7u8), 7);
    assert_eq!(referent_count(u128::MAX), 0);
}

// ------------------------------------------------------------------ alignment

#[test]
fn unaligned_pointers_pin_exactly_their_bytes() {
    let _t = turn();
    let buf = [0u8; 32];
    // The first offset at which a `u32` pointer is misaligned (the buffer's
    // own alignment is only 1).
    let o = (1..4)
        .find(|&o| !buf[o..].as_ptr().cast::<u32>().is_aligned())
        .expect("three of four offsets are");
    let odd = buf[o..].as_ptr().cast::<u32>();
    let mut pinner = Pinner::new();
    // SAFETY: never dereferenced; `buf` outlives the pinner.
    unsafe { pinner.pin_raw(odd, 4) };
    assert!(!is_pinned(&buf[o - 1]));
    assert!((o..o + 4).all(|i| is_pinned(&buf[i])));
    assert!(!is_pinned(&buf[o + 4]));
    assert!(is_region_pinned(odd, 4) && !is_region_pinned(odd, 5));
    drop(pinner);

    set_check_mode(CheckMode::Args);
    let o = o + 4;
    let odd = buf[o..].as_ptr().cast::<u32>();
    let call = CallPins::new("unaligned", |call| {
        // SAFETY: no check function, so the unaligned words are never read.
        unsafe { call.pointer("words", &odd, Extent::len(3usize), None) };
    });
    assert!(!is_pinned(&buf[o - 1]) && !is_pinned(&buf[o + 12]));
    assert!(is_region_pinned(&buf[o], 12));
    drop(call);
    assert!(!is_pinned(&buf[o]));
}

// ------------------------------------------------------------------ pinners

#[test]
fn unpinning_an_empty_pinner_does_nothing() {
    let _t = turn();
    let buf = vec![0u8; 4];
    let mut other = Pinner::new();
    other.pin_slice(&buf);
    let mut pinner = Pinner::new();
    pinner.unpin();
    pinner.unpin();
    assert!(pinner.is_empty());
    // Unpinning twice after real pins releases them once.
    pinner.pin_slice(&buf);
    assert_eq!(pin_count(buf.as_ptr()), 2);
    pinner.unpin();
    pinner.unpin();
    assert_eq!(
        pin_count(buf.as_ptr()),
        1,
        "the other pinner's pin survives"
    );
    drop(pinner);
    drop(other);
    assert_eq!(pin_count(buf.as_ptr()), 0);
    with_pinned(&[], || assert_eq!(pin_count(buf.as_ptr()), 0));
}

// ------------------------------------------------------------------ store_pointer

#[test]
fn store_pointer_into_a_null_slot_panics_and_writes_nothing() {
    let _t = turn();
    let target = 5u8;
    let line = line!() + 3;
    let msg = panic_text(|| {
        // SAFETY: a null slot is refused before any write.
        unsafe { store_pointer(ptr::null_mut::<*const u8>(), &target as *const u8) }
    });
    assert!(
        msg.starts_with(&format!(
            "pointer-escapes: store_pointer at {}:{line}:",
            file!()
        )),
        "{msg}"
    );
    assert!(
        msg.ends_with("the slot is null; nothing was written"),
        "{msg}"
    );
}

#[test]
fn store_pointer_in_deep_mode_refuses_unpinned_and_accepts_null() {
    let _t = turn();
    set_check_mode(CheckMode::Deep);
    let data = Box::new([1u8; 8]);
    let mut slot: *const u8 = ptr::null();
    // SAFETY: `slot` is a valid, aligned slot.
    let msg = panic_text(|| unsafe { store_pointer(&mut slot, data.as_ptr()) });
    assert!(
        msg.contains(&format!("`ptr` points to {:p}", data.as_ptr())),
        "{msg}"
    );
    assert!(msg.contains("that is not pinned"), "{msg}");
    assert!(slot.is_null(), "nothing is written when the check fails");
    // SAFETY: as above; null needs no pin.
    unsafe { store_pointer(&mut slot, ptr::null()) };
    assert!(slot.is_null());
}

// ------------------------------------------------------------------ referents

/// Reports a pointer whose extent runs past the end of the address space.
struct Impossible {
    at: *const u64,
}

// SAFETY: deliberately wrong extent, but the registry refuses it before
// anything reads through it (that is what this test shows).
unsafe impl Referents for Impossible {
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.pointer(self.at, usize::MAX / 4, Via::Field("at"));
    }
}

#[test]
fn a_referent_extent_past_the_address_space_fails_the_check_and_pins_nothing() {
    let _t = turn();
    let word = Box::new(0u64);
    let value = Impossible { at: &*word };
    let failure = try_check_referents(&value).unwrap_err();
    assert_eq!(failure.cause, FailureCause::ExtentOverflows);
    assert_eq!(failure.path, "value.at");
    assert_eq!(failure.region.addr(), &*word as *const u64 as usize);
    let text = failure.to_string();
    assert!(
        text.contains("before the end of the address space"),
        "{text}"
    );

    let holders = [Impossible { at: &*word }];
    let mut pinner = Pinner::new();
    pinner.pin_referents(&holders);
    // Only the holder slice: the impossible referent is skipped.
    assert_eq!(pinner.len(), 1);
    assert_eq!(pin_count(&*word), 0);
}
