//! `CallPins`: the run-time half of `#[pointer_escapes]`, the pins of one
//! call. Generated code reaches it through `pointer_escapes::__private`; it
//! is not public API.
//!
//! The generated prologue is one `CallPins::new(name, |recorder| ..)` whose
//! closure names every escaping parameter; `new` then pins them all at once
//! (published in the calling thread's record: no lock, see
//! `registry::calls`) and runs the argument checks. The guard it returns
//! releases the pins on every exit path: return, `?`, unwinding, and a
//! dropped future.

use crate::check::walk::{self, Root, Trust};
use crate::check::{args_checked, call_pins_wanted, CheckFailure, RootKind};
use crate::origin::Site;
use crate::referents::{collect_direct, Referents, RegionList};
use crate::region::Region;
use crate::registry::{self, CallPinned, PinIds};
use crate::sys_vec::SysVec;
use core::mem::ManuallyDrop;
use core::panic::Location;
use core::ptr::NonNull;

/// A pointer type `#[pointer_escapes]` pins: `*const T`, `*mut T`,
/// `NonNull<T>` and `Option` of those.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a raw pointer, so #[pointer_escapes] cannot pin it",
    label = "`#[escapes]` needs `*const T`, `*mut T`, `NonNull<T>` or an `Option` of those",
    note = "for a reference or slice parameter, use #[flow_through] instead"
)]
pub trait EscapingPointer: sealed::Pointer {
    /// What it points at.
    type Target;
    /// The address (null for `None`).
    fn target(&self) -> *const Self::Target;
}

impl<T> EscapingPointer for *const T {
    type Target = T;
    #[inline]
    fn target(&self) -> *const T {
        *self
    }
}

impl<T> EscapingPointer for *mut T {
    type Target = T;
    #[inline]
    fn target(&self) -> *const T {
        *self as *const T
    }
}

impl<T> EscapingPointer for NonNull<T> {
    type Target = T;
    #[inline]
    fn target(&self) -> *const T {
        self.as_ptr() as *const T
    }
}

impl<P: EscapingPointer> EscapingPointer for Option<P> {
    type Target = P::Target;
    #[inline]
    fn target(&self) -> *const P::Target {
        match self {
            Some(p) => p.target(),
            None => core::ptr::null(),
        }
    }
}

/// `EscapingPointer` and `FlowRoot` tell the checker what to read: they are
/// sealed, so only the library's own impls (raw pointers, `NonNull`,
/// `Option` of those; sized values, slices, `str`) can answer, and a user's
/// impl cannot name memory the argument does not hold.
mod sealed {
    use super::Referents;
    use core::ptr::NonNull;

    /// Seals `EscapingPointer`.
    pub trait Pointer {}
    impl<T> Pointer for *const T {}
    impl<T> Pointer for *mut T {}
    impl<T> Pointer for NonNull<T> {}
    impl<P: Pointer> Pointer for Option<P> {}

    /// Seals `FlowRoot`.
    pub trait Flow {}
    impl<T: Referents> Flow for T {}
    impl<T: Referents> Flow for [T] {}
    impl Flow for str {}
}

/// An integer usable as `#[escapes(len = ..)]` or `#[escapes(bytes = ..)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an integer, so it cannot be a pointer's length",
    label = "`len = ..` and `bytes = ..` take an integer expression",
    note = "write an integer expression, for example `len = iovcnt` or `bytes = n as usize`"
)]
pub trait EscapeLen: Copy {
    /// The length as `usize`, or the value as `i128` when it is negative or
    /// does not fit.
    fn to_len(self) -> Result<usize, i128>;
}

macro_rules! escape_len {
    ($($t:ty),*) => {$(
        impl EscapeLen for $t {
            #[inline]
            #[allow(irrefutable_let_patterns, clippy::unnecessary_fallible_conversions)]
            fn to_len(self) -> Result<usize, i128> {
                usize::try_from(self).map_err(|_| self as i128)
            }
        }
    )*};
}
escape_len!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize, i128);

impl EscapeLen for u128 {
    fn to_len(self) -> Result<usize, i128> {
        // The bad value as given, for the message; only values past
        // `i128::MAX` (which no length can be) are shown as that.
        usize::try_from(self).map_err(|_| i128::try_from(self).unwrap_or(i128::MAX))
    }
}

/// How much a pointer parameter pins.
#[derive(Clone, Copy, Debug)]
pub enum Extent {
    /// One element (the default).
    One,
    /// `#[escapes(len = n)]`: `n` elements, or the bad value.
    Elements(Result<usize, i128>),
    /// `#[escapes(bytes = n)]`: `n` bytes, or the bad value.
    Bytes(Result<usize, i128>),
}

impl Extent {
    /// `len = value`.
    #[inline]
    pub fn len<L: EscapeLen>(value: L) -> Extent {
        Extent::Elements(value.to_len())
    }

    /// `bytes = value`.
    #[inline]
    pub fn bytes<L: EscapeLen>(value: L) -> Extent {
        Extent::Bytes(value.to_len())
    }

    /// The element count, for pointers whose elements are checked or
    /// followed (`bytes` extents cover whole elements only).
    fn elements<T>(self) -> Option<usize> {
        match self {
            Extent::One => Some(1),
            Extent::Elements(n) => n.ok(),
            Extent::Bytes(n) => n
                .ok()
                .map(|b| b.checked_div(core::mem::size_of::<T>()).unwrap_or(0)),
        }
    }
}

/// Type-erased check of `count` elements at an address (an argument's
/// referents), chosen by the [`Probe`] or by [`FlowRoot`].
#[derive(Clone, Copy)]
pub struct CheckFn(ErasedCheck);

/// Checks `count` elements at an address, reading below them as `Trust`
/// allows.
pub(crate) type ErasedCheck =
    unsafe fn(&Root<'_>, usize, usize, Trust) -> Result<(), Box<CheckFailure>>;

impl CheckFn {
    /// The check of `T` values, or `None` when `T` holds no pointers (its
    /// extent being pinned is the whole check).
    fn of<T: Referents>() -> Option<CheckFn> {
        T::HOLDS_POINTERS.then_some(CheckFn(check_erased::<T>))
    }
}

/// # Safety
/// As [`walk::check_elements`]: `addr` points at `count` initialised `T`,
/// and with [`Trust::Caller`] the raw pointers below them are vouched for.
unsafe fn check_erased<T: Referents>(
    root: &Root<'_>,
    addr: usize,
    count: usize,
    trust: Trust,
) -> Result<(), Box<CheckFailure>> {
    // SAFETY: forwarded from the caller.
    unsafe { walk::check_elements(root, addr as *const T, count, trust) }
}

/// A `#[flow_through]` reference's referent seen as elements to check:
/// `&T` is one `T`, `&[T]` is `len` of them, `&str` holds no pointers.
pub trait FlowRoot: sealed::Flow {
    /// The first element's address, the element count, and their check.
    fn elements(&self) -> (usize, usize, Option<CheckFn>);
}

impl<T: Referents> FlowRoot for T {
    #[inline]
    fn elements(&self) -> (usize, usize, Option<CheckFn>) {
        (self as *const T as usize, 1, CheckFn::of::<T>())
    }
}

impl<T: Referents> FlowRoot for [T] {
    #[inline]
    fn elements(&self) -> (usize, usize, Option<CheckFn>) {
        (self.as_ptr() as usize, self.len(), CheckFn::of::<T>())
    }
}

impl FlowRoot for str {
    #[inline]
    fn elements(&self) -> (usize, usize, Option<CheckFn>) {
        (self.as_ptr() as usize, self.len(), None)
    }
}

/// Autoref probe: `(&Probe::of(&p)).check_fn()` finds a checker when the
/// pointee implements `Referents`, and `None` otherwise.
pub struct Probe<P>(core::marker::PhantomData<fn() -> P>);

impl<P> Probe<P> {
    /// A probe for the type of `_value`.
    #[inline]
    pub fn of(_value: &P) -> Probe<P> {
        Probe(core::marker::PhantomData)
    }
}

/// Picked when the pointee implements `Referents`.
pub trait HasReferents {
    /// The checker for the pointee.
    fn check_fn(&self) -> Option<CheckFn>;
}

impl<P: EscapingPointer> HasReferents for Probe<P>
where
    P::Target: Referents,
{
    #[inline]
    fn check_fn(&self) -> Option<CheckFn> {
        CheckFn::of::<P::Target>()
    }
}

/// Picked otherwise: nothing to check.
pub trait NoReferents {
    /// No checker.
    fn check_fn(&self) -> Option<CheckFn>;
}

impl<P> NoReferents for &Probe<P> {
    #[inline]
    fn check_fn(&self) -> Option<CheckFn> {
        None
    }
}

#[derive(Clone, Copy)]
struct PendingCheck {
    param: &'static str,
    addr: usize,
    count: usize,
    check: CheckFn,
    /// What the walk may read below the argument's own elements.
    trust: Trust,
    /// A `#[flow_through]` argument (for the failure's advice).
    flow_through: bool,
}

/// The pins of one `#[pointer_escapes]` call, released when dropped: what
/// the annotated function holds for the duration of its body.
///
/// Inactive (when nothing would read the pins: see `CheckMode`) it is one
/// word set to "inactive": building it is a branch and a store, dropping it
/// a branch, so an annotated call in a release build costs next to nothing.
/// The work of an active call happens out of line, in `CallPins::new`.
#[must_use]
pub struct CallPins {
    held: Held,
}

enum Held {
    /// Nothing reads call pins: none were recorded.
    Inactive,
    /// Recording, but the call had nothing to pin (null pointers).
    Empty,
    /// The call's pins, published in the thread's record (the usual case)
    /// or as one group in the shared table...
    Pinned(CallPinned),
    /// ...or one entry each, for calls with very many regions. Dropped by
    /// hand (`release_each`), so that dropping a `CallPins` needs no drop
    /// glue beyond the inline branch of `CallPins::drop`.
    Each(ManuallyDrop<PinIds>),
}

/// Collects what one call escapes, for `CallPins::new`: generated code calls
/// one method per escaping parameter.
pub struct CallRecorder {
    pub(crate) function: &'static str,
    regions: RegionList,
    /// The checks to run once everything is pinned: a few inline (most
    /// functions have one or two checked pointers), the rest on the heap.
    checks: [Option<PendingCheck>; INLINE_CHECKS],
    more_checks: SysVec<PendingCheck>,
}

const INLINE_CHECKS: usize = 4;

impl CallPins {
    /// The pins of one call of `function`: when they are recorded (see
    /// `CheckMode`), `record` names each escaping parameter; then they are
    /// all pinned (published in the calling thread's record: no lock) and
    /// the argument checks run
    /// (panicking on the first failure, after releasing the pins).
    #[inline]
    #[track_caller]
    pub fn new(function: &'static str, record: impl FnOnce(&mut CallRecorder)) -> CallPins {
        if !call_pins_wanted() {
            return CallPins {
                held: Held::Inactive,
            };
        }
        CallPins::record(function, Location::caller(), record)
    }

    #[inline(never)]
    #[track_caller]
    fn record(
        function: &'static str,
        site: Site,
        record: impl FnOnce(&mut CallRecorder),
    ) -> CallPins {
        let mut recorder = CallRecorder {
            function,
            regions: RegionList::new(),
            checks: [None; INLINE_CHECKS],
            more_checks: SysVec::new_in(std::alloc::System),
        };
        record(&mut recorder);
        let mut each = PinIds::new();
        let born = crate::report::pin_birth();
        let pinned = registry::pin_call(recorder.regions.as_slice(), site, born, &mut each);
        // Made before the checks run, so a failing check's unwinding
        // releases the pins.
        let pins = CallPins {
            held: match pinned {
                CallPinned::Elsewhere if !each.is_empty() => Held::Each(ManuallyDrop::new(each)),
                CallPinned::Elsewhere => Held::Empty,
                pinned => Held::Pinned(pinned),
            },
        };
        if recorder.checks[0].is_some() && args_checked() {
            recorder.run_checks();
        }
        pins
    }

    /// Whether this call recorded its pins (the check mode or the allocator
    /// wanted them).
    #[inline]
    pub fn is_active(&self) -> bool {
        !matches!(self.held, Held::Inactive)
    }
}

impl CallRecorder {
    /// A raw-pointer parameter of an `unsafe fn`: pins `extent` of it;
    /// `check` (from the probe) checks its referents once everything is
    /// pinned, in checked mode, reading through every raw pointer below
    /// them on the function's contract.
    ///
    /// # Safety
    /// With `check` set and checking on, `ptr` must point at `extent`
    /// initialised elements, and every raw pointer reachable from them
    /// must be valid for the extent its `Referents` impl reports (the
    /// annotated `unsafe fn`'s caller promises it).
    pub unsafe fn pointer<P: EscapingPointer>(
        &mut self,
        param: &'static str,
        ptr: &P,
        extent: Extent,
        check: Option<CheckFn>,
    ) {
        let target = ptr.target();
        let Some(region) = self.region(param, target, extent) else {
            return;
        };
        self.regions.push(region);
        if let (Some(check), Some(count)) = (check, extent.elements::<P::Target>()) {
            self.queue_check(PendingCheck {
                param,
                addr: target as usize,
                count,
                check,
                trust: Trust::Caller,
                flow_through: false,
            });
        }
    }

    /// A raw-pointer parameter of a safe function, or an out-parameter:
    /// pins `extent` of it and never reads through it (a safe function's
    /// caller promises nothing about the pointee, and an out-parameter's
    /// pointee may be uninitialised).
    pub fn pointer_without_check<P: EscapingPointer>(
        &mut self,
        param: &'static str,
        ptr: &P,
        extent: Extent,
    ) {
        // SAFETY: with no check, `pointer` only records the region; it does
        // not read through `ptr`.
        unsafe { self.pointer(param, ptr, extent, None) }
    }

    /// An `#[escapes(retained)]` parameter: C keeps this pointer after the
    /// call returns. Records a check, run with the call's other checks in
    /// `Args` and `Deep` mode, that every byte of `extent` of it is covered
    /// by a pin that outlives the call (not this call's own) or is static,
    /// and that none of it is a thread's stack or thread-local storage (see
    /// `check::retained`). Pins nothing itself (the parameter's `pointer`
    /// call pins it) and never reads through `ptr`.
    pub fn retained<P: EscapingPointer>(&mut self, param: &'static str, ptr: &P, extent: Extent) {
        let Some(region) = self.region(param, ptr.target(), extent) else {
            return;
        };
        self.queue_check(PendingCheck {
            param,
            addr: region.addr(),
            count: region.len(),
            check: CheckFn(crate::check::retained::argument_check::<P::Target>(extent)),
            trust: Trust::Borrows,
            flow_through: false,
        });
    }

    /// A `#[flow_through]` raw-pointer parameter: pins `extent` of it and
    /// the referents of each element; in checked mode, checks below them
    /// (flow-through is one level for pinning, never for checking).
    ///
    /// # Safety
    /// `ptr` must point at `extent` initialised elements, and every raw
    /// pointer reachable from them must be valid for the extent its
    /// `Referents` impl reports (the annotated `unsafe fn`'s contract).
    pub unsafe fn flow_through_pointer<P: EscapingPointer>(
        &mut self,
        param: &'static str,
        ptr: &P,
        extent: Extent,
    ) where
        P::Target: Referents,
    {
        let target = ptr.target();
        let Some(region) = self.region(param, target, extent) else {
            return;
        };
        self.regions.push(region);
        let count = extent.elements::<P::Target>().unwrap_or(0);
        // Pointer-free elements have no referents to pin: not one element
        // is visited (a 64 MiB `u8` extent costs what one byte does). An
        // extent that starts in a stack, static or TLS range and runs past
        // its end (a stale length) is not read either: the queued check
        // reports it as `ExtentPastItsMemory` in checked mode, rather than
        // this loop reading past the memory first.
        let read =
            <P::Target as Referents>::HOLDS_POINTERS && walk::past_its_memory(region).is_none();
        if read {
            for i in 0..count {
                // SAFETY: the caller promises `count` valid elements.
                let elem = unsafe { &*target.add(i) };
                collect_direct(elem, &mut self.regions);
            }
        }
        if let Some(check) = CheckFn::of::<P::Target>() {
            self.queue_check(PendingCheck {
                param,
                addr: target as usize,
                count,
                check,
                trust: Trust::Caller,
                flow_through: true,
            });
        }
    }

    /// A `#[flow_through]` reference or slice parameter of a safe function:
    /// pins its memory and the referents of each element; in checked mode,
    /// checks below them, reading only what the borrow proves live.
    pub fn flow_through_ref<T: Referents + FlowRoot + ?Sized>(
        &mut self,
        param: &'static str,
        value: &T,
    ) {
        self.flow_through_borrowed(param, value, Trust::Borrows);
    }

    /// A `#[flow_through]` reference or slice parameter of an `unsafe fn`:
    /// as [`flow_through_ref`](CallRecorder::flow_through_ref), but the
    /// check reads through the raw pointers below it.
    ///
    /// # Safety
    /// Every raw pointer reachable from `value` must be valid for the
    /// extent its `Referents` impl reports (the annotated `unsafe fn`'s
    /// contract).
    pub unsafe fn flow_through_ref_trusted<T: Referents + FlowRoot + ?Sized>(
        &mut self,
        param: &'static str,
        value: &T,
    ) {
        self.flow_through_borrowed(param, value, Trust::Caller);
    }

    fn flow_through_borrowed<T: Referents + FlowRoot + ?Sized>(
        &mut self,
        param: &'static str,
        value: &T,
        trust: Trust,
    ) {
        self.regions.push(Region::of(value));
        collect_direct(value, &mut self.regions);
        let (addr, count, check) = value.elements();
        if let Some(check) = check {
            self.queue_check(PendingCheck {
                param,
                addr,
                count,
                check,
                trust,
                flow_through: true,
            });
        }
    }

    fn queue_check(&mut self, pending: PendingCheck) {
        match self.checks.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = Some(pending),
            None => self.more_checks.push(pending),
        }
    }

    fn region<T>(&self, param: &'static str, target: *const T, extent: Extent) -> Option<Region> {
        if target.is_null() {
            return None;
        }
        let (len, what) = match extent {
            Extent::One => (Ok(core::mem::size_of::<T>()), "len"),
            Extent::Elements(n) => (
                n.and_then(|n| n.checked_mul(core::mem::size_of::<T>()).ok_or(n as i128)),
                "len",
            ),
            Extent::Bytes(n) => (n, "bytes"),
        };
        let bad = match len {
            Ok(len) => match Region::new(target, len) {
                Ok(region) => return Some(region),
                Err(e) => e.to_string(),
            },
            Err(v) if v < 0 => format!("{what} = {v} is negative"),
            Err(v) => format!("{what} = {v} does not fit the address space"),
        };
        if args_checked() {
            panic!(
                "pointer-escapes: `{}`: argument `{param}`: {bad}; nothing was pinned for it \
                 (fix the #[escapes({what} = ..)] expression or the value passed)",
                self.function
            );
        }
        None
    }

    #[track_caller]
    fn run_checks(&self) {
        for c in self.checks.iter().flatten().chain(&self.more_checks) {
            let context = || format!("`{}`: argument `{}`", self.function, c.param);
            let root = Root {
                name: c.param,
                kind: if c.flow_through {
                    RootKind::FlowThrough
                } else {
                    RootKind::Argument
                },
                context: &context,
            };
            // SAFETY: each queued check's `count` elements at `addr` are
            // live for the call: a borrowed argument (the borrow outlives
            // `CallPins::new`) or a pointer its `unsafe fn`'s caller vouched
            // for, as is everything below it when `trust` is `Caller`.
            if let Err(failure) = unsafe { (c.check.0)(&root, c.addr, c.count, c.trust) } {
                panic!("{failure}");
            }
        }
    }
}

impl Drop for CallPins {
    #[inline]
    fn drop(&mut self) {
        match core::mem::replace(&mut self.held, Held::Empty) {
            Held::Inactive | Held::Empty => {}
            Held::Pinned(pinned) => registry::unpin_call(pinned),
            Held::Each(mut each) => release_each(&mut each),
        }
    }
}

#[cold]
fn release_each(each: &mut ManuallyDrop<PinIds>) {
    registry::unpin_all(each.as_slice());
    // SAFETY: called once, from `CallPins::drop`; `each` is not used again.
    unsafe { ManuallyDrop::drop(each) };
}

/// `#[referents(len = ..)]` in derived impls: negative means none.
#[inline]
pub fn referent_count<L: EscapeLen>(len: L) -> usize {
    len.to_len().unwrap_or(0)
}
