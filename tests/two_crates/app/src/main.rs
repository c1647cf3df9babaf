//! An application whose dependency turned its own checks off: the
//! dependency's annotated functions pin and check nothing, this crate's
//! still do, in the mode the application set.

use pointer_escapes::{is_pinned, pin_count, pointer_escapes, set_check_mode, CheckMode};

#[pointer_escapes]
fn observe(#[escapes(len = n)] p: *const u32, n: usize) -> usize {
    pin_count(p)
}

#[pointer_escapes]
unsafe fn send_iov(#[escapes(len = iovcnt)] iov: *const libc::iovec, iovcnt: i32) -> bool {
    is_pinned(iov)
}

fn main() {
    set_check_mode(CheckMode::Deep);
    let values = [1u32, 2, 3];
    let buf = [0u8; 8];
    let iov = [libc::iovec {
        iov_base: buf.as_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    }];

    let dep_pins = two_crates_dep::observe(values.as_ptr(), 3);
    // SAFETY: one live iovec.
    let dep_refused =
        std::panic::catch_unwind(|| unsafe { two_crates_dep::send_iov(iov.as_ptr(), 1) }).is_err();
    let app_pins = observe(values.as_ptr(), 3);
    // SAFETY: one live iovec.
    let app_refused = std::panic::catch_unwind(|| unsafe { send_iov(iov.as_ptr(), 1) }).is_err();

    println!("dep: pins {dep_pins}, refused {dep_refused}");
    println!("app: pins {app_pins}, refused {app_refused}");
}
