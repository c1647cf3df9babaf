//! A `referents = path` function that panics while the check runs: the
//! call's pins are released by the unwinding (no pin leaks), and the next
//! call checks normally (no state left borrowed).

use pointer_escapes::{is_pinned, pointer_escapes, set_check_mode, CheckMode, Visitor};
use std::panic::{catch_unwind, AssertUnwindSafe};

#[repr(C)]
struct Foreign {
    data: *const u8,
    len: usize,
}

/// # Safety
/// `value` is a valid `Foreign`.
unsafe fn visit_panicking<V: Visitor>(value: &Foreign, _visitor: &mut V) {
    if value.len == usize::MAX {
        panic!("visit_panicking: refused");
    }
}

#[pointer_escapes]
unsafe fn take(#[escapes(referents = visit_panicking)] f: *const Foreign) -> bool {
    is_pinned(f.cast::<u8>())
}

/// Rule: no error path leaks a pin, including a user's `referents = path`
/// function panicking during the check.
#[test]
fn panicking_referents_path_releases_the_call_pins() {
    set_check_mode(CheckMode::Args);
    let bad = Box::new(Foreign {
        data: std::ptr::null(),
        len: usize::MAX,
    });
    let bad_ptr: *const Foreign = &*bad;
    // SAFETY: `bad` is a live `Foreign`.
    let result = catch_unwind(AssertUnwindSafe(|| unsafe { take(bad_ptr) }));
    let message = result.expect_err("the path panicked");
    let text = message
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| message.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(text.contains("visit_panicking: refused"), "{text}");
    assert!(
        !is_pinned(bad_ptr.cast::<u8>()),
        "the call's pin outlived the panic"
    );
    let good = Box::new(Foreign {
        data: std::ptr::null(),
        len: 0,
    });
    // SAFETY: `good` is a live `Foreign`.
    assert!(unsafe { take(&*good) });
    assert!(!is_pinned((&*good as *const Foreign).cast::<u8>()));
}
