//! Pointers C keeps after the call returns (SPEC, second revision): an
//! `#[escapes(retained)]` parameter (`CallRecorder::retained`), a pointer
//! returned to C (`check_returned`) and `store_pointer`. One test per rule,
//! through the run-time API the macro expands to.
//!
//! The rules: what C keeps must be covered by a pin that outlives the call
//! (a `Pinner` or `OwnedPin`, never the call's own pin) or be static; it
//! must never be a thread's stack or thread-local storage, whatever pins
//! cover it; failures panic at the user's line and name the function, the
//! parameter, the address, the size, the memory's kind and a fix.

#![deny(unsafe_op_in_unsafe_fn)]

mod common;

use common::mode::with_check_mode;
use common::panics::{assert_mentions, panic_message};
use pointer_escapes::__private::{check_returned, CallPins, Extent};
use pointer_escapes::{
    pin_count, register_thread, store_pointer, CheckMode, OwnedPin, Pinner, ThreadNumber,
};
use std::cell::RefCell;
use std::sync::{mpsc, Once};

fn hex<T>(p: *const T) -> String {
    format!("{:#x}", p as usize)
}

/// The OS thread id of the calling thread.
fn tid() -> u32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::gettid() as u32 }
}

/// How the calling thread shows in messages: `"name" (tid N)`.
fn this_thread() -> String {
    format!(
        "\"{}\" (tid {})",
        std::thread::current().name().unwrap(),
        tid()
    )
}

/// One `#[pointer_escapes] unsafe fn prep_read(.., #[escapes(bytes = len,
/// retained)] buf: *mut u8, len: usize)` call, as the macro expands it: the
/// parameter is pinned for the call and checked as retained.
#[track_caller]
fn prep_read(buf: *mut u8, len: usize) {
    let _pins = CallPins::new("prep_read", |rec| {
        // SAFETY: no referent check is requested, so nothing is read.
        unsafe { rec.pointer("buf", &buf, Extent::bytes(len), None) };
        rec.retained("buf", &buf, Extent::bytes(len));
    });
}

/// `set_callback(h, cb, #[escapes(retained)] ctx: *mut T)`: one element.
#[track_caller]
fn set_context<T>(ctx: *mut T) {
    let _pins = CallPins::new("set_callback", |rec| {
        // SAFETY: no referent check is requested, so nothing is read.
        unsafe { rec.pointer("ctx", &ctx, Extent::One, None) };
        rec.retained("ctx", &ctx, Extent::One);
    });
}

// ---------------------------------------------------------------- retained

#[test]
fn retained_memory_pinned_only_by_the_call_is_refused() {
    let mut buf = vec![0u8; 4096];
    let p = buf.as_mut_ptr();
    let msg = with_check_mode(CheckMode::Args, || panic_message(|| prep_read(p, 4096)));
    assert_mentions(
        &msg,
        &[
            "pointer-escapes: `prep_read`: argument `buf` (#[escapes(retained)]): ",
            &format!(
                "`buf` points to 4096 bytes at {} (heap or other memory) pinned only for the call",
                hex(p)
            ),
            "C keeps this pointer after the call returns",
            "OwnedPin::new(buf)",
            "owned.into_inner()",
        ],
    );
    assert_eq!(pin_count(p), 0, "the refused call left a pin behind");
}

#[test]
fn retained_memory_without_any_pin_is_refused() {
    let buf = Box::new([0u8; 64]);
    let p = buf.as_ptr().cast_mut();
    let msg = with_check_mode(CheckMode::Deep, || {
        panic_message(|| {
            let _pins = CallPins::new("prep_read", |rec| {
                rec.retained("buf", &p, Extent::bytes(64usize))
            });
        })
    });
    assert_mentions(
        &msg,
        &[&format!(
            "`buf` points to 64 bytes at {} (heap or other memory) that is not pinned",
            hex(p)
        )],
    );
}

#[test]
fn retained_memory_only_partly_pinned_beyond_the_call_is_refused() {
    let buf = Box::new([0u8; 64]);
    let mut pinner = Pinner::new();
    pinner.pin_slice(&buf[..32]);
    let p = buf.as_ptr().cast_mut();
    let msg = with_check_mode(CheckMode::Args, || {
        panic_message(|| {
            let _pins = CallPins::new("prep_read", |rec| {
                rec.retained("buf", &p, Extent::bytes(64usize))
            });
        })
    });
    assert_mentions(&msg, &["only part of which is pinned"]);
}

#[test]
fn retained_memory_covered_by_a_pinner_passes() {
    let mut buf = vec![0u8; 4096];
    let mut pinner = Pinner::new();
    let p = pinner.pin_slice_mut(&mut buf);
    with_check_mode(CheckMode::Args, || prep_read(p, 4096));
}

#[test]
fn retained_memory_owned_by_an_owned_pin_passes() {
    let mut owned = OwnedPin::new(vec![0u8; 4096]);
    with_check_mode(CheckMode::Args, || prep_read(owned.as_mut_ptr(), 4096));
    let mut boxed = OwnedPin::new(Box::new(7u64));
    with_check_mode(CheckMode::Args, || set_context(boxed.as_mut_ptr()));
    drop(owned.into_inner());
    drop(boxed.into_inner());
}

#[test]
fn retained_static_memory_passes() {
    static TABLE: [u8; 16] = [1; 16];
    with_check_mode(CheckMode::Args, || {
        prep_read(TABLE.as_ptr().cast_mut(), 16);
        prep_read(std::ptr::null_mut(), 16);
    });
}

#[test]
fn retained_stack_memory_is_refused_even_when_a_pinner_covers_it() {
    let mut local = [0u8; 64];
    let mut pinner = Pinner::new();
    let p = pinner.pin_slice_mut(&mut local);
    let msg = with_check_mode(CheckMode::Args, || panic_message(|| prep_read(p, 64)));
    assert_mentions(
        &msg,
        &[
            &format!(
                "`buf` points to 64 bytes at {} on the stack of thread {}",
                hex(p),
                this_thread()
            ),
            "a Pinner does not help",
            "OwnedPin::new(Box::new(value))",
            "OwnedPin<Box<T>>",
        ],
    );
}

#[test]
fn retained_stack_memory_of_another_registered_thread_is_refused() {
    let (tx, rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let worker = std::thread::Builder::new()
        .name("worker-3".into())
        .spawn(move || {
            register_thread();
            let mut request = [0u64; 4];
            tx.send((request.as_mut_ptr() as usize, tid())).unwrap();
            // Keep the frame alive while the main thread asks about it.
            done_rx.recv().unwrap();
            request[0]
        })
        .unwrap();
    let (addr, worker_tid) = rx.recv().unwrap();
    let msg = with_check_mode(CheckMode::Args, || {
        panic_message(|| set_context(addr as *mut [u64; 4]))
    });
    done_tx.send(()).unwrap();
    worker.join().unwrap();
    assert_mentions(
        &msg,
        &[
            "pointer-escapes: `set_callback`: argument `ctx` (#[escapes(retained)])",
            &format!(
                "`ctx` points to 32 bytes of [u64; 4] at {addr:#x} on the stack of thread \
                 \"worker-3\" (tid {worker_tid})"
            ),
        ],
    );
}

#[test]
fn retained_thread_local_storage_is_refused() {
    thread_local! {
        static SCRATCH: RefCell<[u8; 256]> = const { RefCell::new([0; 256]) };
    }
    let p = SCRATCH.with(|s| s.as_ptr().cast::<u8>());
    let mut pinner = Pinner::new();
    // SAFETY: the thread-local lives as long as this thread, which
    // outlives the pinner.
    unsafe { pinner.pin_raw(p, 256) };
    let msg = with_check_mode(CheckMode::Args, || panic_message(|| prep_read(p, 256)));
    assert_mentions(
        &msg,
        &[
            &format!(
                "`buf` points to 256 bytes at {} in the thread-local storage of thread {}",
                hex(p),
                this_thread()
            ),
            "freed when the thread exits",
            "OwnedPin<Box<T>>",
        ],
    );
}

#[test]
fn retained_sizes_of_one_byte_are_singular() {
    let mut byte = Box::new(0u8);
    let p: *mut u8 = &mut *byte;
    let msg = with_check_mode(CheckMode::Args, || panic_message(|| set_context(p)));
    assert_mentions(
        &msg,
        &[&format!("`ctx` points to 1 byte of u8 at {}", hex(p))],
    );
    assert!(!msg.contains("1 bytes"), "{msg}");
}

#[test]
fn retained_checks_nothing_in_off_mode() {
    let mut local = [0u8; 16];
    let p = local.as_mut_ptr();
    with_check_mode(CheckMode::Off, || prep_read(p, 16));
}

// ---------------------------------------------------------------- results

/// `#[pointer_escapes(returns(retained, len = 16))] extern "C" fn
/// value_blob() -> *const u8 { make_blob().as_ptr() }`: the `Vec` is a
/// temporary, freed before C ever sees the pointer.
#[allow(dangling_pointers_from_temporaries)] // the bug this test reproduces
fn value_blob() -> *const u8 {
    fn make_blob() -> Vec<u8> {
        vec![0xab; 16]
    }
    let result = make_blob().as_ptr();
    check_returned("value_blob", &result, Extent::len(16usize));
    result
}

#[test]
fn returned_pointer_into_a_temporary_is_refused() {
    let msg = with_check_mode(CheckMode::Args, || panic_message(value_blob));
    assert_mentions(
        &msg,
        &[
            "pointer-escapes: `value_blob`: returned pointer (Go: cgo result has Go pointer): ",
            "`result` points to 16 bytes of u8 at ",
            "(heap or other memory) that is not pinned",
            "OwnedPin::new(buf)",
        ],
    );
}

#[test]
fn returned_pointer_into_the_stack_is_refused() {
    let local = [0u32; 4];
    let p = local.as_ptr();
    let msg = with_check_mode(CheckMode::Deep, || {
        panic_message(|| check_returned("value_blob", &p, Extent::len(4usize)))
    });
    assert_mentions(
        &msg,
        &[&format!(
            "`result` points to 16 bytes of u32 at {} on the stack of thread {}",
            hex(p),
            this_thread()
        )],
    );
}

#[test]
fn returned_pointer_owned_by_an_owned_pin_static_or_null_passes() {
    let blob = OwnedPin::new(vec![0u8; 16]);
    with_check_mode(CheckMode::Args, || {
        check_returned("value_blob", &blob.as_ptr(), Extent::len(16usize));
        check_returned("greeting", &c"hello".as_ptr(), Extent::bytes(6usize));
        check_returned("nothing", &std::ptr::null::<u8>(), Extent::len(16usize));
    });
    drop(blob.into_inner());
}

#[test]
fn returned_pointer_checks_nothing_in_off_mode() {
    let local = 0u32;
    with_check_mode(CheckMode::Off, || {
        check_returned("value_blob", &(&local as *const u32), Extent::One)
    });
}

// ---------------------------------------------------------------- store_pointer

#[test]
fn store_pointer_refuses_unpinned_heap_memory() {
    let request = Box::new([0u8; 32]);
    let mut slot: *const u8 = std::ptr::null();
    let slot_addr = &mut slot as *mut *const u8;
    let msg = with_check_mode(CheckMode::Args, || {
        // SAFETY: `slot` is a valid, aligned slot.
        panic_message(|| unsafe { store_pointer(slot_addr, request.as_ptr()) })
    });
    assert_mentions(
        &msg,
        &[&format!(
            "`ptr` points to {} (heap or other memory) that is not pinned",
            hex(request.as_ptr())
        )],
    );
    assert!(slot.is_null(), "a refused store wrote the slot");
}

#[test]
fn store_pointer_refuses_stack_memory_even_when_pinned() {
    let mut context = 0u64;
    let mut pinner = Pinner::new();
    let p = pinner.pin_mut(&mut context);
    let mut slot: *mut u64 = std::ptr::null_mut();
    let slot_addr = &mut slot as *mut *mut u64;
    let msg = with_check_mode(CheckMode::Args, || {
        // SAFETY: `slot` is a valid, aligned slot.
        panic_message(|| unsafe { store_pointer(slot_addr, p) })
    });
    assert_mentions(
        &msg,
        &[
            &format!(
                "`ptr` points to {} on the stack of thread {}",
                hex(p),
                this_thread()
            ),
            "OwnedPin<Box<T>>",
        ],
    );
    assert!(slot.is_null(), "a refused store wrote the slot");
}

#[test]
fn store_pointer_refuses_memory_pinned_only_for_a_call() {
    let mut buf = vec![0u8; 32];
    let p = buf.as_mut_ptr();
    let mut slot: *mut u8 = std::ptr::null_mut();
    let slot_addr = &mut slot as *mut *mut u8;
    let msg = with_check_mode(CheckMode::Args, || {
        panic_message(|| {
            // Inside the body of an annotated call that pins `p`.
            let _pins = CallPins::new("submit", |rec| {
                // SAFETY: no referent check is requested, so nothing is read.
                unsafe { rec.pointer("buf", &p, Extent::bytes(32usize), None) }
            });
            // SAFETY: `slot` is a valid, aligned slot.
            unsafe { store_pointer(slot_addr, p) };
        })
    });
    assert_mentions(&msg, &["pinned only for the call"]);
}

#[test]
fn store_pointer_accepts_lasting_pins() {
    let mut owned = OwnedPin::new(Box::new([0u8; 32]));
    let mut slot: *mut [u8; 32] = std::ptr::null_mut();
    with_check_mode(CheckMode::Args, || {
        // SAFETY: `slot` is a valid, aligned slot.
        unsafe { store_pointer(&mut slot, owned.as_mut_ptr()) };
    });
    assert_eq!(slot, owned.as_mut_ptr());
    drop(owned.into_inner());
}

// ---------------------------------------------------------------- locations

/// Where the last panic on this thread was reported, as the panic hook
/// saw it (the line printed with "panicked at").
fn panic_location(f: impl FnOnce()) -> (String, u32) {
    thread_local!(static LAST: RefCell<Option<(String, u32)>> = const { RefCell::new(None) });
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let at = info.location().map(|l| (l.file().to_string(), l.line()));
            LAST.with(|last| *last.borrow_mut() = at);
            previous(info);
        }));
    });
    panic_message(f);
    LAST.with(|last| last.borrow_mut().take())
        .expect("no panic location")
}

#[test]
fn store_pointer_failures_panic_at_the_callers_line() {
    let heap = Box::new([0u8; 8]);
    let mut slot: *const u8 = std::ptr::null();
    let slot_addr = &mut slot as *mut *const u8;
    let line = line!() + 3;
    let at = with_check_mode(CheckMode::Args, || {
        // SAFETY: `slot` is a valid, aligned slot.
        panic_location(|| unsafe { store_pointer(slot_addr, heap.as_ptr()) })
    });
    assert_eq!(at, (file!().to_string(), line));
}

#[test]
fn returned_pointer_failures_panic_at_the_callers_line() {
    let heap = Box::new([0u8; 8]);
    let line = line!() + 2;
    let at = with_check_mode(CheckMode::Args, || {
        panic_location(|| check_returned("blob", &heap.as_ptr(), Extent::len(8usize)))
    });
    assert_eq!(at, (file!().to_string(), line));
}

#[test]
fn threads_are_named_by_name_and_os_tid() {
    register_thread();
    let here = ThreadNumber::current();
    assert_eq!(here.to_string(), this_thread());
    assert_eq!(here.os_tid(), Some(tid()));
}

/// An import that keeps its buffer (io_uring's `prep_read`, an `aiocb`):
/// `write` stands in for the symbol; only the wrapper's check runs here.
mod keeps {
    #[pointer_escapes::pointer_escapes]
    unsafe extern "C" {
        pub fn write(
            fd: i32,
            #[escapes(retained, bytes = n)] buf: *const std::ffi::c_void,
            n: usize,
        ) -> isize;
    }
}

#[test]
fn retained_failures_at_an_import_panic_at_the_callers_line() {
    let heap = Box::new([0u8; 8]);
    let line = line!() + 4;
    let at = with_check_mode(CheckMode::Args, || {
        panic_location(|| {
            // SAFETY: 8 valid bytes; the check refuses before write(2) runs.
            unsafe { keeps::write(-1, heap.as_ptr().cast(), heap.len()) };
        })
    });
    assert_eq!(at, (file!().to_string(), line));
}

/// An annotated function of the user's own (not an import): a failure
/// panics at the function's `#[pointer_escapes]` line, in the user's file,
/// never inside the library. (`#[track_caller]` is not put on the user's function: it would
/// also move the location of panics in the body, such as an `unwrap`.)
#[pointer_escapes::pointer_escapes]
unsafe fn keeps_fn(#[escapes(retained, bytes = n)] buf: *const u8, n: usize) -> usize {
    let _ = buf;
    n
}
const KEEPS_FN_LINE: u32 = line!() - 5;

#[test]
fn retained_failures_at_an_annotated_fn_panic_at_its_attribute() {
    let heap = Box::new([0u8; 8]);
    let at = with_check_mode(CheckMode::Args, || {
        panic_location(|| {
            // SAFETY: 8 valid bytes; the body reads nothing.
            unsafe { keeps_fn(heap.as_ptr(), heap.len()) };
        })
    });
    assert_eq!(at, (file!().to_string(), KEEPS_FN_LINE));
}

/// Input 4 of issue 13: an owner registers its own address as a callback
/// context from `&mut self` while it lives on the stack (and will be moved
/// out of its constructor): C keeps a pointer into a frame. Refused, with
/// the advice to box it; the boxed owner passes.
mod owner_registers_itself {
    use pointer_escapes::{pointer_escapes, OwnedPin};
    use std::ffi::c_void;

    /// C's `set_callback(handle, cb, user_data)`: keeps `user_data`.
    #[pointer_escapes]
    pub unsafe fn set_callback(
        handle: usize,
        #[escapes(retained, pointee = Owner)] user_data: *mut c_void,
    ) -> usize {
        let _ = user_data;
        handle
    }

    pub struct Owner {
        pub handle: usize,
        pub seen: u64,
    }

    // SAFETY: `Owner` holds no pointers.
    unsafe impl pointer_escapes::Referents for Owner {
        const HOLDS_POINTERS: bool = false;
        fn visit_referents<V: pointer_escapes::Visitor>(&self, _: &mut V) {}
    }

    impl Owner {
        pub fn register(&mut self) -> usize {
            // SAFETY: `self` is a live Owner; the wrapper reads nothing.
            unsafe { set_callback(self.handle, self as *mut Self as *mut c_void) }
        }
    }

    pub fn boxed(owner: Owner) -> (OwnedPin<Box<Owner>>, usize) {
        let mut pinned = OwnedPin::new(Box::new(owner));
        let handle = pinned.len(); // one Owner
        let p = pinned.as_mut_ptr();
        // SAFETY: the Owner lives in the OwnedPin until into_inner.
        let h = unsafe { set_callback(handle, p.cast()) };
        (pinned, h)
    }
}

#[test]
fn an_owner_registering_its_own_stack_address_is_refused() {
    use owner_registers_itself::*;
    let mut owner = Owner { handle: 7, seen: 0 };
    let msg = with_check_mode(CheckMode::Args, || {
        panic_message(|| {
            owner.register();
        })
    });
    assert_mentions(
        &msg,
        &[
            "`set_callback`",
            "`user_data`",
            "on the stack of thread",
            "OwnedPin::new(Box::new(",
        ],
    );
    owner.seen += 1;
    let (pinned, h) = with_check_mode(CheckMode::Args, || boxed(owner));
    assert_eq!(h, 1);
    let back = pinned.into_inner();
    assert_eq!((back.handle, back.seen), (7, 1));
}
