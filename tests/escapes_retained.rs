//! Pointers C keeps (SPEC, second revision): `#[escapes(retained)]`,
//! `#[escapes(pointee = T)]` and `#[pointer_escapes(returns(retained))]`,
//! in checked mode. A pointer C keeps after the call must be covered by a
//! pin that outlives the call; the call's own pin does not count.

use pointer_escapes::{is_pinned, pointer_escapes, set_check_mode, CheckMode, Pinner, Referents};
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

fn panic_text<R>(f: impl FnOnce() -> R) -> Option<String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => None,
        Err(payload) => Some(payload.downcast::<String>().map(|s| *s).unwrap_or_default()),
    }
}

/// A submission: C keeps `buf` until the operation completes.
#[pointer_escapes]
unsafe fn submit(#[escapes(retained, bytes = len)] buf: *mut u8, len: usize) -> bool {
    is_pinned(buf)
}

#[test]
fn retained_parameter_pinned_only_by_the_call_is_refused() {
    set_check_mode(CheckMode::Args);
    let mut buf = vec![0u8; 64];
    let message = panic_text(|| {
        // SAFETY: 64 writable bytes.
        unsafe { submit(buf.as_mut_ptr(), buf.len()) }
    })
    .expect("a buffer only the call pins is refused");
    assert!(message.contains("`submit`"), "{message}");
    assert!(message.contains("`buf`"), "{message}");
    assert!(message.contains("retained"), "{message}");
    assert!(!is_pinned(buf.as_ptr()), "no pin outlives the refused call");
}

#[test]
fn retained_parameter_under_a_longer_pin_passes() {
    set_check_mode(CheckMode::Args);
    let mut buf = vec![0u8; 64];
    let len = buf.len();
    let mut pinner = Pinner::new();
    let ptr = pinner.pin_slice_mut(&mut buf);
    // SAFETY: 64 writable bytes, pinned beyond the call.
    assert!(unsafe { submit(ptr, len) });
    pinner.unpin();
}

#[derive(Referents)]
struct Payload {
    data: Box<u64>,
}

#[pointer_escapes]
unsafe fn get_payload(#[escapes(pointee = Payload)] arg: *mut c_void) -> bool {
    is_pinned(arg)
}

#[test]
fn void_pointee_is_checked_through_the_named_type() {
    set_check_mode(CheckMode::Args);
    let payload = Payload { data: Box::new(5) };
    let arg = &payload as *const Payload as *mut c_void;
    let message = panic_text(|| {
        // SAFETY: `arg` points at a live Payload.
        unsafe { get_payload(arg) }
    })
    .expect("the Box the payload holds is not pinned");
    assert!(message.contains("`get_payload`"), "{message}");
    assert!(message.contains("data"), "{message}");
    let mut pinner = Pinner::new();
    pinner.pin(&*payload.data);
    // SAFETY: as above; its Box is now pinned.
    assert!(unsafe { get_payload(arg) });
    pinner.unpin();
}

#[pointer_escapes(returns(retained, len = bytes.len()))]
fn blob(bytes: &[u8]) -> *const u8 {
    bytes.as_ptr()
}

#[test]
fn returned_pointer_pinned_only_for_the_call_is_refused() {
    set_check_mode(CheckMode::Args);
    let bytes = vec![1u8; 16];
    let message = panic_text(|| blob(&bytes)).expect("the returned buffer is not pinned");
    assert!(message.contains("`blob`"), "{message}");
    let mut pinner = Pinner::new();
    pinner.pin_slice(&bytes);
    assert_eq!(blob(&bytes), bytes.as_ptr());
    pinner.unpin();
}
