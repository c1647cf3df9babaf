//! `#[escapes(cstr)]`: the extent of a NUL-terminated string, for generated
//! code (through `__private`; not public API).

use crate::call::{EscapingPointer, Extent};

/// A C character type: what `#[escapes(cstr)]` may point at.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a C character type, so a pointer to it is not a C string",
    label = "#[escapes(cstr)] needs a pointer to `c_char` (`i8` or `u8`)",
    note = "for a buffer of other elements, give its extent with #[escapes(len = ..)] or #[escapes(bytes = ..)]"
)]
pub trait CChar: sealed::Sealed {}
impl CChar for i8 {}
impl CChar for u8 {}

/// Only `i8` and `u8`: the string is read as bytes.
mod sealed {
    pub trait Sealed {}
    impl Sealed for i8 {}
    impl Sealed for u8 {}
}

/// The extent of the string at `ptr`, its terminating NUL included
/// (`strlen(ptr) + 1` bytes); one element (nothing pinned) for null.
///
/// # Safety
/// `ptr` is null or points at a NUL-terminated string that stays
/// unchanged while this runs (the `unsafe fn`'s caller promises it for a
/// `cstr` parameter).
#[inline]
pub unsafe fn cstr_extent<P: EscapingPointer>(ptr: &P) -> Extent
where
    P::Target: CChar,
{
    let target = ptr.target();
    if target.is_null() {
        return Extent::One;
    }
    // SAFETY: the caller promises a NUL-terminated string; `CChar` is one
    // byte wide, so the cast reads the same bytes. `CStr::from_ptr` rather
    // than libc's `strlen`, so that Miri can run it.
    let with_nul = unsafe { core::ffi::CStr::from_ptr(target.cast()) }.count_bytes() + 1;
    Extent::bytes(with_nul)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extent_counts_the_nul_and_null_is_one() {
        let s = c"hello";
        let p: *const core::ffi::c_char = s.as_ptr();
        // SAFETY: a valid C string literal.
        let e = unsafe { cstr_extent(&p) };
        assert!(matches!(e, Extent::Bytes(Ok(6))), "{e:?}");
        let null: *const u8 = core::ptr::null();
        // SAFETY: null is allowed.
        assert!(matches!(unsafe { cstr_extent(&null) }, Extent::One));
    }
}
