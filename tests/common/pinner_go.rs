//! Go's `runtime/pinner_test.go`, case by case, on `Pinner` and the
//! registry's questions (`is_pinned`, `is_region_pinned`, `pin_count`).
//!
//! Differences from Go, by design: Go's pin counter counts *extra* pins (it
//! is `nil` for one pin, `N-1` for N); `pin_count` counts every live pin.
//! `TestPinnerPinNonPtrPanics` is a compile error here (`pin` takes `&T`),
//! and `TestPinnerLeakPanics` becomes "dropping a pinner releases its pins"
//! (a Rust pinner cannot be collected while pinned, only dropped or
//! forgotten; see `report::forgotten_pinner_shows_in_the_snapshot`).
//!
//! Tests run in parallel in one process: every assertion is about memory
//! this scenario owns.

use pointer_escapes::*;
use std::mem::size_of;
use std::sync::LazyLock;

/// Go's `obj`: three words, no pointers.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Obj {
    pub x: i64,
    pub y: i64,
    pub z: i64,
}

/// `TestPinnerSimple`.
pub fn simple_pin_unpin() {
    let p = Box::new(Obj::default());
    let addr: *const Obj = &*p;
    assert!(!is_pinned(addr), "a fresh heap object is not pinned");
    assert_eq!(pin_count(addr), 0);

    let mut pinner = Pinner::new();
    let handed_to_c = pinner.pin(&*p);
    assert_eq!(handed_to_c, addr, "pin returns the pointer to hand to C");
    assert!(is_pinned(addr));
    assert!(is_region_pinned(addr, size_of::<Obj>()));
    assert_eq!(pin_count(addr), 1);
    assert_eq!(pinner.len(), 1);

    pinner.unpin();
    assert!(!is_pinned(addr), "still pinned after unpin");
    assert_eq!(pin_count(addr), 0);
    assert!(pinner.is_empty());
}

/// `TestPinnerMultiplePinsSame`: 100 pins of one object.
pub fn hundred_pins_of_one_object() {
    const N: usize = 100;
    let p = Box::new(Obj::default());
    let addr: *const Obj = &*p;
    let mut pinner = Pinner::new();
    for _ in 0..N {
        pinner.pin(&*p);
    }
    assert!(is_pinned(addr));
    assert_eq!(pin_count(addr), N);
    // Every byte of the object carries all N pins, none past it.
    assert_eq!(
        pin_count(addr.cast::<u8>().wrapping_add(size_of::<Obj>() - 1)),
        N
    );
    assert_eq!(
        pin_count(addr.cast::<u8>().wrapping_add(size_of::<Obj>())),
        0
    );
    assert_eq!(pinner.len(), N);

    pinner.unpin();
    assert!(!is_pinned(addr));
    assert_eq!(pin_count(addr), 0, "pin counter was not cleared");
}

/// `TestPinnerTwoPinner`: two pinners on one object; it stays pinned until
/// both are released.
pub fn two_pinners_on_one_object() {
    let p = Box::new(Obj::default());
    let addr: *const Obj = &*p;
    let mut pinner1 = Pinner::new();
    let mut pinner2 = Pinner::new();

    pinner1.pin(&*p);
    assert!(is_pinned(addr));
    assert_eq!(pin_count(addr), 1);
    pinner2.pin(&*p);
    assert_eq!(pin_count(addr), 2);

    pinner1.unpin();
    assert!(
        is_pinned(addr),
        "released with the other pinner still holding it"
    );
    assert_eq!(pin_count(addr), 1);

    pinner2.unpin();
    assert!(!is_pinned(addr));
    assert_eq!(pin_count(addr), 0);
}

/// A zero-size type with a distinctive alignment, so that its dangling
/// address (64) is not shared with other zero-size values in this process.
#[repr(align(64))]
pub struct ZeroSized;

/// `TestPinnerPinZerosizeObj`: a zero-size object's address is pinned, and a
/// zero-length region pins exactly its address.
pub fn zero_size_object() {
    let p = Box::new(ZeroSized);
    let mut pinner = Pinner::new();
    let addr = pinner.pin(&*p);
    assert!(is_pinned(addr), "a zero-size object is not pinned");
    assert!(is_region_pinned(addr, 0));
    assert_eq!(pin_count(addr), 1);
    pinner.unpin();
    assert!(!is_pinned(addr));

    // A zero-length slice inside real memory: its address, nothing around it.
    let buf = [0u8; 16];
    let empty = &buf[8..8];
    let at = pinner.pin_slice(empty);
    assert_eq!(at, buf[8..].as_ptr());
    assert!(is_pinned(at));
    assert!(is_region_pinned(at, 0));
    assert!(!is_region_pinned(at, 1), "a zero-length pin covers no byte");
    assert!(!is_pinned(buf[7..].as_ptr()));
    assert!(!is_pinned(buf[9..].as_ptr()));
    drop(pinner);
    assert!(!is_pinned(at));
}

static GLOBAL_OBJ: Obj = Obj { x: 1, y: 2, z: 3 };
static GLOBAL_PTR_TO_HEAP_OBJ: LazyLock<Box<Obj>> = LazyLock::new(|| Box::new(Obj::default()));

/// `TestPinnerPinGlobalPtr`: statics are always pinned (Go treats non-heap
/// memory so); pinning one still counts, and unpinning leaves it static. A
/// heap object a static points to is ordinary heap memory.
pub fn pinning_a_static() {
    let addr: *const Obj = &GLOBAL_OBJ;
    assert!(is_pinned(addr), "static memory is always pinned");
    assert!(is_region_pinned(addr, size_of::<Obj>()));
    assert_eq!(pin_count(addr), 0, "static memory holds no pins");

    let mut pinner = Pinner::new();
    pinner.pin(&GLOBAL_OBJ);
    assert_eq!(pin_count(addr), 1);
    pinner.unpin();
    assert_eq!(pin_count(addr), 0);
    assert!(
        is_pinned(addr),
        "unpinning a static does not make it movable"
    );

    let heap: &'static Obj = &GLOBAL_PTR_TO_HEAP_OBJ;
    assert!(!is_pinned(heap), "what a static points to is heap memory");
    pinner.pin(heap);
    assert!(is_pinned(heap));
    pinner.unpin();
    assert!(!is_pinned(heap));
}

/// `TestPinnerPinTinyObj`: 64 one-byte objects, each pinned twice.
pub fn tiny_objects_pinned_twice() {
    const N: usize = 64;
    let objects: Vec<Box<bool>> = (0..N).map(|i| Box::new(i % 2 == 0)).collect();
    let mut pinner = Pinner::new();
    for (i, b) in objects.iter().enumerate() {
        pinner.pin(&**b);
        pinner.pin(&**b);
        let addr: *const bool = &**b;
        assert!(is_pinned(addr), "not pinned: {i}");
        assert_eq!(pin_count(addr), 2, "pin count of object {i}");
        assert!(
            !is_region_pinned(addr, 2),
            "object {i}: the pin covers one byte"
        );
    }
    assert_eq!(pinner.len(), 2 * N);
    pinner.unpin();
    for (i, b) in objects.iter().enumerate() {
        let addr: *const bool = &**b;
        assert!(!is_pinned(addr), "still pinned: {i}");
        assert_eq!(pin_count(addr), 0, "pin count of object {i}");
    }
}

/// `TestPinnerEmptyUnpin`.
pub fn empty_unpin_twice() {
    let mut pinner = Pinner::new();
    pinner.unpin();
    pinner.unpin();
    assert!(pinner.is_empty());
    assert_eq!(pinner.len(), 0);
}

/// `TestPinnerReuse` (the registry half; the checker half is in
/// `cgocheck`): a pinner is reusable after `unpin`.
pub fn reuse_after_unpin() {
    let a = Box::new(Obj::default());
    let b = Box::new(Obj::default());
    let (pa, pb): (*const Obj, *const Obj) = (&*a, &*b);
    let mut pinner = Pinner::new();
    for _ in 0..3 {
        pinner.pin(&*a);
        assert!(is_pinned(pa) && !is_pinned(pb));
        pinner.unpin();
        assert!(!is_pinned(pa));
        pinner.pin(&*b);
        assert!(is_pinned(pb) && !is_pinned(pa));
        assert_eq!(pinner.len(), 1);
        pinner.unpin();
        assert!(!is_pinned(pb));
    }
}

/// Go's leak test, Rust's way: dropping a pinner releases everything it
/// holds, and so does leaving `scope`.
pub fn dropping_a_pinner_releases_its_pins() {
    let p = Box::new(Obj::default());
    let addr: *const Obj = &*p;
    {
        let mut pinner = Pinner::new();
        pinner.pin(&*p);
        pinner.pin(&*p);
        assert_eq!(pin_count(addr), 2);
    }
    assert_eq!(pin_count(addr), 0);

    let seen = scope(|pinner| {
        pinner.pin(&*p);
        pin_count(addr)
    });
    assert_eq!(seen, 1);
    assert_eq!(pin_count(addr), 0);

    let seen = with_pinned(&[Region::of(&*p)], || pin_count(addr));
    assert_eq!(seen, 1);
    assert_eq!(pin_count(addr), 0);
}

/// Static string data is always pinned: a literal needs no pin to be handed
/// to C, and a `&str` of one passes the checker with nothing pinned.
pub fn static_string_data_is_always_pinned() {
    let lit: &'static str = "static string data, never freed or moved";
    assert!(is_pinned(lit.as_ptr()));
    assert!(is_region_pinned(lit.as_ptr(), lit.len()));
    assert_eq!(pin_count(lit.as_ptr()), 0);
    check_referents(&lit);

    let owned = String::from(lit);
    assert!(!is_pinned(owned.as_ptr()), "a String's copy is heap memory");
    assert!(try_check_referents(&owned).is_err());
}

/// `TestPinnerInterface`: pinning a pointer pins the pointer's own memory,
/// not what it points to; pinning the target pins the target only.
pub fn pinning_a_pointer_does_not_pin_its_target() {
    let o = Box::new(Obj::default());
    let target: *const Obj = &*o;
    let holder: &Obj = &o;
    let holder_addr: *const &Obj = &holder;

    let mut pinner = Pinner::new();
    pinner.pin(&holder);
    assert!(is_pinned(holder_addr));
    assert!(!is_pinned(target), "pinning the holder pinned its target");
    pinner.unpin();

    pinner.pin(holder);
    assert!(is_pinned(target));
    assert!(
        !is_pinned(holder_addr),
        "pinning the target pinned the holder"
    );
    pinner.unpin();
}

/// `pin_mut`, `pin_slice_mut` and `pin_referents` return the pointers to
/// hand to C and pin what they say.
pub fn every_pin_method_returns_the_pointer_for_c() {
    let mut header = Obj::default();
    let mut body = vec![0u8; 256];
    let bufs = vec![vec![1u8; 8], vec![2u8; 16], Vec::new()];
    let header_addr: *const Obj = &header;
    let body_addr = body.as_ptr();
    let inner: Vec<*const u8> = bufs.iter().map(|b| b.as_ptr()).collect();

    let mut pinner = Pinner::new();
    let h = pinner.pin_mut(&mut header);
    let b = pinner.pin_slice_mut(&mut body);
    let v = pinner.pin_referents(&bufs);
    assert_eq!(h.cast_const(), header_addr);
    assert_eq!(b.cast_const(), body_addr);
    assert_eq!(v, bufs.as_ptr());
    assert!(is_region_pinned(h, size_of::<Obj>()));
    assert!(is_region_pinned(b, 256));
    assert!(is_region_pinned(v, 3 * size_of::<Vec<u8>>()));
    assert!(is_region_pinned(inner[0], 8));
    assert!(is_region_pinned(inner[1], 16));
    // header, body, the slice of three Vecs and the two non-empty buffers.
    assert_eq!(pinner.len(), 5);
    check_referents(&bufs);

    // C writes through the pointers it was given.
    // SAFETY: `h` and `b` point at live memory exclusively borrowed by the
    // pinner; nothing else reads it until the pinner is gone.
    unsafe {
        (*h).y = 42;
        b.add(255).write(7);
    }
    drop(pinner);
    assert_eq!(header.y, 42);
    assert_eq!(body[255], 7);
    assert!(!is_pinned(header_addr) && !is_pinned(body_addr) && !is_pinned(inner[0]));
}

macro_rules! pinner_go_tests {
    () => {
        crate::common::scenario_tests!(pinner_go:
            simple_pin_unpin,
            hundred_pins_of_one_object,
            two_pinners_on_one_object,
            zero_size_object,
            pinning_a_static,
            tiny_objects_pinned_twice,
            empty_unpin_twice,
            reuse_after_unpin,
            dropping_a_pinner_releases_its_pins,
            static_string_data_is_always_pinned,
            pinning_a_pointer_does_not_pin_its_target,
            every_pin_method_returns_the_pointer_for_c,
        );
    };
}
pub(crate) use pinner_go_tests as tests;
