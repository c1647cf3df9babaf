//! `Referents`: what a value points to, one level down, typed.
//!
//! A value reports each pointer it holds directly to a [`Visitor`]: either
//! `count` values of a type that itself implements `Referents` (so a check
//! can follow the pointer further) or plain bytes. Pinning uses one level
//! (pinning a holder does not pin what its referents point to); checking
//! follows every level through pinned memory.

mod impls;

use crate::region::Region;
use core::mem::MaybeUninit;

/// The pointers a value holds directly.
///
/// Implemented for primitives (none), references, slices, `Vec`, `Box`,
/// `String`, `CString`, `IoSlice`, `IoSliceMut`, `libc::iovec`, raw pointers
/// and `NonNull` (one `T`), `c_void` (none), `Option` of those, arrays and
/// tuples; `#[derive(Referents)]` implements it for your structs.
///
/// # Safety
/// The checker reads through what an implementation reports once the
/// registry says that memory is pinned. Every `visitor.pointer(ptr, count,
/// ..)` call must therefore report a pointer that, when non-null and while
/// `self` is unchanged, points at `count` initialised values of `T` (or, for
/// `visitor.bytes(ptr, len, ..)`, at `len` bytes). Reporting fewer pointers
/// than the value holds is memory-safe but makes checks miss them.
///
/// ```
/// use pin_core::referents::{Referents, Via, Visitor};
///
/// /// A C buffer descriptor: `len` bytes at `data`.
/// #[repr(C)]
/// struct Buf { data: *mut u8, len: usize }
///
/// // SAFETY: `data` points at `len` bytes whenever it is non-null.
/// unsafe impl Referents for Buf {
///     fn visit_referents<V: Visitor>(&self, visitor: &mut V) {
///         visitor.pointer(self.data as *const u8, self.len, Via::Field("data"));
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `Referents`, so pointer-escapes cannot tell what it points to",
    label = "no `Referents` impl for `{Self}`",
    note = "add `#[derive(Referents)]` to the type (raw-pointer fields take `#[referents(len = ..)]`), \
            or write `unsafe impl Referents for {Self}`; a type that holds no pointers implements it with an empty body"
)]
pub unsafe trait Referents {
    /// Reports each pointer `self` holds directly to `visitor`.
    fn visit_referents<V: Visitor>(&self, visitor: &mut V);
}

/// How a value holds the pointer being reported, for messages such as
/// `iov[3].iov_base`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    /// `self` holds a pointer to `count` values of `T`. Null or a zero count
    /// means nothing is referenced.
    fn pointer<T: Referents>(&mut self, ptr: *const T, count: usize, via: Via);

    /// `self` holds a pointer to `len` bytes that contain no pointers.
    fn bytes(&mut self, ptr: *const u8, len: usize, via: Via);

    /// `self` holds `value` inline (a field or an array element); its
    /// referents are `self`'s referents. The default visits them in place.
    fn inline<T: Referents + ?Sized>(&mut self, value: &T, via: Via) {
        let _ = via;
        value.visit_referents(self);
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
    /// Every region, once there are more than fit inline.
    spill: Vec<Region>,
}

const INLINE_REGIONS: usize = 17;

impl RegionList {
    pub(crate) fn new() -> RegionList {
        RegionList {
            inline: [const { MaybeUninit::uninit() }; INLINE_REGIONS],
            len: 0,
            spill: Vec::new(),
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
            let mut spill = Vec::with_capacity(self.len * 2);
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
/// use pin_core::referents::direct_referents;
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
