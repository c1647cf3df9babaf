// `crate = path` names the run-time through a re-export, as a binding crate
// that re-exports pointer-escapes would.
#![deny(warnings)]

mod reexport {
    pub use pointer_escapes as pe;
}

#[pointer_escapes::pointer_escapes(crate = crate::reexport::pe)]
unsafe fn send(#[escapes(len = n)] buf: *const u8, n: usize) -> bool {
    pointer_escapes::is_pinned(buf)
}

#[pointer_escapes::pointer_escapes(crate = "crate::reexport::pe")]
fn send_safe(buf: *const u8) -> bool {
    pointer_escapes::is_pinned(buf)
}

#[pointer_escapes::pointer_escapes(crate = crate::reexport::pe)]
unsafe extern "C" {
    fn strlen(s: *const std::ffi::c_char) -> usize;
}

fn main() {
    pointer_escapes::set_check_mode(pointer_escapes::CheckMode::Args);
    let data = vec![0u8; 4];
    // SAFETY: four valid bytes.
    assert!(unsafe { send(data.as_ptr(), 4) });
    assert!(send_safe(data.as_ptr()));
    // SAFETY: a NUL-terminated literal.
    assert_eq!(unsafe { strlen(c"abc".as_ptr()) }, 3);
}
