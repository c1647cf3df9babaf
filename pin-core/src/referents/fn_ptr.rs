//! `Referents` for C function pointers: the callback fields of C structs
//! (zlib's `alloc_func`, bindgen's `Option<unsafe extern "C" fn(..)>`).
//!
//! A function pointer points at code, which is static memory: it never
//! moves and is never freed, so there is nothing to pin and nothing for the
//! checker to follow (cgo treats a C function pointer the same way). What
//! the function does with its own arguments is checked where it is called,
//! not here. `Option<fn>` is covered by the `Option<T>` impl, which reports
//! what `T` reports: nothing.

use super::{Referents, Visitor};

macro_rules! fn_ptr_referents {
    // One arity: the safe and unsafe forms of each ABI C callbacks use,
    // plus C's variadic form where there is a first parameter.
    (@one $($arg:ident),*) => {
        fn_ptr_referents!(@abi "C" $($arg),*);
        fn_ptr_referents!(@abi "C-unwind" $($arg),*);
    };
    (@abi $abi:literal $($arg:ident),*) => {
        // SAFETY: a function pointer points at code (static memory) and
        // reports nothing, so `HOLDS_POINTERS = false` holds.
        unsafe impl<Ret $(, $arg)*> Referents for extern $abi fn($($arg),*) -> Ret {
            const HOLDS_POINTERS: bool = false;
            #[inline]
            fn visit_referents<V: Visitor>(&self, _visitor: &mut V) {}
        }
        // SAFETY: as above.
        unsafe impl<Ret $(, $arg)*> Referents for unsafe extern $abi fn($($arg),*) -> Ret {
            const HOLDS_POINTERS: bool = false;
            #[inline]
            fn visit_referents<V: Visitor>(&self, _visitor: &mut V) {}
        }
        impl<Ret $(, $arg)*> crate::call_lints::PointerFree for extern $abi fn($($arg),*) -> Ret {}
        impl<Ret $(, $arg)*> crate::call_lints::PointerFree for unsafe extern $abi fn($($arg),*) -> Ret {}
    };
    (@variadic $first:ident $(, $arg:ident)*) => {
        // SAFETY: as above; the variadic arguments are the callee's, not
        // data this pointer holds.
        unsafe impl<Ret, $first $(, $arg)*> Referents for unsafe extern "C" fn($first $(, $arg)*, ...) -> Ret {
            const HOLDS_POINTERS: bool = false;
            #[inline]
            fn visit_referents<V: Visitor>(&self, _visitor: &mut V) {}
        }
        impl<Ret, $first $(, $arg)*> crate::call_lints::PointerFree for unsafe extern "C" fn($first $(, $arg)*, ...) -> Ret {}
    };
    ($( ($($arg:ident),*) )*) => {$(
        fn_ptr_referents!(@one $($arg),*);
    )*};
}

fn_ptr_referents! {
    ()
    (A)
    (A, B)
    (A, B, C)
    (A, B, C, D)
    (A, B, C, D, E)
    (A, B, C, D, E, F)
    (A, B, C, D, E, F, G)
    (A, B, C, D, E, F, G, H)
    (A, B, C, D, E, F, G, H, I)
    (A, B, C, D, E, F, G, H, I, J)
    (A, B, C, D, E, F, G, H, I, J, K)
    (A, B, C, D, E, F, G, H, I, J, K, L)
}

fn_ptr_referents!(@variadic A);
fn_ptr_referents!(@variadic A, B);
fn_ptr_referents!(@variadic A, B, C);
fn_ptr_referents!(@variadic A, B, C, D);
fn_ptr_referents!(@variadic A, B, C, D, E);
fn_ptr_referents!(@variadic A, B, C, D, E, F);

#[cfg(test)]
mod tests {
    use crate::referents::{direct_referents, Referents};
    use core::ffi::{c_int, c_uint, c_void};

    /// zlib's `alloc_func`, as bindgen spells it.
    type AllocFunc = Option<
        unsafe extern "C" fn(opaque: *mut c_void, items: c_uint, size: c_uint) -> *mut c_void,
    >;

    unsafe extern "C" fn alloc(_: *mut c_void, _: c_uint, _: c_uint) -> *mut c_void {
        core::ptr::null_mut()
    }
    extern "C" fn twelve(
        _: u8,
        _: u8,
        _: u8,
        _: u8,
        _: u8,
        _: u8,
        _: u8,
        _: u8,
        _: u8,
        _: u8,
        _: u8,
        _: u8,
    ) {
    }

    #[test]
    fn function_pointers_are_static_code_and_report_nothing() {
        let set: AllocFunc = Some(alloc);
        assert!(direct_referents(&set).is_empty());
        assert!(direct_referents(&None::<extern "C" fn()>).is_empty());
        let many: extern "C" fn(u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8, u8) = twelve;
        assert!(direct_referents(&many).is_empty());
        const {
            assert!(!<AllocFunc as Referents>::HOLDS_POINTERS);
            assert!(
                !<Option<unsafe extern "C" fn(c_int, ...) -> c_int> as Referents>::HOLDS_POINTERS
            );
            assert!(!<extern "C-unwind" fn() as Referents>::HOLDS_POINTERS);
        }
    }

    #[test]
    fn a_struct_of_callbacks_holds_no_pointers() {
        #[repr(C)]
        struct Callbacks {
            zalloc: AllocFunc,
            zfree: Option<unsafe extern "C" fn(opaque: *mut c_void, address: *mut c_void)>,
        }
        // SAFETY: reports what its fields report (nothing).
        unsafe impl Referents for Callbacks {
            const HOLDS_POINTERS: bool = AllocFunc::HOLDS_POINTERS
                || <Option<unsafe extern "C" fn(*mut c_void, *mut c_void)>>::HOLDS_POINTERS;
            fn visit_referents<V: crate::referents::Visitor>(&self, visitor: &mut V) {
                visitor.inline(&self.zalloc, crate::referents::Via::Field("zalloc"));
                visitor.inline(&self.zfree, crate::referents::Via::Field("zfree"));
            }
        }
        let c = Callbacks {
            zalloc: Some(alloc),
            zfree: None,
        };
        assert!(direct_referents(&c).is_empty());
        const { assert!(!Callbacks::HOLDS_POINTERS) };
    }
}
