//! Go's `TestPinnerCgoCheck*` cases on `check_referents`: every pointer
//! reachable from what is handed to C must lead to pinned memory, pinned
//! memory is itself checked, and pinning a holder does not pin its target.
//!
//! Go's `CgoCheckPointer(p2)` checks the memory `p2` points to, which is the
//! argument and need not be pinned itself; the Rust equivalent is
//! `check_referents(&*p2)`.
//!
//! Go can read through any pointer because its runtime knows every object;
//! a safe Rust check reads only what a borrow proves live. Where Go's case
//! follows a raw pointer to a value that holds pointers itself, the case
//! here calls `check_referents_through_raw`, vouching (in a `SAFETY`
//! comment) that the raw pointers it reaches are live, and also shows that
//! the safe check refuses to read through them.

use super::panics::{assert_mentions, panic_message};
use pointer_escapes::referents::{Referents, Via, Visitor};
use pointer_escapes::*;
use std::ffi::c_void;
use std::mem::size_of;

/// Go's `obj`: three words, no pointers.
#[derive(Default)]
pub struct Obj {
    pub x: i64,
    pub y: i64,
    pub z: i64,
}

// SAFETY: `Obj` holds no pointers.
unsafe impl Referents for Obj {
    const HOLDS_POINTERS: bool = false;
    fn visit_referents<V: Visitor>(&self, _visitor: &mut V) {}
}

/// Go's `objWith[T]`: three words and a field `o` of type `T`.
pub struct ObjWith<T> {
    pub x: i64,
    pub y: i64,
    pub z: i64,
    pub o: T,
}

impl<T> ObjWith<T> {
    pub fn new(o: T) -> Box<ObjWith<T>> {
        Box::new(ObjWith {
            x: 0,
            y: 0,
            z: 0,
            o,
        })
    }
}

// SAFETY: the only pointers are those `o` holds, reported by its own impl.
unsafe impl<T: Referents> Referents for ObjWith<T> {
    const HOLDS_POINTERS: bool = T::HOLDS_POINTERS;
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.inline(&self.o, Via::Field("o"));
    }
}

/// Runs `check`, which must fail, and returns the panic message after
/// checking it carries the fix.
#[track_caller]
fn check_fails<T: Referents + ?Sized>(value: &T) -> String {
    let msg = panic_message(|| check_referents(value));
    assert_mentions(&msg, &["pin it with a Pinner"]);
    msg
}

/// `check_referents_through_raw(value)`, which must fail; returns the panic
/// message.
///
/// # Safety
/// As `check_referents_through_raw`: every raw pointer reachable from
/// `value` that leads to pinned memory is live and holds what its impl says.
#[track_caller]
unsafe fn check_through_raw_fails<T: Referents + ?Sized>(value: &T) -> String {
    // SAFETY: forwarded from the caller.
    let msg = panic_message(|| unsafe { check_referents_through_raw(value) });
    assert_mentions(&msg, &["pin it with a Pinner"]);
    msg
}

/// The safe check stops at a pinned raw pointer whose pointee holds
/// pointers, and says so, rather than read through it or skip it.
#[track_caller]
fn safe_check_refuses_to_read_raw<T: Referents + ?Sized>(value: &T, path: &str) {
    let err = try_check_referents(value).expect_err("the safe check read through a raw pointer");
    assert_eq!(err.cause, FailureCause::NotVouched, "{err}");
    assert_mentions(
        &err.to_string(),
        &[path, "check_referents_through_raw", "unsafe fn"],
    );
}

/// `TestPinnerCgoCheckPtr2Ptr`: a struct holding a raw pointer fails the
/// check until the target is pinned.
pub fn pointer_to_pointer() {
    let p = Box::new(Obj::default());
    let target: *const Obj = &*p;
    let p2 = ObjWith::new(target);
    let msg = check_fails(&*p2);
    assert_mentions(
        &msg,
        &[
            "`value.o`",
            &format!("{:#x}", target as usize),
            &format!("{} bytes of", size_of::<Obj>()),
            std::any::type_name::<Obj>(),
        ],
    );
    let mut pinner = Pinner::new();
    pinner.pin(&*p);
    check_referents(&*p2);
}

/// `TestPinnerCgoCheckPtr2UnsafePtr`: the pointer is held as
/// `*const c_void`. An untyped pointer's extent is its address (one byte),
/// so it is pinned by any pin covering that address.
pub fn pointer_held_as_c_void() {
    let p = Box::new(Obj::default());
    let target = &*p as *const Obj as *const c_void;
    let p2 = ObjWith::new(target);
    let msg = check_fails(&*p2);
    assert_mentions(&msg, &["`value.o`", &format!("{:#x}", target as usize)]);
    let mut pinner = Pinner::new();
    pinner.pin(&*p);
    check_referents(&*p2);
}

/// `TestPinnerCgoCheckPtr2UnknownPtr`: the checked value is the raw pointer
/// itself.
pub fn raw_pointer_value() {
    let p = Box::new(Obj::default());
    let raw = &*p as *const Obj as *const c_void;
    let msg = check_fails(&raw);
    assert_mentions(&msg, &["`value`", &format!("{:#x}", raw as usize)]);
    let mut pinner = Pinner::new();
    pinner.pin(&*p);
    check_referents(&raw);
}

/// `TestPinnerCgoCheckInterface`, Rust's way: a `Box` field owns a heap
/// object that must be pinned.
pub fn boxed_field() {
    let holder = ObjWith::new(Box::new(Obj::default()));
    let target: *const Obj = &*holder.o;
    let msg = check_fails(&*holder);
    assert_mentions(&msg, &["`value.o`", &format!("{:#x}", target as usize)]);
    let mut pinner = Pinner::new();
    pinner.pin(&*holder.o);
    check_referents(&*holder);
}

/// `TestPinnerCgoCheckSlice`: a `Vec`'s contents must be pinned.
pub fn vec_contents() {
    let sl = vec![1i32, 2, 3];
    let msg = check_fails(&sl);
    assert_mentions(
        &msg,
        &[
            "`value`",
            &format!("{:#x}", sl.as_ptr() as usize),
            "12 bytes of i32",
        ],
    );
    let mut pinner = Pinner::new();
    pinner.pin_slice(&sl);
    check_referents(&sl);
    check_referents(&sl[..]); // the elements themselves hold no pointers
}

/// `TestPinnerCgoCheckString`: a `String`'s bytes must be pinned.
pub fn string_contents() {
    let s = String::from("foobar");
    let msg = check_fails(&s);
    assert_mentions(
        &msg,
        &[
            "`value`",
            &format!("{:#x}", s.as_ptr() as usize),
            "(6 bytes)",
        ],
    );
    let mut pinner = Pinner::new();
    pinner.pin_slice(s.as_bytes());
    check_referents(&s);
}

/// `TestPinnerReuse`: panic, pin, pass, unpin, panic, pin, pass, unpin.
pub fn reuse() {
    let p = Box::new(Obj::default());
    let p2 = ObjWith::new(&*p as *const Obj);
    let mut pinner = Pinner::new();
    for round in 0..2 {
        assert!(
            try_check_referents(&*p2).is_err(),
            "round {round}: passed unpinned"
        );
        pinner.pin(&*p);
        check_referents(&*p2);
        pinner.unpin();
    }
    check_fails(&*p2);
}

/// `TestPinnerCgoCheckPinned2UnpinnedPanics`: pinning the holder does not
/// pin its target, and a pinned holder is itself checked.
pub fn pinned_to_unpinned_still_fails() {
    let p = Box::new(Obj::default());
    let target: *const Obj = &*p;
    let p2 = ObjWith::new(target);
    check_fails(&*p2);
    let mut pinner = Pinner::new();
    pinner.pin(&*p2);
    assert!(!is_pinned(target), "pinning the holder pinned its target");
    let msg = check_fails(&*p2);
    assert_mentions(&msg, &["`value.o`", &format!("{:#x}", target as usize)]);
    // Checked through a reference to the (pinned) holder, the path grows.
    let msg = check_fails(&&*p2);
    assert_mentions(&msg, &["`value.o`", &format!("{:#x}", target as usize)]);
}

/// `TestPinnerCgoCheckPtr2Pinned2Unpinned`: p3 -> p2 -> p. Both checks fail
/// until the innermost object is pinned, whatever else is.
pub fn pointer_to_pinned_to_unpinned() {
    let p = Box::new(Obj::default());
    let p_addr: *const Obj = &*p;
    let p2 = ObjWith::new(p_addr);
    let p2_addr: *const ObjWith<*const Obj> = &*p2;
    let p3 = ObjWith::new(p2_addr);

    let msg = check_fails(&*p2);
    assert_mentions(&msg, &["`value.o`", &format!("{:#x}", p_addr as usize)]);
    let msg = check_fails(&*p3);
    assert_mentions(&msg, &["`value.o`", &format!("{:#x}", p2_addr as usize)]);

    let mut pinner = Pinner::new();
    pinner.pin(&*p2);
    check_fails(&*p2);
    // p3's referent (p2) is pinned now. The safe check may not read it (a
    // pin is no proof that p2 is live); vouched for, the checker follows it
    // and fails one level further down.
    safe_check_refuses_to_read_raw(&*p3, "`value.o`");
    // SAFETY: p3.o points at p2 and p2.o at p, both live boxes.
    let msg = unsafe { check_through_raw_fails(&*p3) };
    assert_mentions(&msg, &["`value.o.o`", &format!("{:#x}", p_addr as usize)]);

    pinner.pin(&*p);
    check_referents(&*p2);
    // SAFETY: as above.
    unsafe { check_referents_through_raw(&*p3) };
}

/// A node of a linked structure, for cycles.
pub struct Node {
    pub next: *const Node,
    pub value: u64,
}

// SAFETY: `next` points at one `Node` when non-null.
unsafe impl Referents for Node {
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.pointer(self.next, 1, Via::Field("next"));
    }
}

/// Cycles terminate: a pinned self-loop and a pinned two-node ring pass;
/// unpinning one node of the ring fails at it.
pub fn cycles_terminate() {
    let mut a = Box::new(Node {
        next: std::ptr::null(),
        value: 1,
    });
    let a_addr: *const Node = &*a;
    a.next = a_addr;
    let mut pinner = Pinner::new();
    pinner.pin(&*a);
    safe_check_refuses_to_read_raw(&*a, "`value.next`");
    // SAFETY (here and below): every `next` points at `a` or `b`, live
    // boxes of this function.
    unsafe { check_referents_through_raw(&*a) };
    drop(pinner);

    let mut b = Box::new(Node {
        next: a_addr,
        value: 2,
    });
    let b_addr: *const Node = &*b;
    a.next = b_addr;
    let mut pinner = Pinner::new();
    pinner.pin(&*a);
    pinner.pin(&*b);
    // SAFETY: as above.
    unsafe {
        check_referents_through_raw(&*a);
        check_referents_through_raw(&*b);
    }
    drop(pinner);

    let mut pinner = Pinner::new();
    pinner.pin(&*a);
    // SAFETY: as above.
    let msg = unsafe { check_through_raw_fails(&*a) };
    assert_mentions(&msg, &["`value.next`", &format!("{:#x}", b_addr as usize)]);
    drop(pinner);
    b.value += a.value;
    assert_eq!(b.value, 3);
}

/// Two pointers to the same memory with different extents: the one naming
/// more elements is followed in full, even when the shorter one was
/// followed first.
pub fn aliasing_pointers_are_followed_to_their_full_extent() {
    let bufs = vec![vec![0u8; 16], vec![1u8; 16]];
    let mut pinner = Pinner::new();
    pinner.pin_slice(&bufs); // the two Vec headers
    pinner.pin_slice(&bufs[0]); // the first buffer, not the second
    let first_and_all: (&Vec<u8>, &[Vec<u8>]) = (&bufs[0], &bufs[..]);
    let msg = check_fails(&first_and_all);
    assert_mentions(
        &msg,
        &["`value.1[1]`", &format!("{:#x}", bufs[1].as_ptr() as usize)],
    );
    pinner.pin_slice(&bufs[1]);
    check_referents(&first_and_all);
}

/// `pin_referents` pins one level: the elements and what they point to
/// directly, not what those point to in turn.
pub fn pin_referents_pins_one_level() {
    let two_level: Vec<Vec<u8>> = vec![vec![1; 8], vec![2; 8]];
    let mut pinner = Pinner::new();
    pinner.pin_referents(&two_level);
    check_referents(&two_level[..]);
    check_referents(&two_level);
    drop(pinner);

    let three_level: Vec<Box<Vec<u8>>> = vec![Box::new(vec![1; 8]), Box::new(vec![2; 8])];
    let mut pinner = Pinner::new();
    pinner.pin_referents(&three_level);
    assert!(is_pinned(&*three_level[1] as *const Vec<u8>));
    assert!(!is_pinned(three_level[1].as_ptr()));
    let msg = check_fails(&three_level[..]);
    assert_mentions(
        &msg,
        &[
            "`value[0]`",
            &format!("{:#x}", three_level[0].as_ptr() as usize),
        ],
    );
}

macro_rules! cgocheck_tests {
    () => {
        crate::common::scenario_tests!(cgocheck:
            pointer_to_pointer,
            pointer_held_as_c_void,
            raw_pointer_value,
            boxed_field,
            vec_contents,
            string_contents,
            reuse,
            pinned_to_unpinned_still_fails,
            pointer_to_pinned_to_unpinned,
            cycles_terminate,
            aliasing_pointers_are_followed_to_their_full_extent,
            pin_referents_pins_one_level,
        );
    };
}
pub(crate) use cgocheck_tests as tests;
