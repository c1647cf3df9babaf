//! `Pinner`: explicit pins, Go's `runtime.Pinner`, plus `scope` and
//! `with_pinned`.
//!
//! A `Pinner<'a>` borrows everything it pins for `'a`. That is the Rust half
//! of the promise: while the pinner lives, the borrow checker refuses to
//! move, drop or reallocate a pinned value (`push` needs `&mut`). The
//! registry half makes the pin visible to checks on every thread.

use crate::origin::{PinKind, Site};
use crate::referents::Referents;
use crate::region::{Region, RegionError};
use crate::registry::{self, PinIds};
use core::cell::RefCell;
use core::marker::PhantomData;
use core::panic::Location;

/// A set of pins released together, Go's `runtime.Pinner`.
///
/// Each `pin*` call pins its argument in the process-wide registry, records
/// the caller's file and line, and returns the raw pointer to hand to C.
/// [`unpin`](Pinner::unpin) releases them all and leaves the pinner ready for
/// reuse; dropping it does the same.
///
/// ```
/// use pointer_escapes::{is_pinned, Pinner};
///
/// let header = [0u64; 4];
/// let mut body = vec![0u8; 4096];
/// let mut pinner = Pinner::new();
/// let h: *const [u64; 4] = pinner.pin(&header);
/// let b: *mut u8 = pinner.pin_slice_mut(&mut body);
/// assert!(is_pinned(h) && is_pinned(b));
/// assert_eq!(pinner.len(), 2);
/// // ... hand `h` and `b` to C ...
/// pinner.unpin();
/// assert!(!is_pinned(h) && pinner.is_empty());
/// ```
///
/// While a value is pinned it cannot be moved, dropped or grown:
///
/// ```compile_fail
/// use pointer_escapes::Pinner;
/// let mut buf = vec![0u8; 16];
/// let mut pinner = Pinner::new();
/// let p = pinner.pin_slice(&buf);
/// buf.push(1); // error[E0502]: cannot borrow `buf` as mutable
/// drop(pinner);
/// ```
#[must_use = "a Pinner unpins everything when dropped; an unused Pinner pins nothing"]
pub struct Pinner<'a> {
    pins: PinIds,
    borrows: PhantomData<&'a ()>,
}

impl Default for Pinner<'_> {
    fn default() -> Self {
        Pinner::new()
    }
}

impl<'a> Pinner<'a> {
    /// An empty pinner.
    pub const fn new() -> Pinner<'a> {
        Pinner {
            pins: PinIds::new(),
            borrows: PhantomData,
        }
    }

    /// Pins the memory of `value` and returns a pointer to it.
    #[track_caller]
    pub fn pin<T: ?Sized>(&mut self, value: &'a T) -> *const T {
        self.pin_at(value, Location::caller())
    }

    fn pin_at<T: ?Sized>(&mut self, value: &'a T, site: Site) -> *const T {
        self.add(Region::of(value), site);
        value
    }

    /// Pins the memory of `value` for C to write through, and returns a
    /// mutable pointer to it. `value` stays exclusively borrowed while the
    /// pinner lives, so Rust cannot read it while C may be writing.
    #[track_caller]
    pub fn pin_mut<T: ?Sized>(&mut self, value: &'a mut T) -> *mut T {
        self.pin_mut_at(value, Location::caller())
    }

    fn pin_mut_at<T: ?Sized>(&mut self, value: &'a mut T, site: Site) -> *mut T {
        self.add(Region::of(&*value), site);
        value
    }

    /// Pins a slice's elements and returns a pointer to the first one (what
    /// a C `const T *` parameter wants).
    #[track_caller]
    pub fn pin_slice<T>(&mut self, slice: &'a [T]) -> *const T {
        self.pin_slice_at(slice, Location::caller())
    }

    fn pin_slice_at<T>(&mut self, slice: &'a [T], site: Site) -> *const T {
        self.add(Region::of_slice(slice), site);
        slice.as_ptr()
    }

    /// Pins a slice's elements for C to write and returns a pointer to the
    /// first one (what a C `T *` buffer parameter wants).
    #[track_caller]
    pub fn pin_slice_mut<T>(&mut self, slice: &'a mut [T]) -> *mut T {
        self.pin_slice_mut_at(slice, Location::caller())
    }

    fn pin_slice_mut_at<T>(&mut self, slice: &'a mut [T], site: Site) -> *mut T {
        self.add(Region::of_slice(slice), site);
        slice.as_mut_ptr()
    }

    /// Pins the elements of `values` and, one level down, every referent of
    /// each element: for an `iovec` array, the array and every buffer its
    /// entries point to. What the referents point to in turn is not pinned
    /// (pinning a holder does not pin its target).
    ///
    /// ```
    /// use pointer_escapes::{check_referents, Pinner};
    /// use std::io::IoSlice;
    ///
    /// let (a, b) = (vec![1u8; 8], vec![2u8; 8]);
    /// let iov = [IoSlice::new(&a), IoSlice::new(&b)];
    /// let mut pinner = Pinner::new();
    /// let p = pinner.pin_referents(&iov);
    /// assert_eq!(p, iov.as_ptr());
    /// check_referents(&iov[..]); // passes: both buffers are pinned
    /// ```
    #[track_caller]
    pub fn pin_referents<T: Referents>(&mut self, values: &'a [T]) -> *const T {
        self.pin_referents_at(values, Location::caller())
    }

    fn pin_referents_at<T: Referents>(&mut self, values: &'a [T], site: Site) -> *const T {
        let mut regions = crate::referents::RegionList::new();
        regions.push(Region::of_slice(values));
        for value in values {
            crate::referents::collect_direct(value, &mut regions);
        }
        let born = crate::report::pin_birth();
        registry::pin_all(
            regions.as_slice(),
            PinKind::Pinner,
            site,
            born,
            &mut self.pins,
        );
        values.as_ptr()
    }

    /// Pins `len` bytes at `ptr` without borrowing anything.
    ///
    /// # Safety
    /// Nothing ties the memory's life to the pinner: the caller vouches that
    /// `[ptr, ptr + len)` stays allocated and in place until this pinner is
    /// unpinned or dropped.
    ///
    /// # Panics
    /// If `ptr + len` overflows the address space (see
    /// [`try_pin_raw`](Pinner::try_pin_raw) for an error instead).
    ///
    /// ```
    /// use pointer_escapes::{is_region_pinned, Pinner};
    /// let buf = vec![0u8; 100];
    /// let mut pinner = Pinner::new();
    /// // SAFETY: `buf` outlives the pinner.
    /// unsafe { pinner.pin_raw(buf.as_ptr(), 100) };
    /// assert!(is_region_pinned(buf.as_ptr(), 100));
    /// ```
    #[track_caller]
    pub unsafe fn pin_raw<T: ?Sized>(&mut self, ptr: *const T, len: usize) -> *const T {
        match Region::new(ptr, len) {
            Ok(region) => {
                self.add(region, Location::caller());
                ptr
            }
            Err(e) => panic!("Pinner::pin_raw: {e}"),
        }
    }

    /// Like [`pin_raw`](Pinner::pin_raw), but an overflowing end is an error.
    ///
    /// # Safety
    /// As for [`pin_raw`](Pinner::pin_raw).
    #[track_caller]
    pub unsafe fn try_pin_raw<T: ?Sized>(
        &mut self,
        ptr: *const T,
        len: usize,
    ) -> Result<*const T, RegionError> {
        let region = Region::new(ptr, len)?;
        self.add(region, Location::caller());
        Ok(ptr)
    }

    /// Pins a region without borrowing it.
    ///
    /// # Safety
    /// As for [`pin_raw`](Pinner::pin_raw): the region must stay allocated
    /// and in place until the pinner is unpinned or dropped.
    #[track_caller]
    pub unsafe fn pin_region(&mut self, region: Region) {
        self.add(region, Location::caller());
    }

    fn add(&mut self, region: Region, site: Site) {
        // A null region pins nothing (`Region::new`'s promise): pinning
        // `[0, len)` would make the addresses 1..len look pinned.
        if region.is_null() {
            return;
        }
        self.pins.reserve(1);
        let born = crate::report::pin_birth();
        self.pins
            .push(registry::pin(region, PinKind::Pinner, site, born));
    }

    /// Releases every pin this pinner holds. The pinner can be used again.
    /// Unpinning an empty pinner does nothing.
    #[inline]
    pub fn unpin(&mut self) {
        if !self.pins.is_empty() {
            self.release_all();
        }
    }

    /// Releases the pins of a pinner holding some. Out of line, so that
    /// `unpin` and the drop glue are a load and a branch where the pinner
    /// lives (a drop glue holding the whole release was not inlined, and
    /// its call cost a pin and unpin 16 instructions of register saves).
    #[inline(never)]
    fn release_all(&mut self) {
        registry::unpin_all(self.pins.as_slice());
        self.pins.clear();
    }

    /// How many pins this pinner holds (each `pin*` call adds one per region;
    /// `pin_referents` adds one for the slice and one per referent).
    pub fn len(&self) -> usize {
        self.pins.len()
    }

    /// Whether the pinner holds no pins.
    pub fn is_empty(&self) -> bool {
        self.pins.is_empty()
    }
}

impl Drop for Pinner<'_> {
    #[inline]
    fn drop(&mut self) {
        // A pinner already unpinned (Go's usage: `Unpin` then drop) pays
        // one load here, not the release path's set-up.
        self.unpin();
    }
}

impl core::fmt::Debug for Pinner<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pinner")
            .field("pins", &self.pins.len())
            .finish()
    }
}

/// Runs `f` with a pinner that cannot leave it and is unpinned when `f`
/// returns or unwinds (ansiwen's `WithPinner`). The pinner can pin anything
/// that outlives the call to `scope`.
///
/// `f` receives a shared reference to a [`ScopedPinner`]: it cannot be
/// returned, stored outside, taken (`mem::take`) or swapped, so every pin
/// made through it ends with the scope.
///
/// ```
/// use pointer_escapes::{is_pinned, scope};
///
/// let buf = vec![7u8; 64];
/// let seen = scope(|pinner| {
///     let p = pinner.pin_slice(&buf);
///     is_pinned(p)
/// });
/// assert!(seen && !is_pinned(buf.as_ptr()));
/// ```
///
/// The pinner cannot escape, nor be taken out with its pins:
///
/// ```compile_fail
/// let mut escaped = None;
/// pointer_escapes::scope(|pinner| escaped = Some(pinner));
/// ```
///
/// ```compile_fail
/// let buf = [0u8; 8];
/// let kept = pointer_escapes::scope(|pinner| {
///     pinner.pin_slice(&buf);
///     std::mem::take(pinner) // error: `pinner` is a shared reference
/// });
/// ```
pub fn scope<'env, R>(f: impl for<'scope> FnOnce(&'scope ScopedPinner<'env>) -> R) -> R {
    let pinner = ScopedPinner {
        pinner: RefCell::new(Pinner::new()),
    };
    f(&pinner)
}

/// The pinner of a [`scope`]: the methods of [`Pinner`] through a shared
/// reference, so the closure can neither take nor swap it. Its pins are
/// released when the scope ends (or by [`unpin`](ScopedPinner::unpin)).
///
/// ```
/// use pointer_escapes::{is_pinned, scope};
///
/// let header = [1u64; 2];
/// let mut body = vec![0u8; 16];
/// scope(|pinner| {
///     let h = pinner.pin(&header);
///     let b = pinner.pin_slice_mut(&mut body);
///     assert!(is_pinned(h) && is_pinned(b));
///     assert_eq!(pinner.len(), 2);
/// });
/// ```
pub struct ScopedPinner<'env> {
    /// A `RefCell` because the handle is shared: only one `pin*` call runs
    /// at a time on the scope's own thread (the type is not `Sync`).
    pinner: RefCell<Pinner<'env>>,
}

impl<'env> ScopedPinner<'env> {
    #[track_caller]
    fn with<R>(&self, f: impl FnOnce(&mut Pinner<'env>) -> R) -> R {
        match self.pinner.try_borrow_mut() {
            Ok(mut pinner) => f(&mut pinner),
            // Only reachable from a `Referents` impl that pins through the
            // scope's pinner while `pin_referents` is visiting it.
            Err(_) => panic!(
                "pointer-escapes: a scope's pinner was used from inside one of its own pin \
                 calls (a Referents impl that pins?); pin before or after that call"
            ),
        }
    }

    /// As [`Pinner::pin`].
    #[track_caller]
    pub fn pin<T: ?Sized>(&self, value: &'env T) -> *const T {
        let site = Location::caller();
        self.with(|p| p.pin_at(value, site))
    }

    /// As [`Pinner::pin_mut`].
    #[track_caller]
    pub fn pin_mut<T: ?Sized>(&self, value: &'env mut T) -> *mut T {
        let site = Location::caller();
        self.with(|p| p.pin_mut_at(value, site))
    }

    /// As [`Pinner::pin_slice`].
    #[track_caller]
    pub fn pin_slice<T>(&self, slice: &'env [T]) -> *const T {
        let site = Location::caller();
        self.with(|p| p.pin_slice_at(slice, site))
    }

    /// As [`Pinner::pin_slice_mut`].
    #[track_caller]
    pub fn pin_slice_mut<T>(&self, slice: &'env mut [T]) -> *mut T {
        let site = Location::caller();
        self.with(|p| p.pin_slice_mut_at(slice, site))
    }

    /// As [`Pinner::pin_referents`].
    #[track_caller]
    pub fn pin_referents<T: Referents>(&self, values: &'env [T]) -> *const T {
        let site = Location::caller();
        self.with(|p| p.pin_referents_at(values, site))
    }

    /// As [`Pinner::pin_raw`].
    ///
    /// # Safety
    /// As for [`Pinner::pin_raw`]: `[ptr, ptr + len)` stays allocated and
    /// in place until the scope ends or [`unpin`](ScopedPinner::unpin) runs.
    ///
    /// # Panics
    /// If `ptr + len` overflows the address space.
    #[track_caller]
    pub unsafe fn pin_raw<T: ?Sized>(&self, ptr: *const T, len: usize) -> *const T {
        let site = Location::caller();
        match Region::new(ptr, len) {
            Ok(region) => {
                self.with(|p| p.add(region, site));
                ptr
            }
            Err(e) => panic!("ScopedPinner::pin_raw: {e}"),
        }
    }

    /// As [`Pinner::unpin`]: releases every pin made so far in this scope.
    pub fn unpin(&self) {
        self.with(|p| p.unpin());
    }

    /// How many pins the scope holds.
    pub fn len(&self) -> usize {
        self.with(|p| p.len())
    }

    /// Whether the scope holds no pins.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl core::fmt::Debug for ScopedPinner<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ScopedPinner")
            .field("pins", &self.len())
            .finish()
    }
}

/// Pins every region of `regions` for the duration of `f` (ansiwen's
/// `PtrEscapes`), then unpins them, also when `f` panics.
///
/// ```
/// use pointer_escapes::{is_pinned, with_pinned, Region};
///
/// let a = [1u8; 8];
/// let b = [2u8; 8];
/// let both = with_pinned(&[Region::of(&a), Region::of(&b)], || {
///     is_pinned(a.as_ptr()) && is_pinned(b.as_ptr())
/// });
/// assert!(both && !is_pinned(a.as_ptr()));
/// ```
#[track_caller]
pub fn with_pinned<R>(regions: &[Region], f: impl FnOnce() -> R) -> R {
    struct Release(PinIds);
    impl Drop for Release {
        fn drop(&mut self) {
            registry::unpin_all(self.0.as_slice());
        }
    }
    let mut held = Release(PinIds::new());
    let born = crate::report::pin_birth();
    registry::pin_all(
        regions,
        PinKind::Pinner,
        Location::caller(),
        born,
        &mut held.0,
    );
    f()
}
