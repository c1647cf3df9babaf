//! `Referents` for the standard and libc types SPEC.md lists.

use super::{Referents, Via, Visitor};
use core::ffi::c_void;
use core::ptr::NonNull;
use std::ffi::{CStr, CString};
use std::io::{IoSlice, IoSliceMut};

macro_rules! no_referents {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: the type holds no pointers.
        unsafe impl Referents for $t {
            const HOLDS_POINTERS: bool = false;
            #[inline]
            fn visit_referents<V: Visitor>(&self, _visitor: &mut V) {}
        }
        // It can never hold a pointer: an unread pointee of this type
        // deserves no compile-time warning.
        impl crate::call_lints::PointerFree for $t {}
    )*};
}

no_referents!(
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    bool,
    char,
    (),
    str,
    c_void,
    CStr,
    core::sync::atomic::AtomicU8,
    core::sync::atomic::AtomicU32,
    core::sync::atomic::AtomicU64,
    core::sync::atomic::AtomicUsize,
);

// SAFETY: PhantomData holds nothing.
unsafe impl<T: ?Sized> Referents for core::marker::PhantomData<T> {
    const HOLDS_POINTERS: bool = false;
    fn visit_referents<V: Visitor>(&self, _visitor: &mut V) {}
}

// SAFETY: a shared reference borrows one valid `T` for longer than `self`
// is borrowed.
unsafe impl<T: Referents> Referents for &T {
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.borrowed(core::slice::from_ref(*self), Via::Itself);
    }
}

// SAFETY: a mutable reference borrows one valid `T`; while `self` is
// borrowed shared, nobody can change it.
unsafe impl<T: Referents> Referents for &mut T {
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.borrowed(core::slice::from_ref(&**self), Via::Itself);
    }
}

// SAFETY: a slice reference borrows `len` valid elements.
unsafe impl<T: Referents> Referents for &[T] {
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.borrowed(self, Via::Itself);
    }
}

// SAFETY: as for `&[T]`.
unsafe impl<T: Referents> Referents for &mut [T] {
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.borrowed(self, Via::Itself);
    }
}

// SAFETY: a `&str` points at `len` bytes.
unsafe impl Referents for &str {
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.bytes(self.as_ptr(), self.len(), Via::Itself);
    }
}

// SAFETY: a `&CStr` points at its bytes and the NUL.
unsafe impl Referents for &CStr {
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.bytes(
            self.as_ptr().cast(),
            self.to_bytes_with_nul().len(),
            Via::Itself,
        );
    }
}

// SAFETY: a slice holds its elements inline; their referents are its own.
unsafe impl<T: Referents> Referents for [T] {
    const HOLDS_POINTERS: bool = T::HOLDS_POINTERS;
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        for (i, item) in self.iter().enumerate() {
            visitor.inline(item, Via::Index(i));
        }
    }
}

// SAFETY: as for `[T]`.
unsafe impl<T: Referents, const N: usize> Referents for [T; N] {
    const HOLDS_POINTERS: bool = T::HOLDS_POINTERS && N != 0;
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        self[..].visit_referents(visitor);
    }
}

// SAFETY: a `Vec` owns `len` initialised elements (the spare capacity
// holds none; an empty Vec reports nothing).
unsafe impl<T: Referents> Referents for Vec<T> {
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.borrowed(self.as_slice(), Via::Itself);
    }
}

// SAFETY: a `Box<T>` owns one valid `T`.
unsafe impl<T: Referents> Referents for Box<T> {
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.borrowed(core::slice::from_ref(&**self), Via::Itself);
    }
}

// SAFETY: a `Box<[T]>` owns `len` valid elements.
unsafe impl<T: Referents> Referents for Box<[T]> {
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.borrowed(self, Via::Itself);
    }
}

// SAFETY: a `Box<str>` points at `len` bytes.
unsafe impl Referents for Box<str> {
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.bytes(self.as_ptr(), self.len(), Via::Itself);
    }
}

// SAFETY: a `String` points at `len` initialised bytes.
unsafe impl Referents for String {
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.bytes(self.as_ptr(), self.len(), Via::Itself);
    }
}

// SAFETY: a `CString` points at its bytes and the NUL that C reads.
unsafe impl Referents for CString {
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.bytes(
            self.as_ptr().cast(),
            self.as_bytes_with_nul().len(),
            Via::Itself,
        );
    }
}

// SAFETY: an `IoSlice` points at `len` bytes.
unsafe impl Referents for IoSlice<'_> {
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.bytes(self.as_ptr(), self.len(), Via::Field("iov_base"));
    }
}

// SAFETY: an `IoSliceMut` points at `len` bytes.
unsafe impl Referents for IoSliceMut<'_> {
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.bytes(self.as_ptr(), self.len(), Via::Field("iov_base"));
    }
}

// SAFETY: by the iovec contract, `iov_base` points at `iov_len` bytes; the
// checker only reads nothing through bytes, it only asks whether they are
// pinned.
unsafe impl Referents for libc::iovec {
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.bytes(
            self.iov_base as *const u8,
            self.iov_len,
            Via::Field("iov_base"),
        );
    }
}

// SAFETY: a raw pointer is reported as a raw pointer to one `T` (its
// extent); nothing here claims it is live, so a check reads through it only
// on an `unsafe` promise.
unsafe impl<T: Referents> Referents for *const T {
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.pointer(*self, 1, Via::Itself);
    }
}

// SAFETY: as for `*const T`.
unsafe impl<T: Referents> Referents for *mut T {
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.pointer(*self as *const T, 1, Via::Itself);
    }
}

// SAFETY: as for `*const T`.
unsafe impl<T: Referents> Referents for NonNull<T> {
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.pointer(self.as_ptr() as *const T, 1, Via::Itself);
    }
}

// SAFETY: `Some` holds what its content holds; `None` holds nothing.
unsafe impl<T: Referents> Referents for Option<T> {
    const HOLDS_POINTERS: bool = T::HOLDS_POINTERS;
    #[inline]
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        if let Some(inner) = self {
            inner.visit_referents(visitor);
        }
    }
}

// SAFETY: a cell holds its content inline; reading it needs a copy, so only
// `Copy` contents are supported, and what the copy reports about its own
// bytes is re-reported, as raw pointers, at the cell's (`Visitor::copied`):
// the copy dies with this call and the cell's content can change.
unsafe impl<T: Referents + Copy> Referents for core::cell::Cell<T> {
    const HOLDS_POINTERS: bool = T::HOLDS_POINTERS;
    fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
        visitor.copied(self.as_ptr().cast_const(), &self.get(), Via::Itself);
    }
}

macro_rules! tuple_referents {
    ($(($($name:ident : $idx:tt),+))*) => {$(
        // SAFETY: a tuple holds its fields inline.
        unsafe impl<$($name: Referents),+> Referents for ($($name,)+) {
            const HOLDS_POINTERS: bool = false $(|| $name::HOLDS_POINTERS)+;
            #[inline]
            fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
                $( visitor.inline(&self.$idx, Via::Field(stringify!($idx))); )+
            }
        }
    )*};
}

tuple_referents! {
    (A: 0)
    (A: 0, B: 1)
    (A: 0, B: 1, C: 2)
    (A: 0, B: 1, C: 2, D: 3)
    (A: 0, B: 1, C: 2, D: 3, E: 4)
    (A: 0, B: 1, C: 2, D: 3, E: 4, F: 5)
    (A: 0, B: 1, C: 2, D: 3, E: 4, F: 5, G: 6)
    (A: 0, B: 1, C: 2, D: 3, E: 4, F: 5, G: 6, H: 7)
}

#[cfg(test)]
mod tests {
    use crate::referents::direct_referents;
    use std::io::IoSlice;

    #[test]
    fn iovec_reports_its_buffer() {
        let buf = [0u8; 24];
        let iov = libc::iovec {
            iov_base: buf.as_ptr() as *mut _,
            iov_len: buf.len(),
        };
        let r = direct_referents(&iov);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].addr(), buf.as_ptr() as usize);
        assert_eq!(r[0].len(), 24);
    }

    #[test]
    fn empty_and_null_report_nothing() {
        assert!(direct_referents(&Vec::<u8>::new()).is_empty());
        assert!(direct_referents(&core::ptr::null::<u32>()).is_empty());
        assert!(direct_referents(&None::<Box<u8>>).is_empty());
        assert!(direct_referents(&[IoSlice::new(&[])]).is_empty());
    }

    #[test]
    fn tuples_and_arrays_report_each_member() {
        let (a, b) = (5u32, 6u64);
        let t = (&a, 7u8, &b);
        assert_eq!(direct_referents(&t).len(), 2);
        let arr = [&a, &a, &a];
        assert_eq!(direct_referents(&arr).len(), 3);
    }
}
