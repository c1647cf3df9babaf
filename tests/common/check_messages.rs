//! What a failed check says and what it leaves behind: each message names
//! the checked type, the path to the pointer, the element index, the address
//! and size, and the fix; a failure leaves the registry exactly as it was.
//! Also `store_pointer` (the write barrier of Args and Deep mode), `assert_pinned`, and the
//! argument checks of a `#[pointer_escapes]` call (`CallPins`).

use super::mode::with_check_mode;
use super::panics::{assert_mentions, panic_message};
use pointer_escapes::__private::{CallPins, Extent, HasReferents, NoReferents, Probe};
use pointer_escapes::referents::{Referents, Via, Visitor};
use pointer_escapes::*;
use std::any::type_name;
use std::ffi::c_void;
use std::io::IoSlice;
use std::mem::size_of;
use std::ptr::NonNull;

const FIX: &str = "pin it with a Pinner";

fn hex(addr: *const u8) -> String {
    format!("{:#x}", addr as usize)
}

fn iovec_of(buf: &[u8]) -> libc::iovec {
    libc::iovec {
        iov_base: buf.as_ptr() as *mut c_void,
        iov_len: buf.len(),
    }
}

/// `Vec<Vec<u8>>` with the outer buffer and three of four inner buffers
/// pinned: the failure names everything about the fourth.
pub fn vec_of_vecs_names_type_path_element_address_size_and_fix() {
    let bufs = vec![vec![0u8; 64]; 4];
    let mut pinner = Pinner::new();
    pinner.pin_slice(&bufs);
    for i in [0, 1, 3] {
        pinner.pin_slice(&bufs[i]);
    }

    let line = line!() + 1;
    let failure = try_check_referents(&bufs).unwrap_err();
    assert_eq!(failure.path, "value[2]");
    assert_eq!(failure.element, Some(2));
    assert_eq!(failure.region, Region::of_slice(&bufs[2]));
    assert_eq!(failure.pointee, "u8");
    assert_eq!(failure.cause, FailureCause::Unpinned);
    assert_mentions(
        &failure.context,
        &[
            &format!("check_referents::<{}>", type_name::<Vec<Vec<u8>>>()),
            &format!("{}:{line}:", file!()),
        ],
    );

    let msg = panic_message(|| check_referents(&bufs));
    assert_mentions(
        &msg,
        &[
            type_name::<Vec<Vec<u8>>>(),
            "element 2",
            "`value[2]`",
            &hex(bufs[2].as_ptr()),
            "64 bytes of u8",
            FIX,
        ],
    );
    pinner.pin_slice(&bufs[2]);
    check_referents(&bufs);
}

/// Nothing pinned: the first pointer, the outer buffer, is the one named.
pub fn unpinned_outer_buffer_is_named_first() {
    let bufs = vec![vec![0u8; 8]; 4];
    let failure = try_check_referents(&bufs).unwrap_err();
    assert_eq!(failure.path, "value");
    assert_eq!(failure.element, None);
    assert_eq!(failure.region, Region::of_slice(&bufs));
    assert_eq!(failure.pointee, type_name::<Vec<u8>>());
    let msg = failure.to_string();
    assert_mentions(
        &msg,
        &[
            &hex(bufs.as_ptr().cast()),
            &format!(
                "{} bytes of {}",
                4 * size_of::<Vec<u8>>(),
                type_name::<Vec<u8>>()
            ),
            FIX,
        ],
    );
    assert!(
        !msg.contains("element"),
        "no element index on this path: {msg}"
    );
}

/// `&[IoSlice]`: the slice is the argument, each entry's buffer must be
/// pinned.
pub fn io_slices_name_the_entry() {
    let (a, b, c) = (vec![1u8; 10], vec![2u8; 20], vec![3u8; 30]);
    let iov = [IoSlice::new(&a), IoSlice::new(&b), IoSlice::new(&c)];
    let mut pinner = Pinner::new();
    pinner.pin_slice(&a);
    pinner.pin_slice(&c);
    let msg = panic_message(|| check_referents(&iov[..]));
    assert_mentions(
        &msg,
        &[
            type_name::<[IoSlice<'_>]>(),
            "element 1",
            "`value[1].iov_base`",
            &hex(b.as_ptr()),
            "(20 bytes)",
            FIX,
        ],
    );
    pinner.pin_slice(&b);
    check_referents(&iov[..]);
}

/// `[libc::iovec; N]`, the C array as `readv` takes it.
pub fn iovec_array_names_the_entry() {
    let bufs: Vec<Vec<u8>> = (1..=5).map(|n| vec![0u8; n * 100]).collect();
    let iov: [libc::iovec; 5] = std::array::from_fn(|i| iovec_of(&bufs[i]));
    let mut pinner = Pinner::new();
    for b in &bufs[..3] {
        pinner.pin_slice(b);
    }
    let failure = try_check_referents(&iov).unwrap_err();
    assert_eq!(failure.path, "value[3].iov_base");
    assert_eq!(failure.element, Some(3));
    assert_eq!(failure.region, Region::of_slice(&bufs[3]));
    let msg = failure.to_string();
    assert_mentions(
        &msg,
        &[
            type_name::<[libc::iovec; 5]>(),
            "element 3",
            &hex(bufs[3].as_ptr()),
            "(400 bytes)",
            FIX,
        ],
    );
    pinner.pin_slice(&bufs[3]);
    pinner.pin_slice(&bufs[4]);
    check_referents(&iov);
    // An empty or null entry points at nothing and needs no pin.
    let empty = [
        iovec_of(&[]),
        libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 16,
        },
    ];
    check_referents(&empty);
}

/// This scenario's pins as the report lists them (everything but the age).
fn pins_within(regions: &[Region]) -> Vec<String> {
    let mut out: Vec<String> = snapshot()
        .pins
        .iter()
        .filter(|p| regions.iter().any(|r| r.overlaps(&p.region)))
        .map(|p| {
            format!(
                "{} x{} {} {} {}",
                p.region, p.count, p.kind, p.site, p.thread
            )
        })
        .collect();
    out.sort();
    out
}

/// A failed check, explicit or at a call, leaves the registry exactly as it
/// was: the same pins, with the same counts, kinds and sites.
pub fn failed_check_leaves_the_registry_as_it_was() {
    let bufs = vec![vec![0u8; 32]; 3];
    let mut pinner = Pinner::new();
    pinner.pin_slice(&bufs);
    pinner.pin_slice(&bufs[0]);
    let mut regions = vec![Region::of_slice(&bufs)];
    regions.extend(bufs.iter().map(|b| Region::of_slice(b)));
    let counts = || {
        regions
            .iter()
            .map(|r| pin_count(r.addr() as *const u8))
            .collect::<Vec<_>>()
    };
    let pins_before = pins_within(&regions);
    let counts_before = counts();
    assert_eq!(counts_before, [1, 1, 0, 0]);

    panic_message(|| check_referents(&bufs));
    assert_eq!(pins_within(&regions), pins_before);
    assert_eq!(counts(), counts_before);

    // A call pins its argument, then its check fails: unwinding releases the
    // call's pins and nothing else.
    with_check_mode(CheckMode::Args, || {
        let arg: *const Vec<u8> = bufs.as_ptr();
        let msg = panic_message(|| {
            let _call = CallPins::new("consume", |call| {
                #[allow(clippy::needless_borrow)] // the autoref probe, as generated code writes it
                let check = (&Probe::of(&arg)).check_fn();
                // SAFETY: `arg` points at 3 live `Vec<u8>`.
                unsafe { call.pointer("bufs", &arg, Extent::len(3usize), check) };
            });
        });
        assert_mentions(&msg, &["`consume`: argument `bufs`", "`bufs[1]`", FIX]);
    });
    assert_eq!(pins_within(&regions), pins_before);
    assert_eq!(counts(), counts_before);
}

/// The argument check of a `#[pointer_escapes]` call names the function,
/// parameter, element, address and size; the call's pins live exactly as
/// long as the call.
pub fn call_check_names_function_parameter_and_element() {
    let bufs = [vec![1u8; 8], vec![2u8; 24], vec![3u8; 8]];
    let iov: Vec<libc::iovec> = bufs.iter().map(|b| iovec_of(b)).collect();
    let iov_ptr: *const libc::iovec = iov.as_ptr();
    let mut pinner = Pinner::new();
    pinner.pin_slice(&bufs[0]);
    pinner.pin_slice(&bufs[2]);
    with_check_mode(CheckMode::Args, || {
        let msg = panic_message(|| {
            let _call = CallPins::new("readv", |call| {
                #[allow(clippy::needless_borrow)] // the autoref probe, as generated code writes it
                #[allow(clippy::needless_borrow)]
                // the autoref probe, as generated code writes it
                let check = (&Probe::of(&iov_ptr)).check_fn();
                // SAFETY: `iov_ptr` points at 3 live iovecs.
                unsafe { call.pointer("iov", &iov_ptr, Extent::len(3i32), check) };
            });
        });
        assert_mentions(
            &msg,
            &[
                "`readv`: argument `iov`",
                "element 1",
                "`iov[1].iov_base`",
                &hex(bufs[1].as_ptr()),
                "24 bytes",
                FIX,
            ],
        );
        assert!(!is_pinned(iov_ptr), "the failed call left its pin behind");

        pinner.pin_slice(&bufs[1]);
        let line = line!() + 1;
        let call = CallPins::new("readv", |call| {
            #[allow(clippy::needless_borrow)] // the autoref probe, as generated code writes it
            let check = (&Probe::of(&iov_ptr)).check_fn();
            // SAFETY: as above.
            unsafe { call.pointer("iov", &iov_ptr, Extent::len(3i32), check) };
        });
        assert!(call.is_active());
        assert!(is_region_pinned(iov_ptr, 3 * size_of::<libc::iovec>()));
        let snap = snapshot();
        let entry = snap
            .pins
            .iter()
            .find(|p| p.region.addr() == iov_ptr as usize)
            .expect("the call's pin is in the report");
        assert_eq!(entry.kind, PinKind::Call);
        assert_eq!((entry.site.file(), entry.site.line()), (file!(), line));
        drop(call);
        assert!(!is_pinned(iov_ptr));
    });
}

/// A pointee without `Referents` has nothing to check.
pub fn call_check_skips_pointees_without_referents() {
    struct Opaque;
    let opaque = Opaque;
    let p: *const Opaque = &opaque;
    assert!((&Probe::of(&p)).check_fn().is_none());
    let v: *const Vec<u8> = std::ptr::null();
    #[allow(clippy::needless_borrow)] // the autoref probe, as generated code writes it
    let check = (&Probe::of(&v)).check_fn();
    assert!(check.is_some());
}

/// A negative or overflowing length pins nothing and, in checked mode,
/// panics naming the function and parameter.
pub fn call_with_a_bad_length_names_the_parameter() {
    let iov = [iovec_of(b"static bytes")];
    let iov_ptr: *const libc::iovec = iov.as_ptr();
    with_check_mode(CheckMode::Args, || {
        let msg = panic_message(|| {
            let _call = CallPins::new("readv", |call| {
                // SAFETY: no element is read: the length is refused first.
                unsafe { call.pointer("iov", &iov_ptr, Extent::len(-1i32), None) };
            });
        });
        assert_mentions(
            &msg,
            &[
                "`readv`: argument `iov`",
                "len = -1 is negative",
                "nothing was pinned",
                "#[escapes(len = ..)]",
            ],
        );
        let msg = panic_message(|| {
            let _call = CallPins::new("readv", |call| {
                // SAFETY: as above.
                unsafe { call.pointer("iov", &iov_ptr, Extent::len(usize::MAX), None) };
            });
        });
        assert_mentions(&msg, &["argument `iov`", "does not fit the address space"]);
        let msg = panic_message(|| {
            let _call = CallPins::new("write", |call| {
                // SAFETY: as above.
                unsafe {
                    call.pointer("buf", &iov_ptr.cast::<c_void>(), Extent::bytes(-5i64), None)
                };
            });
        });
        assert_mentions(
            &msg,
            &[
                "`write`: argument `buf`",
                "bytes = -5 is negative",
                "#[escapes(bytes = ..)]",
            ],
        );
        assert!(!is_pinned(iov_ptr));
    });
    with_check_mode(CheckMode::Off, || {
        let _call = CallPins::new("readv", |call| {
            // SAFETY: as above.
            unsafe { call.pointer("iov", &iov_ptr, Extent::len(-1i32), None) };
        });
        assert!(
            !is_pinned(iov_ptr),
            "unchecked mode pinned a negative length"
        );
    });
}

/// A slot in C memory (from `malloc`), freed on drop.
struct CSlot<P>(*mut P);

impl<P: Copy> CSlot<P> {
    fn new(initial: P) -> CSlot<P> {
        // SAFETY: malloc of a pointer-sized block; checked for null below.
        let slot = unsafe { libc::malloc(size_of::<P>()) }.cast::<P>();
        assert!(!slot.is_null(), "malloc failed");
        // SAFETY: fresh, aligned (malloc aligns for any pointer) and writable.
        unsafe { slot.write(initial) };
        CSlot(slot)
    }

    fn get(&self) -> P {
        // SAFETY: initialised in `new`, live until drop.
        unsafe { self.0.read() }
    }
}

impl<P> Drop for CSlot<P> {
    fn drop(&mut self) {
        // SAFETY: allocated by malloc in `new`, freed once.
        unsafe { libc::free(self.0.cast()) };
    }
}

/// Args and Deep mode: storing an unpinned heap pointer into C memory
/// panics at the caller's line, names the address, the slot, the memory's
/// kind and the fix, and writes nothing.
pub fn store_pointer_refuses_an_unpinned_pointer_in_args_and_deep_mode() {
    let data = Box::new([0u8; 32]);
    let slot = CSlot::new(std::ptr::null::<u8>());
    for mode in [CheckMode::Args, CheckMode::Deep] {
        with_check_mode(mode, || {
            // SAFETY: `slot` is a live, aligned C slot.
            let line = line!() + 1;
            let msg = panic_message(|| unsafe { store_pointer(slot.0, data.as_ptr()) });
            assert_mentions(
                &msg,
                &[
                    &format!("store_pointer at {}:{line}", file!()),
                    &format!("into C memory at {}", hex(slot.0.cast())),
                    &format!(
                        "`ptr` points to {} (heap or other memory) that is not pinned",
                        hex(data.as_ptr())
                    ),
                    "C keeps this pointer after the call returns",
                    "OwnedPin::new(buf)",
                ],
            );
            assert!(slot.get().is_null(), "a refused store wrote the slot");
        });
    }
}

/// Deep mode lets pinned, static and null pointers through, for every
/// storable pointer type.
pub fn store_pointer_accepts_pinned_static_and_null_in_deep_mode() {
    let mut data = vec![0u8; 32];
    let owned = OwnedPin::new(vec![0u32; 8]);
    with_check_mode(CheckMode::Deep, || {
        let mut pinner = Pinner::new();
        let p = pinner.pin_slice_mut(&mut data);
        let slot = CSlot::new(std::ptr::null_mut::<u8>());
        // SAFETY: `slot` is a live, aligned C slot.
        unsafe { store_pointer(slot.0, p) };
        assert_eq!(slot.get(), p);
        // SAFETY: as above.
        unsafe { store_pointer(slot.0, std::ptr::null_mut()) };
        assert!(slot.get().is_null());

        let lit = "static data";
        let cslot = CSlot::new(std::ptr::null::<u8>());
        // SAFETY: as above.
        unsafe { store_pointer(cslot.0, lit.as_ptr()) };
        assert_eq!(cslot.get(), lit.as_ptr());

        let nslot = CSlot::new(None::<NonNull<u32>>);
        let nn = NonNull::new(owned.as_ptr().cast_mut()).unwrap();
        // SAFETY: as above.
        unsafe { store_pointer(nslot.0, Some(nn)) };
        assert_eq!(nslot.get(), Some(nn));
        // SAFETY: as above.
        unsafe { store_pointer(nslot.0, None) };
        assert_eq!(nslot.get(), None);
        let bare = CSlot::new(NonNull::<u32>::dangling());
        // SAFETY: as above.
        unsafe { store_pointer(bare.0, nn) };
        assert_eq!(bare.get(), nn);
    });
    drop(owned.into_inner());
}

/// Off mode does not check stores: the pointer is written as is.
pub fn store_pointer_checks_nothing_in_off_mode() {
    let data = [0u8; 32];
    with_check_mode(CheckMode::Off, || {
        let slot = CSlot::new(std::ptr::null::<u8>());
        // SAFETY: `slot` is a live, aligned C slot.
        unsafe { store_pointer(slot.0, data.as_ptr()) };
        assert_eq!(slot.get(), data.as_ptr());
    });
}

/// A null slot panics in every mode, saying nothing was written.
pub fn store_pointer_into_a_null_slot_panics_clearly() {
    let data = [0u8; 4];
    for mode in [CheckMode::Off, CheckMode::Args, CheckMode::Deep] {
        with_check_mode(mode, || {
            let (slot, p) = (std::ptr::null_mut::<*const u8>(), data.as_ptr());
            // SAFETY: a null slot is refused before anything is written.
            let line = line!() + 1;
            let msg = panic_message(|| unsafe { store_pointer(slot, p) });
            assert_mentions(
                &msg,
                &[
                    &format!("store_pointer at {}:{line}:", file!()),
                    "the slot is null; nothing was written",
                ],
            );
        });
    }
}

/// `assert_pinned`: what is missing, where it was asked, and the fix.
pub fn assert_pinned_messages() {
    let buf = [0u8; 64];
    let line = line!() + 1;
    let msg = panic_message(|| assert_pinned(buf.as_ptr(), 64));
    assert_mentions(
        &msg,
        &[
            &format!("assert_pinned at {}:{line}:", file!()),
            &format!("{} (64 bytes) is not pinned", hex(buf.as_ptr())),
            "pin it with a Pinner (or OwnedPin) before handing it to C",
        ],
    );
    assert!(!msg.contains("only part"), "{msg}");

    let mut pinner = Pinner::new();
    pinner.pin_slice(&buf[..32]);
    let msg = panic_message(|| assert_pinned(buf.as_ptr(), 64));
    assert_mentions(&msg, &["is not pinned (only part of it is)"]);
    assert_pinned(buf.as_ptr(), 32);
    assert_pinned(buf[31..].as_ptr(), 0);
    assert_pinned("static".as_ptr(), 6);

    let top = usize::MAX - 1;
    let msg = panic_message(|| assert_pinned(top as *const u8, 4));
    assert_mentions(
        &msg,
        &[
            "assert_pinned",
            &format!("{top:#x} + 4 bytes"),
            "past the end of the address space",
        ],
    );
}

/// A `Referents` impl reporting more elements than fit in memory.
struct Overlong {
    data: *const u64,
}

// SAFETY: deliberately wrong length, for the checker's refusal: a pointer
// whose extent overflows fails before anything is read through it, and
// pins nothing.
unsafe impl Referents for Overlong {
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.pointer(self.data, usize::MAX / 4, Via::Field("data"));
    }
}

/// An extent that runs past the address space is its own failure, naming
/// the pointer and the way to fix it; pinning it pins nothing.
pub fn overflowing_extent_is_refused() {
    let word = 7u64;
    let bad = Overlong { data: &word };
    let failure = try_check_referents(&bad).unwrap_err();
    assert_eq!(failure.cause, FailureCause::ExtentOverflows);
    assert_eq!(failure.path, "value.data");
    let msg = failure.to_string();
    assert_mentions(
        &msg,
        &[
            "`value.data`",
            &hex((&word as *const u64).cast()),
            "more `u64` values than fit before the end of the address space",
            "#[referents(len = ..)]",
        ],
    );
    let mut pinner = Pinner::new();
    pinner.pin_referents(std::slice::from_ref(&bad));
    assert_eq!(pinner.len(), 1, "only the holder is pinned");
    assert!(!is_pinned(&word));
}

/// `set_check_mode` is what `check_mode` reports.
pub fn check_mode_round_trips() {
    for mode in [CheckMode::Deep, CheckMode::Off, CheckMode::Args] {
        with_check_mode(mode, || assert_eq!(check_mode(), mode));
    }
}

macro_rules! check_messages_tests {
    () => {
        crate::common::scenario_tests!(check_messages:
            vec_of_vecs_names_type_path_element_address_size_and_fix,
            unpinned_outer_buffer_is_named_first,
            io_slices_name_the_entry,
            iovec_array_names_the_entry,
            failed_check_leaves_the_registry_as_it_was,
            call_check_names_function_parameter_and_element,
            call_check_skips_pointees_without_referents,
            call_with_a_bad_length_names_the_parameter,
            store_pointer_refuses_an_unpinned_pointer_in_args_and_deep_mode,
            store_pointer_accepts_pinned_static_and_null_in_deep_mode,
            store_pointer_checks_nothing_in_off_mode,
            store_pointer_into_a_null_slot_panics_clearly,
            assert_pinned_messages,
            overflowing_extent_is_refused,
            check_mode_round_trips,
        );
    };
}
pub(crate) use check_messages_tests as tests;
