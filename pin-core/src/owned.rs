//! `OwnedPin`: a pin that owns its buffer, for C that keeps a pointer after
//! the call returns (POSIX AIO, io_uring, zlib's `z_stream`).
//!
//! # Dropping an `OwnedPin` that is still pinned
//! Only the caller knows when C is done with the pointer; the type cannot.
//! So the way to end the pin is [`OwnedPin::into_inner`], called after the
//! completion is reaped. Dropping an `OwnedPin` instead is treated as the bug
//! it usually is (C may still write into the buffer), and made harmless:
//!
//! - the pin is **not** released: it stays in the registry for the rest of
//!   the process, so `snapshot()`, `PINREPORT=1` and `assert_no_pins()` name
//!   it and the line that made it;
//! - with [`PinAwareAlloc`](crate::PinAwareAlloc) installed, the buffer is
//!   dropped and the allocator quarantines its heap block (the pin overlaps
//!   it), recording a "freed while pinned" event;
//! - without it, the buffer is leaked, so C writes into memory nobody else
//!   owns;
//! - in checked mode a line saying so goes to stderr at once.
//!
//! Either way no memory is handed back to the allocator while C may use it.

use crate::origin::PinKind;
use crate::region::Region;
use crate::registry::{self, PinId};
use core::mem::ManuallyDrop;
use core::panic::Location;

/// A buffer whose heap storage stays at one address when its owner moves.
///
/// # Safety
/// `stable_ptr` must return the same address, valid for `stable_len`
/// elements, for as long as the value is not mutated through `&mut self`
/// (moving the owner must not move the storage).
pub unsafe trait StableBuf {
    /// The element type C sees.
    type Elem;
    /// The start of the storage.
    fn stable_ptr(&self) -> *const Self::Elem;
    /// The start of the storage, for writing.
    fn stable_mut_ptr(&mut self) -> *mut Self::Elem;
    /// How many elements the storage holds.
    fn stable_len(&self) -> usize;
}

// SAFETY: a Vec's heap buffer does not move when the Vec moves.
unsafe impl<T> StableBuf for Vec<T> {
    type Elem = T;
    fn stable_ptr(&self) -> *const T {
        self.as_ptr()
    }
    fn stable_mut_ptr(&mut self) -> *mut T {
        self.as_mut_ptr()
    }
    fn stable_len(&self) -> usize {
        self.len()
    }
}

// SAFETY: a boxed slice's heap buffer does not move when the box moves.
unsafe impl<T> StableBuf for Box<[T]> {
    type Elem = T;
    fn stable_ptr(&self) -> *const T {
        self.as_ptr()
    }
    fn stable_mut_ptr(&mut self) -> *mut T {
        self.as_mut_ptr()
    }
    fn stable_len(&self) -> usize {
        self.len()
    }
}

// SAFETY: a box's heap value does not move when the box moves.
unsafe impl<T> StableBuf for Box<T> {
    type Elem = T;
    fn stable_ptr(&self) -> *const T {
        &**self
    }
    fn stable_mut_ptr(&mut self) -> *mut T {
        &mut **self
    }
    fn stable_len(&self) -> usize {
        1
    }
}

// SAFETY: a String's heap buffer does not move when the String moves.
unsafe impl StableBuf for String {
    type Elem = u8;
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        // SAFETY: C writing through this pointer must keep the bytes UTF-8;
        // handing out the pointer itself is safe.
        unsafe { self.as_mut_vec().as_mut_ptr() }
    }
    fn stable_len(&self) -> usize {
        self.len()
    }
}

/// A buffer pinned from creation until [`into_inner`](OwnedPin::into_inner)
/// gives it back, across threads and calls.
///
/// ```
/// use pin_core::{is_pinned, OwnedPin};
///
/// let buf = OwnedPin::new(vec![0u8; 4096]);
/// let p = buf.as_ptr();
/// assert!(is_pinned(p));
/// // ... submit `p` to C; C keeps it until the completion is reaped ...
/// let handle = std::thread::spawn(move || buf.into_inner()); // completion thread
/// let back = handle.join().unwrap();
/// assert_eq!(back.as_ptr(), p);
/// assert!(!is_pinned(p));
/// ```
#[must_use = "dropping an OwnedPin keeps its pin forever; call into_inner() when C is done"]
pub struct OwnedPin<B: StableBuf> {
    buf: ManuallyDrop<B>,
    pin: PinId,
    region: Region,
}

impl<B: StableBuf> OwnedPin<B> {
    /// Takes `buf` and pins its storage; the pin records the caller's line.
    #[track_caller]
    pub fn new(buf: B) -> OwnedPin<B> {
        let len = buf.stable_len();
        let ptr = buf.stable_ptr();
        // A live buffer's storage never overflows the address space.
        let region =
            Region::of_elements(ptr, len).unwrap_or_else(|_| Region::from_parts(ptr as usize, 0));
        let pin = registry::pin(region, PinKind::Owned, Location::caller());
        OwnedPin {
            buf: ManuallyDrop::new(buf),
            pin,
            region,
        }
    }

    /// The start of the pinned storage, for C to read.
    pub fn as_ptr(&self) -> *const B::Elem {
        self.buf.stable_ptr()
    }

    /// The start of the pinned storage, for C to write.
    pub fn as_mut_ptr(&mut self) -> *mut B::Elem {
        self.buf.stable_mut_ptr()
    }

    /// How many elements the buffer holds.
    pub fn len(&self) -> usize {
        self.buf.stable_len()
    }

    /// Whether the buffer holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pinned region.
    pub fn region(&self) -> Region {
        self.region
    }

    /// Unpins and gives the buffer back. Call it once C is done with the
    /// pointer (the completion was reaped).
    pub fn into_inner(self) -> B {
        let mut this = ManuallyDrop::new(self);
        registry::unpin(this.pin);
        // SAFETY: `this` is never used or dropped again, so the buffer is
        // taken out exactly once.
        unsafe { ManuallyDrop::take(&mut this.buf) }
    }
}

impl<B: StableBuf> Drop for OwnedPin<B> {
    fn drop(&mut self) {
        // See the module doc: the pin stays, so nothing returns to the
        // allocator while C may hold the pointer.
        let guarded = crate::alloc::is_installed();
        if crate::check::args_checked() {
            crate::diag::line(format_args!(
                "pointer-escapes: OwnedPin of {} dropped while pinned; its pin stays live and the \
                 buffer is {}; call into_inner() once C is done with it\n",
                self.region,
                if guarded {
                    "quarantined by PinAwareAlloc"
                } else {
                    "leaked"
                }
            ));
        }
        if guarded {
            // SAFETY: dropped exactly once, here; the allocator keeps the
            // heap block because the pin overlapping it stays live.
            unsafe { ManuallyDrop::drop(&mut self.buf) };
        }
    }
}

impl<B: StableBuf> core::fmt::Debug for OwnedPin<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OwnedPin")
            .field("region", &self.region)
            .finish()
    }
}
