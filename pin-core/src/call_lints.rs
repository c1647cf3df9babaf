//! Type-dependent decisions of `#[pointer_escapes]` that a proc macro
//! cannot take from the syntax alone: which compile-time warning a raw
//! pointer's pointee raises, and whether the pointee of a type alias may be
//! read; and `pointee = T`'s cast. (The checks of pointers C keeps,
//! `retained` and `returns(..)`, live in `check::retained`.) Generated code reaches this through
//! `pointer_escapes::__private`; it is not public API.
//!
//! # The warning
//!
//! A pointer whose pointee is not read (a safe fn's raw pointer, an
//! unmarked `*mut`) deserves a warning only when a check would have found
//! something: when the pointee's type has referents. Stable Rust lets a
//! macro warn in one way only, through the `deprecated` lint (the crate
//! `proc-macro-warning` uses the same trick). So the macro emits, per
//! parameter, a unit struct with a `#[deprecated(note = "..")]` inherent
//! method `warn`, and calls
//!
//! ```text
//! (&&LintProbe::of(&param)).lint(TheStruct).warn();
//! ```
//!
//! Autoref specialisation picks the first impl whose bounds hold: the
//! pointee holds no pointers ([`PointerFree`]): `lint` returns [`Quiet`]; it
//! implements `Referents`: `lint` returns the struct, whose deprecated
//! `warn` raises the warning at the parameter's type; anything else (an
//! unbounded generic): `Quiet`. `Quiet::warn` does nothing, so the call
//! costs nothing either way.

use crate::call::{CheckFn, EscapingPointer};
use crate::referents::Referents;
use core::marker::PhantomData;

/// A type that can never hold a pointer: a raw pointer to it has nothing
/// to check, so leaving its pointee unread deserves no warning.
///
/// Implemented for integers, floats, `bool`, `char`, `()`, `c_void`, `str`,
/// `CStr`, atomics, `PhantomData` and arrays of those. Selecting a warning
/// is all it does, so it is a safe trait.
pub trait PointerFree {}

// The scalar impls sit beside their `Referents` impls (`no_referents!` in
// `referents/impls.rs`): one list of the types that hold no pointers.
impl<T: ?Sized> PointerFree for PhantomData<T> {}
impl<T: PointerFree> PointerFree for [T] {}
impl<T: PointerFree, const N: usize> PointerFree for [T; N] {}

/// Probe for the warning: `(&&LintProbe::of(&param)).lint(warning)`.
pub struct LintProbe<P>(PhantomData<fn() -> P>);

impl<P> LintProbe<P> {
    /// A probe for the type of `_pointer`.
    #[inline(always)]
    pub fn of(_pointer: &P) -> LintProbe<P> {
        LintProbe(PhantomData)
    }
}

/// What `lint` returns when there is nothing to warn about.
pub struct Quiet;

impl Quiet {
    /// Does nothing (the warning's struct has a deprecated `warn`).
    #[inline(always)]
    pub fn warn(self) {}
}

/// First choice: the pointee holds no pointers, nothing to warn about.
pub trait PointeeHoldsNoPointers {
    /// [`Quiet`].
    fn lint<W>(&self, warning: W) -> Quiet;
}

impl<P: EscapingPointer> PointeeHoldsNoPointers for &LintProbe<P>
where
    P::Target: PointerFree,
{
    #[inline(always)]
    fn lint<W>(&self, _warning: W) -> Quiet {
        Quiet
    }
}

/// Second choice: the pointee implements `Referents`, so a check was
/// possible: the warning.
pub trait PointeeHasReferents {
    /// `warning`, whose deprecated `warn` raises the warning.
    fn lint<W>(&self, warning: W) -> W;
}

impl<P: EscapingPointer> PointeeHasReferents for &&LintProbe<P>
where
    P::Target: Referents,
{
    #[inline(always)]
    fn lint<W>(&self, warning: W) -> W {
        warning
    }
}

/// Last choice: nothing is known about the pointee (an unbounded generic).
pub trait PointeeUnknown {
    /// [`Quiet`].
    fn lint<W>(&self, warning: W) -> Quiet;
}

impl<P> PointeeUnknown for LintProbe<P> {
    #[inline(always)]
    fn lint<W>(&self, _warning: W) -> Quiet {
        Quiet
    }
}

/// Probe for a type alias in an `unsafe fn`: its pointee is checked only
/// when the type is a `*const` pointer (an alias of `*mut T` may point at
/// an uninitialised out-parameter, which must not be read):
/// `(&ConstProbe::of(&param)).keep_if_const(check)`.
pub struct ConstProbe<P>(PhantomData<fn() -> P>);

impl<P> ConstProbe<P> {
    /// A probe for the type of `_pointer`.
    #[inline(always)]
    pub fn of(_pointer: &P) -> ConstProbe<P> {
        ConstProbe(PhantomData)
    }
}

/// Picked for `*const T` and `Option<*const T>`.
pub trait ConstPointee {
    /// `check`, unchanged.
    fn keep_if_const(&self, check: Option<CheckFn>) -> Option<CheckFn>;
}

impl<T> ConstPointee for ConstProbe<*const T> {
    #[inline(always)]
    fn keep_if_const(&self, check: Option<CheckFn>) -> Option<CheckFn> {
        check
    }
}

impl<T> ConstPointee for ConstProbe<Option<*const T>> {
    #[inline(always)]
    fn keep_if_const(&self, check: Option<CheckFn>) -> Option<CheckFn> {
        check
    }
}

/// Picked otherwise (`*mut T`, `NonNull<T>`): no check.
pub trait WritablePointee {
    /// `None`.
    fn keep_if_const(&self, check: Option<CheckFn>) -> Option<CheckFn>;
}

impl<P> WritablePointee for &ConstProbe<P> {
    #[inline(always)]
    fn keep_if_const(&self, _check: Option<CheckFn>) -> Option<CheckFn> {
        None
    }
}

/// `#[escapes(pointee = T)]`: the pointer `ptr` taken as a `*const T`, so
/// that it is pinned with `T`'s size and checked through `T: Referents`
/// (Go inspects what an `unsafe.Pointer` leads to). Only the address is
/// used; nothing is read here.
#[inline(always)]
pub fn pointee_as<T, P: EscapingPointer>(ptr: &P) -> *const T {
    ptr.target().cast::<T>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::{HasReferents as _, Probe};

    /// Which choice the warning probe makes for `P`: `true` when it hands
    /// back the warning.
    struct Warned;

    #[test]
    fn the_warning_is_picked_only_for_pointees_with_referents() {
        use core::any::Any;
        fn picked<R: Any>(_: R) -> bool {
            core::any::TypeId::of::<R>() == core::any::TypeId::of::<Warned>()
        }
        let with_referents: *mut *const u8 = core::ptr::null_mut();
        let pointer_free: *const [u32; 4] = core::ptr::null();
        let void: *mut core::ffi::c_void = core::ptr::null_mut();
        assert!(picked((&&LintProbe::of(&with_referents)).lint(Warned)));
        assert!(!picked((&&LintProbe::of(&pointer_free)).lint(Warned)));
        assert!(!picked((&&LintProbe::of(&void)).lint(Warned)));
        let vec_ptr: Option<core::ptr::NonNull<Vec<u8>>> = None;
        assert!(picked((&&LintProbe::of(&vec_ptr)).lint(Warned)));
    }

    #[test]
    // The borrows pick the probes' impls (autoref specialisation).
    #[allow(clippy::needless_borrow)]
    fn only_const_aliases_keep_their_check() {
        type ConstAlias = *const Vec<u8>;
        type MutAlias = *mut Vec<u8>;
        let c: ConstAlias = core::ptr::null();
        let m: MutAlias = core::ptr::null_mut();
        let n: Option<core::ptr::NonNull<Vec<u8>>> = None;
        let check_c = (&Probe::of(&c)).check_fn();
        assert!(check_c.is_some());
        assert!((&ConstProbe::of(&c)).keep_if_const(check_c).is_some());
        let check_m = (&Probe::of(&m)).check_fn();
        assert!(check_m.is_some());
        assert!((&ConstProbe::of(&m)).keep_if_const(check_m).is_none());
        let check_n = (&Probe::of(&n)).check_fn();
        assert!((&ConstProbe::of(&n)).keep_if_const(check_n).is_none());
    }
}
