//! `Referents`: what a value points to, one level down, typed.
//!
//! A value reports each pointer it holds directly to a [`Visitor`]: either
//! `count` values of a type that itself implements `Referents` (so a check
//! can follow the pointer further) or plain bytes. Pinning uses one level
//! (pinning a holder does not pin what its referents point to); checking
//! follows every level through pinned memory.

pub(crate) mod cstr;
mod fn_ptr;
mod impls;
mod libc_impls;

use crate::region::Region;
use crate::sys_vec::SysVec;
use core::mem::MaybeUninit;

/// The pointers a value holds directly.
///
/// Implemented for primitives (none), references, slices, `Vec`, `Box`,
/// `String`, `CString`, `IoSlice`, `IoSliceMut`, raw pointers and `NonNull`
/// (one `T`), `c_void` (none), `Option` of those, arrays and tuples, and the
/// libc structs `iovec`, `msghdr`, `mmsghdr`, `cmsghdr`, `aiocb`,
/// `sigevent`, `pollfd` and `epoll_event`; `#[derive(Referents)]` implements
/// it for your structs.
///
/// # Foreign types
/// The orphan rule forbids `unsafe impl Referents for some_sys::Type` in
/// your crate. Either write a mirror struct with `#[derive(Referents)]
/// #[referents(remote = some_sys::Type)]`, which generates
/// `Mirror::visit_referents(value: &some_sys::Type, visitor)`, or write such
/// a function by hand; then name it on the parameter:
/// `#[escapes(referents = Mirror::visit_referents)]` or
/// `#[flow_through(referents = ..)]`.
///
/// # What the checker reads, on whose promise
/// An implementation reports each pointer in one of three ways, and the way
/// decides what the checker may do with it:
///
/// - [`Visitor::borrowed`]: values `self` owns or borrows (`Box`, `Vec`,
///   `&T`), given as a `&[T]`. The borrow proves they are live, so every
///   check follows them further.
/// - [`Visitor::pointer`]: a raw pointer (`*const T`, `NonNull<T>`, a C
///   struct's pointer field). Nothing proves it is live, that it holds a
///   valid `T`, or that it is initialised: a pin does not prove it either.
///   A safe check only asks the registry whether that memory is pinned; it
///   reads through the pointer only on an `unsafe` promise (an annotated
///   `unsafe fn`'s contract, or
///   [`check_referents_through_raw`](crate::check_referents_through_raw)).
/// - [`Visitor::bytes`]: memory that holds no pointers; it is never read.
///
/// # Safety
/// - Each `visitor.pointer(ptr, count, ..)` and `visitor.bytes(ptr, len, ..)`
///   must report the pointer's true extent: whenever the pointer is valid at
///   all, it is valid for `count` values of `T` (`len` bytes). A caller who
///   promises that the pointers reachable from a value are valid promises
///   it of these extents.
/// - Each slice given to `visitor.borrowed` must stay live and unchanged for
///   as long as `self` is borrowed shared: no interior mutability between
///   `self` and it, and `visit_referents` itself mutates nothing.
/// - [`HOLDS_POINTERS`](Referents::HOLDS_POINTERS) may be `false` only if
///   `visit_referents` never reports anything, for any value.
///
/// Reporting fewer pointers than the value holds is memory-safe but makes
/// checks miss them.
///
/// ```
/// use pointer_escapes::referents::{Referents, Via, Visitor};
///
/// /// A C buffer descriptor: `len` bytes at `data`.
/// #[repr(C)]
/// struct Buf { data: *mut u8, len: usize }
///
/// // SAFETY: `data` points at `len` bytes whenever it is valid.
/// unsafe impl Referents for Buf {
///     fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
///         visitor.pointer(self.data as *const u8, self.len, Via::Field("data"));
///     }
/// }
///
/// /// An owned message: the `Vec` proves its elements are live.
/// struct Message { parts: Vec<Buf> }
///
/// // SAFETY: `parts` is owned and cannot change while `self` is borrowed.
/// unsafe impl Referents for Message {
///     fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
///         visitor.borrowed(&self.parts[..], Via::Field("parts"));
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `Referents`, so pointer-escapes cannot tell what it points to",
    label = "no `Referents` impl for `{Self}`",
    note = "for your own type: add `#[derive(Referents)]` (raw-pointer fields take `#[referents(len = ..)]`), \
            or write `unsafe impl Referents for {Self}`; a type that holds no pointers implements it with an empty body and `const HOLDS_POINTERS: bool = false;`",
    note = "for a type of another crate (a -sys crate, libc, bindgen output), which the orphan rule keeps you from implementing it for: \
            write a mirror struct with `#[derive(Referents)]` and `#[referents(remote = path::to::{Self})]`, \
            then name its function on the parameter: `#[escapes(referents = Mirror::visit_referents)]` or `#[flow_through(referents = Mirror::visit_referents)]`"
)]
pub unsafe trait Referents {
    /// Whether a value of this type can report any referent: `false` for
    /// types that hold no pointers (integers, `c_void`, arrays of those),
    /// Go's `ptrdata == 0`. A pointer to such values is checked in O(1):
    /// its extent must be pinned, and nothing behind it is followed. The
    /// default, `true`, is always correct; `#[derive(Referents)]` computes
    /// it from the fields.
    const HOLDS_POINTERS: bool = true;

    /// Reports each pointer `self` holds directly to `visitor`.
    fn visit_referents<V: Visitor>(&self, visitor: &mut V);
}

/// How a value holds the pointer being reported, for messages such as
/// `iov[3].iov_base`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Via {
    /// A named field (`.name`).
    Field(&'static str),
    /// An element of an inline array or slice (`[i]`).
    Index(usize),
    /// The value itself is the pointer (`&T`, `*const T`, `Box<T>`, `Vec`).
    Itself,
}

/// Receives the pointers a value holds.
pub trait Visitor: Sized {
    /// `self` holds a raw pointer to `count` values of `T`, on nobody's
    /// promise that they are live. Null or a zero count means nothing is
    /// referenced.
    fn pointer<T: Referents>(&mut self, ptr: *const T, count: usize, via: Via);

    /// `self` owns or borrows `values` (a `Box`, `Vec` or reference): they
    /// are live for as long as `self` is borrowed. The default reports them
    /// as a [`pointer`](Visitor::pointer).
    fn borrowed<T: Referents>(&mut self, values: &[T], via: Via) {
        self.pointer(values.as_ptr(), values.len(), via);
    }

    /// `self` holds a pointer to `len` bytes that contain no pointers.
    fn bytes(&mut self, ptr: *const u8, len: usize, via: Via);

    /// `self` holds `value` inline (a field or an array element); its
    /// referents are `self`'s referents. The default visits them in place.
    fn inline<T: Referents + ?Sized>(&mut self, value: &T, via: Via) {
        let _ = via;
        value.visit_referents(self);
    }

    /// `self` holds a `T` inline at `real` that cannot be borrowed in place
    /// (a `Cell`'s content, a packed struct's field), so `copy`, a
    /// temporary copy of it, is visited instead. Whatever `copy` reports
    /// inside its own bytes is re-reported at the same offset from `real`,
    /// and only as a raw [`pointer`](Visitor::pointer): the temporary dies
    /// when this returns, and `real` may change (a `Cell`) or be unaligned
    /// (a packed field), so nothing there is vouched for by a borrow.
    fn copied<T: Referents>(&mut self, real: *const T, copy: &T, via: Via) {
        let _ = via;
        copy.visit_referents(&mut FromCopy::new(self, real, copy));
    }
}

/// A visitor that re-reports what a temporary copy of a value reports
/// about its own bytes as if the value at `real` had reported it, as raw
/// pointers (see [`Visitor::copied`]); reports about other memory pass
/// through unchanged.
pub(crate) struct FromCopy<'v, V> {
    inner: &'v mut V,
    /// Where the value really is (provenance kept for the re-reports).
    real: *const u8,
    /// The copy's address and size.
    copy: usize,
    size: usize,
}

impl<'v, V: Visitor> FromCopy<'v, V> {
    pub(crate) fn new<T>(inner: &'v mut V, real: *const T, copy: &T) -> FromCopy<'v, V> {
        FromCopy {
            inner,
            real: real.cast(),
            copy: copy as *const T as usize,
            size: core::mem::size_of::<T>(),
        }
    }

    /// `addr` moved from the copy to the real value, if it lies in the copy.
    fn remap<T>(&self, addr: usize) -> Option<*const T> {
        let offset = addr.checked_sub(self.copy)?;
        (offset < self.size).then(|| self.real.wrapping_add(offset).cast::<T>())
    }
}

impl<V: Visitor> Visitor for FromCopy<'_, V> {
    fn pointer<T: Referents>(&mut self, ptr: *const T, count: usize, via: Via) {
        let ptr = self.remap(ptr as usize).unwrap_or(ptr);
        self.inner.pointer(ptr, count, via);
    }

    fn borrowed<T: Referents>(&mut self, values: &[T], via: Via) {
        match self.remap::<T>(values.as_ptr() as usize) {
            // Part of the temporary: not live after this call, so only a
            // raw pointer to the real value's bytes.
            Some(real) => self.inner.pointer(real, values.len(), via),
            None => self.inner.borrowed(values, via),
        }
    }

    fn bytes(&mut self, ptr: *const u8, len: usize, via: Via) {
        let ptr = self.remap(ptr as usize).unwrap_or(ptr);
        self.inner.bytes(ptr, len, via);
    }
}

/// The regions a value's direct referents occupy. Inline room for the usual
/// argument (an `iovec` array of up to 16 and the array itself), heap
/// beyond that. The inline room is left uninitialised until used, so an
/// inactive `CallPins` costs nothing to build.
pub(crate) struct RegionList {
    inline: [MaybeUninit<Region>; INLINE_REGIONS],
    /// Initialised prefix of `inline`.
    len: usize,
    /// Every region, once there are more than fit inline (from `System`:
    /// see `sys_vec`).
    spill: SysVec<Region>,
}

const INLINE_REGIONS: usize = 17;

impl RegionList {
    pub(crate) fn new() -> RegionList {
        RegionList {
            inline: [const { MaybeUninit::uninit() }; INLINE_REGIONS],
            len: 0,
            spill: SysVec::new_in(std::alloc::System),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, region: Region) {
        if !self.spill.is_empty() {
            self.spill.push(region);
        } else if self.len < INLINE_REGIONS {
            self.inline[self.len] = MaybeUninit::new(region);
            self.len += 1;
        } else {
            let mut spill = SysVec::with_capacity_in(self.len * 2, std::alloc::System);
            spill.extend_from_slice(self.inline_slice());
            spill.push(region);
            self.spill = spill;
        }
    }

    fn inline_slice(&self) -> &[Region] {
        // SAFETY: the first `len` slots were written by `push`, and
        // `MaybeUninit<Region>` has the layout of `Region`.
        unsafe { core::slice::from_raw_parts(self.inline.as_ptr().cast::<Region>(), self.len) }
    }

    pub(crate) fn as_slice(&self) -> &[Region] {
        if self.spill.is_empty() {
            self.inline_slice()
        } else {
            &self.spill
        }
    }
}

/// Collects the regions of `value`'s direct referents (skipping null and
/// empty ones, and ones whose extent overflows: those pin nothing and the
/// checker reports them).
struct DirectRegions<'a>(&'a mut RegionList);

impl Visitor for DirectRegions<'_> {
    #[inline]
    fn pointer<T: Referents>(&mut self, ptr: *const T, count: usize, _via: Via) {
        if ptr.is_null() || count == 0 {
            return;
        }
        if let Ok(region) = Region::of_elements(ptr, count) {
            self.0.push(region);
        }
    }

    #[inline]
    fn bytes(&mut self, ptr: *const u8, len: usize, _via: Via) {
        if ptr.is_null() || len == 0 {
            return;
        }
        if let Ok(region) = Region::new(ptr, len) {
            self.0.push(region);
        }
    }
}

#[inline]
pub(crate) fn collect_direct<T: Referents + ?Sized>(value: &T, out: &mut RegionList) {
    value.visit_referents(&mut DirectRegions(out));
}

/// The regions `value` points to directly, one level down.
///
/// ```
/// use pointer_escapes::referents::direct_referents;
/// let v = vec![vec![0u8; 4], vec![1u8; 8]];
/// let outer = direct_referents(&v);
/// assert_eq!(outer.len(), 1); // the Vec's own buffer of two Vec<u8>
/// let inner = direct_referents(&v[..]);
/// assert_eq!(inner.iter().map(|r| r.len()).collect::<Vec<_>>(), [4, 8]);
/// ```
pub fn direct_referents<T: Referents + ?Sized>(value: &T) -> Vec<Region> {
    let mut list = RegionList::new();
    collect_direct(value, &mut list);
    list.as_slice().to_vec()
}
