//! `OwnedPin`: a pin that owns its buffer, for C that keeps a pointer after
//! the call returns (POSIX AIO, io_uring, zlib's `z_stream`, curl-style
//! setters that keep a string).
//!
//! The rules (what is pinned, what dropping one does, how the buffer comes
//! back) are on [`OwnedPin`] itself, where a dependent reads them.

use crate::origin::{PinKind, Site};
use crate::region::Region;
use crate::registry::{self, PinId};
use core::ffi::{c_char, CStr};
use core::fmt;
use core::mem::ManuallyDrop;
use core::panic::Location;
use std::ffi::CString;

/// A buffer whose storage stays at one address while its owner moves, that
/// [`OwnedPin`] can pin and hand to C for reading.
///
/// Implemented for `Vec<T>`, `Box<[T]>`, `Box<T>`, `String`, `Box<str>`,
/// `CString` and `Box<CStr>`. Buffers C may also write implement
/// [`StableBufMut`].
///
/// # Safety
/// An implementation promises, for as long as the value lives:
///
/// - **The storage does not move.** `stable_ptr` returns the same address
///   every time, and moving the value does not change it.
/// - **The extent is real.** The storage is valid for
///   `stable_capacity()` elements of `Elem` starting there (the first
///   `stable_len()` of them initialised), and `stable_capacity() >=
///   stable_len()`.
/// - **The storage goes back only through the global allocator.** Dropping
///   the value frees the storage through the process's global allocator
///   (`std::alloc`), or leaves it to an owner that does so later (a span of
///   an arena the caller frees); it never hands the storage to anything
///   that reuses it. This is what lets a dropped, still-pinned `OwnedPin`
///   rely on the quarantine of `PinAwareAlloc`. A pool-backed buffer whose
///   `Drop` returns its `Vec` to the pool is a **broken implementation**:
///   the pool's next user gets the storage C still writes into, and no
///   allocator sees it happen. (`OwnedPin` notices after the fact and says
///   so on stderr in checked mode, but cannot undo it.)
///
/// ```
/// use pointer_escapes::{OwnedPin, StableBuf};
///
/// /// 4 KiB, page-aligned, for O_DIRECT reads.
/// #[repr(C, align(4096))]
/// struct Page([u8; 4096]);
/// struct PageBuf(Box<Page>);
///
/// // SAFETY: the Box's heap block neither moves with the owner nor goes
/// // anywhere but back to the global allocator when the Box is dropped.
/// unsafe impl StableBuf for PageBuf {
///     type Elem = u8;
///     fn stable_ptr(&self) -> *const u8 {
///         self.0 .0.as_ptr()
///     }
///     fn stable_len(&self) -> usize {
///         4096
///     }
/// }
///
/// let page = OwnedPin::new(PageBuf(Box::new(Page([0; 4096]))));
/// assert_eq!(page.region().len(), 4096);
/// drop(page.into_inner());
/// ```
pub unsafe trait StableBuf {
    /// The element type C sees.
    type Elem;
    /// The start of the storage.
    fn stable_ptr(&self) -> *const Self::Elem;
    /// How many elements are initialised (what [`OwnedPin::len`] says).
    fn stable_len(&self) -> usize;
    /// How many elements the storage has room for: what [`OwnedPin`] pins
    /// and C may write. Defaults to [`stable_len`](StableBuf::stable_len).
    fn stable_capacity(&self) -> usize {
        self.stable_len()
    }
}

/// A [`StableBuf`] C may also write through: [`OwnedPin::as_mut_ptr`] needs
/// it (tokio-uring's `IoBufMut`). `CString` and `Box<CStr>` are read-only:
/// Rust offers no pointer with write permission into them.
///
/// # Safety
/// `stable_mut_ptr` returns the same address as `stable_ptr`, with
/// permission to write the whole storage, and never moves the storage to
/// get it: a copy-on-write buffer that clones its shared storage here hands
/// C a pointer nobody pinned (`OwnedPin::as_mut_ptr` panics when it sees
/// that, naming this contract).
pub unsafe trait StableBufMut: StableBuf {
    /// The start of the storage, for writing.
    fn stable_mut_ptr(&mut self) -> *mut Self::Elem;
}

// SAFETY: a Vec's heap buffer (all `capacity()` elements of it) does not
// move when the Vec moves or when `as_mut_ptr` is called, and dropping the
// Vec frees it through the global allocator.
unsafe impl<T> StableBuf for Vec<T> {
    type Elem = T;
    fn stable_ptr(&self) -> *const T {
        self.as_ptr()
    }
    fn stable_len(&self) -> usize {
        self.len()
    }
    fn stable_capacity(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: `as_mut_ptr` returns the buffer's start without reallocating.
unsafe impl<T> StableBufMut for Vec<T> {
    fn stable_mut_ptr(&mut self) -> *mut T {
        self.as_mut_ptr()
    }
}

// SAFETY: a boxed slice's heap buffer does not move when the box moves, and
// dropping the box frees it through the global allocator.
unsafe impl<T> StableBuf for Box<[T]> {
    type Elem = T;
    fn stable_ptr(&self) -> *const T {
        self.as_ptr()
    }
    fn stable_len(&self) -> usize {
        self.len()
    }
}

// SAFETY: `as_mut_ptr` returns the buffer's start without moving it.
unsafe impl<T> StableBufMut for Box<[T]> {
    fn stable_mut_ptr(&mut self) -> *mut T {
        self.as_mut_ptr()
    }
}

// SAFETY: a box's heap value does not move when the box moves, and dropping
// the box frees it through the global allocator.
unsafe impl<T> StableBuf for Box<T> {
    type Elem = T;
    fn stable_ptr(&self) -> *const T {
        &**self
    }
    fn stable_len(&self) -> usize {
        1
    }
}

// SAFETY: a unique borrow of the boxed value, at its one address.
unsafe impl<T> StableBufMut for Box<T> {
    fn stable_mut_ptr(&mut self) -> *mut T {
        &mut **self
    }
}

// SAFETY: a String's heap buffer (all `capacity()` bytes) does not move when
// the String moves, and dropping it frees it through the global allocator.
unsafe impl StableBuf for String {
    type Elem = u8;
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn stable_len(&self) -> usize {
        self.len()
    }
    fn stable_capacity(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: the String's own buffer, not reallocated.
unsafe impl StableBufMut for String {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        // SAFETY: C writing through this pointer must keep the bytes UTF-8;
        // handing out the pointer itself is safe.
        unsafe { self.as_mut_vec().as_mut_ptr() }
    }
}

// SAFETY: a boxed str's heap bytes do not move when the box moves, and
// dropping the box frees them through the global allocator.
unsafe impl StableBuf for Box<str> {
    type Elem = u8;
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn stable_len(&self) -> usize {
        self.len()
    }
}

// SAFETY: a unique borrow of the boxed bytes, at their one address.
unsafe impl StableBufMut for Box<str> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        // C writing through this pointer must keep the bytes UTF-8, as for
        // `String`; handing out the pointer itself is safe.
        str::as_mut_ptr(self)
    }
}

// SAFETY: a CString's bytes (with the NUL) live in a boxed slice that does
// not move when the CString moves; dropping it frees them through the
// global allocator.
unsafe impl StableBuf for CString {
    type Elem = c_char;
    fn stable_ptr(&self) -> *const c_char {
        self.as_ptr()
    }
    /// The bytes including the terminating NUL: what C reads.
    fn stable_len(&self) -> usize {
        self.as_bytes_with_nul().len()
    }
}

// SAFETY: as for `CString`: a boxed C string's bytes do not move with the
// box, and dropping the box frees them through the global allocator.
unsafe impl StableBuf for Box<CStr> {
    type Elem = c_char;
    fn stable_ptr(&self) -> *const c_char {
        self.as_ptr()
    }
    /// The bytes including the terminating NUL: what C reads.
    fn stable_len(&self) -> usize {
        self.to_bytes_with_nul().len()
    }
}

/// A buffer pinned from creation until [`into_inner`](OwnedPin::into_inner)
/// gives it back, across threads and calls: the pin for a pointer C keeps
/// after the call returns (Go's rule: C may keep a Go pointer only while it
/// is pinned, `runtime.Pinner`).
///
/// `OwnedPin` never hands pinned memory back to the allocator while C may
/// still use it, and never hands Rust an owner of memory that was freed
/// under its pin. That rests on two things: [`StableBuf`], an `unsafe trait`
/// whose implementations promise where the storage is and how it goes away,
/// and knowing (not guessing) whether the process's `#[global_allocator]`
/// is a [`PinAwareAlloc`](crate::PinAwareAlloc).
///
/// # What is pinned
/// The buffer's whole storage: for a `Vec` or `String` its capacity, not
/// only its initialised length, because a read buffer made with
/// `Vec::with_capacity(n)` is where C writes `n` bytes (tokio-uring's
/// `IoBuf::bytes_total`). [`OwnedPin::len`] stays the initialised length;
/// after C filled the buffer, [`OwnedPin::set_len`] says how much.
///
/// # Dropping an `OwnedPin` that is still pinned
/// Only the caller knows when C is done with the pointer; the type cannot.
/// So the way to end the pin is [`OwnedPin::into_inner`], called after the
/// completion is reaped. Dropping an `OwnedPin` instead is treated as the bug
/// it usually is (C may still write into the buffer), and made harmless:
///
/// - the pin is **not** released: it stays in the registry for the rest of
///   the process, so `snapshot()`, `POINTER_ESCAPES_REPORT=1` and `assert_no_pins()` name
///   it and the line that made it;
/// - when the process's `#[global_allocator]` is a `PinAwareAlloc`, the
///   buffer is dropped and the allocator quarantines its heap block (the pin
///   overlaps it), recording a "freed while pinned" event. A `PinAwareAlloc`
///   that is not the global allocator (a side allocator used directly)
///   does not count: the buffer's storage goes back through the global
///   allocator, which would free it for real;
/// - otherwise the buffer is leaked, so C writes into memory nobody else
///   owns;
/// - if the buffer was already freed under the pin (a callback rebuilt a
///   `Box` from the pointer and dropped it), it is not dropped again;
/// - in checked mode one line goes to stderr at once, naming the region,
///   the line that made the pin and what became of the buffer
///   ("quarantined", "leaked", ...).
///
/// Either way no memory is handed back to the allocator while C may use it.
///
/// # Giving the buffer back
/// [`OwnedPin::into_inner`] unpins and returns the buffer, unless its storage
/// was freed while pinned (with `PinAwareAlloc` as the global allocator the
/// registry knows): then the buffer's destructor has already run, returning
/// it would free the block a second time, so the pin is released, the
/// quarantined block is freed exactly once, and
/// [`try_into_inner`](OwnedPin::try_into_inner) returns [`FreedWhilePinned`]
/// (`into_inner` panics with the same message).
///
/// # Example
///
/// ```
/// use pointer_escapes::{is_pinned, OwnedPin};
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
    /// The storage pinned by `new`: `stable_capacity()` elements.
    region: Region,
    /// Where `new` was called.
    site: Site,
}

impl<B: StableBuf> OwnedPin<B> {
    /// Takes `buf` and pins its whole storage (`stable_capacity()` elements,
    /// so a `Vec::with_capacity(n)` read buffer has `n` elements pinned);
    /// the pin records the caller's line.
    ///
    /// ```
    /// use pointer_escapes::{is_region_pinned, OwnedPin};
    ///
    /// let read_buf = OwnedPin::new(Vec::<u8>::with_capacity(4096));
    /// assert_eq!((read_buf.len(), read_buf.capacity()), (0, 4096));
    /// assert!(is_region_pinned(read_buf.as_ptr(), 4096));
    /// drop(read_buf.into_inner());
    /// ```
    #[track_caller]
    pub fn new(buf: B) -> OwnedPin<B> {
        let elements = buf.stable_capacity().max(buf.stable_len());
        let ptr = buf.stable_ptr();
        // A live buffer's storage never overflows the address space.
        let region = Region::of_elements(ptr, elements)
            .unwrap_or_else(|_| Region::from_parts(ptr as usize, 0));
        let site = Location::caller();
        let born = crate::report::pin_birth();
        let pin = registry::pin(region, PinKind::Owned, site, born);
        OwnedPin {
            buf: ManuallyDrop::new(buf),
            pin,
            region,
            site,
        }
    }

    /// The start of the pinned storage, for C to read.
    ///
    /// # Panics
    /// If the buffer's storage is no longer where it was pinned: its
    /// `StableBuf` implementation broke its contract.
    #[track_caller]
    pub fn as_ptr(&self) -> *const B::Elem {
        let ptr = self.buf.stable_ptr();
        self.assert_in_place(ptr as usize);
        ptr
    }

    /// How many elements are initialised (a `Vec`'s `len()`; see
    /// [`set_len`](OwnedPin::set_len) for a buffer C filled).
    pub fn len(&self) -> usize {
        self.buf.stable_len()
    }

    /// Whether no element is initialised.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many elements the pinned storage has room for (a `Vec`'s
    /// `capacity()`): what C may write through
    /// [`as_mut_ptr`](OwnedPin::as_mut_ptr).
    pub fn capacity(&self) -> usize {
        self.buf.stable_capacity()
    }

    /// The pinned region: the whole storage, in bytes.
    pub fn region(&self) -> Region {
        self.region
    }

    /// Where this pin was made (the line that called [`OwnedPin::new`]).
    pub fn site(&self) -> Site {
        self.site
    }

    /// Unpins and gives the buffer back. Call it once C is done with the
    /// pointer (the completion was reaped).
    ///
    /// # Panics
    /// If the buffer's storage was freed while pinned (see
    /// [`try_into_inner`](OwnedPin::try_into_inner)); the pin is released
    /// and the freed block given back to its allocator once before the
    /// panic, so nothing leaks and nothing is freed twice.
    #[track_caller]
    pub fn into_inner(self) -> B {
        match self.try_into_inner() {
            Ok(buf) => buf,
            Err(freed) => panic!("{freed}"),
        }
    }

    /// Unpins and gives the buffer back, or, if its storage was freed while
    /// pinned, says so instead of returning an owner of freed memory.
    ///
    /// A block is "freed while pinned" when code that took ownership from
    /// the raw pointer dropped it (a callback's trampoline that rebuilt the
    /// `Box` with `Box::from_raw`) and `PinAwareAlloc`, as the global
    /// allocator, quarantined it. Its destructor has run, so returning the
    /// buffer would run it and free the block again. Instead the pin is
    /// released, the quarantine frees the block exactly once, the buffer
    /// value is forgotten, and the error names the region and this pin's
    /// site. Without `PinAwareAlloc` as the global allocator such a free is
    /// real and unrecorded, and this cannot know.
    ///
    /// ```
    /// use pointer_escapes::OwnedPin;
    ///
    /// let owned = OwnedPin::new(Box::new(7u64));
    /// assert_eq!(*owned.try_into_inner().expect("nothing freed it"), 7);
    /// ```
    ///
    /// # Errors
    /// [`FreedWhilePinned`] as described above.
    pub fn try_into_inner(self) -> Result<B, FreedWhilePinned> {
        let mut this = ManuallyDrop::new(self);
        if registry::unpin_owned(this.pin, this.region) {
            // The buffer's destructor already ran; `this.buf` is never
            // touched again (forgotten with `this`).
            return Err(FreedWhilePinned {
                region: this.region,
                site: this.site,
            });
        }
        // SAFETY: `this` is never used or dropped again, so the buffer is
        // taken out exactly once.
        Ok(unsafe { ManuallyDrop::take(&mut this.buf) })
    }

    /// The defence behind `as_ptr` and `as_mut_ptr`: one compare.
    #[inline]
    #[track_caller]
    fn assert_in_place(&self, addr: usize) {
        if addr != self.region.addr() {
            storage_moved(self.region, self.site, addr, core::any::type_name::<B>());
        }
    }
}

impl<B: StableBufMut> OwnedPin<B> {
    /// The start of the pinned storage, for C to write
    /// ([`capacity`](OwnedPin::capacity) elements).
    ///
    /// # Panics
    /// If getting the pointer moved the storage (a copy-on-write buffer that
    /// cloned it): the pointer would be unpinned, so it is never returned.
    #[track_caller]
    pub fn as_mut_ptr(&mut self) -> *mut B::Elem {
        let ptr = self.buf.stable_mut_ptr();
        self.assert_in_place(ptr as usize);
        ptr
    }
}

impl<T> OwnedPin<Vec<T>> {
    /// Sets the initialised length after C filled the first `n` elements
    /// (a read completed): what [`len`](OwnedPin::len) and the `Vec` that
    /// [`into_inner`](OwnedPin::into_inner) returns report. The pin does not
    /// change: it always covers the whole capacity.
    ///
    /// ```
    /// use pointer_escapes::OwnedPin;
    ///
    /// let mut buf = OwnedPin::new(Vec::<u8>::with_capacity(16));
    /// let p = buf.as_mut_ptr();
    /// // C's read(fd, p, 16) returned 5:
    /// // SAFETY: `p` points at 16 writable bytes, pinned.
    /// unsafe { p.copy_from_nonoverlapping(b"hello".as_ptr(), 5) };
    /// // SAFETY: the first 5 bytes were written just above.
    /// unsafe { buf.set_len(5) };
    /// assert_eq!(buf.into_inner(), b"hello");
    /// ```
    ///
    /// # Safety
    /// The first `n` elements are initialised, and C's writes to them
    /// happened before this call (the completion was reaped: the kernel or
    /// the C library is done writing them).
    ///
    /// # Panics
    /// If `n` exceeds [`capacity`](OwnedPin::capacity).
    #[track_caller]
    pub unsafe fn set_len(&mut self, n: usize) {
        let capacity = self.buf.capacity();
        assert!(
            n <= capacity,
            "OwnedPin::set_len({n}) exceeds the pinned capacity of {capacity} elements"
        );
        // SAFETY: `n <= capacity` was checked; the caller promises the
        // first `n` elements are initialised.
        unsafe { self.buf.set_len(n) };
    }
}

#[cold]
#[track_caller]
fn storage_moved(region: Region, site: Site, addr: usize, buffer: &str) -> ! {
    panic!(
        "pointer-escapes: the {buffer} in the OwnedPin of {region} made at {site} now points at \
         {addr:#x}: its storage moved, which StableBuf's contract forbids (neither moving the \
         buffer nor stable_mut_ptr may move the storage; a copy-on-write buffer must not clone \
         here); the moved-to memory is not pinned, so it is not handed to C"
    )
}

/// The error of [`OwnedPin::try_into_inner`] (and the panic message of
/// [`OwnedPin::into_inner`]): the buffer's storage was freed while pinned,
/// so no owner of it is returned.
///
/// By then the pin is released and the freed block has gone back to its
/// allocator, once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FreedWhilePinned {
    /// The OwnedPin's region (its buffer's storage).
    pub region: Region,
    /// Where the OwnedPin was made.
    pub site: Site,
}

impl fmt::Display for FreedWhilePinned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pointer-escapes: the buffer of the OwnedPin of {} made at {} was freed while pinned \
             (something that took ownership from its pointer, such as Box::from_raw in a \
             callback, dropped it): its destructor already ran, so memory it owned is gone, and \
             into_inner() returns no owner of it (that would free it twice); the pin is released \
             and the block freed once. Let only one owner free it: keep the OwnedPin and have \
             the callback borrow, or take ownership in the callback and never call into_inner()",
            self.region, self.site
        )
    }
}

impl std::error::Error for FreedWhilePinned {}

/// What became of the buffer of an `OwnedPin` dropped while pinned.
#[derive(Clone, Copy)]
enum DroppedBuffer {
    /// Dropped; `PinAwareAlloc` (the global allocator) quarantined its block.
    Quarantined,
    /// Dropped; it held no storage.
    NoStorage,
    /// Dropped, but no quarantined block appeared: its drop did not free
    /// the storage through the global allocator (StableBuf's contract).
    NotFreedThroughGlobal,
    /// Leaked: the global allocator is not a `PinAwareAlloc`.
    Leaked,
    /// Left alone: it had been freed under the pin already.
    AlreadyFreed,
}

/// The one line an `OwnedPin` dropped while pinned prints (checked mode).
struct DroppedWhilePinned {
    region: Region,
    site: Site,
    buffer: &'static str,
    fate: DroppedBuffer,
}

impl fmt::Display for DroppedWhilePinned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pointer-escapes: OwnedPin of {} made at {} dropped while pinned; its pin stays live \
             and the buffer is ",
            self.region, self.site
        )?;
        match self.fate {
            DroppedBuffer::Quarantined => f.write_str("quarantined by PinAwareAlloc")?,
            DroppedBuffer::NoStorage => f.write_str("dropped (it held no storage)")?,
            DroppedBuffer::NotFreedThroughGlobal => write!(
                f,
                "dropped, but dropping its {} did not free the storage through the global \
                 allocator, so nothing quarantined it: if it went back to a pool, C's writes land \
                 in the pool's next user (StableBuf's contract forbids that)",
                self.buffer
            )?,
            DroppedBuffer::Leaked => f.write_str(
                "leaked (the global allocator is not a PinAwareAlloc, which would quarantine it)",
            )?,
            DroppedBuffer::AlreadyFreed => f.write_str(
                "not dropped again: it was freed while pinned (its destructor already ran)",
            )?,
        }
        f.write_str("; call into_inner() once C is done with it")
    }
}

impl<B: StableBuf> Drop for OwnedPin<B> {
    fn drop(&mut self) {
        // See the module doc: the pin stays, so nothing returns to the
        // allocator while C may hold the pointer.
        let fate = if registry::freed_while_pinned(self.region) {
            DroppedBuffer::AlreadyFreed
        } else if crate::alloc::is_global() {
            // SAFETY: dropped exactly once, here. StableBuf promises the
            // storage goes back only through the global allocator, which is
            // a PinAwareAlloc: it keeps the block (quarantine) because the
            // pin overlapping it stays live.
            unsafe { ManuallyDrop::drop(&mut self.buf) };
            if self.region.is_empty() {
                DroppedBuffer::NoStorage
            } else if registry::freed_while_pinned(self.region) {
                DroppedBuffer::Quarantined
            } else {
                DroppedBuffer::NotFreedThroughGlobal
            }
        } else {
            DroppedBuffer::Leaked
        };
        if crate::check::args_checked() {
            let line = DroppedWhilePinned {
                region: self.region,
                site: self.site,
                buffer: core::any::type_name::<B>(),
                fate,
            };
            crate::diag::text(format_args!("{line}\n"));
        }
    }
}

impl<B: StableBuf> fmt::Debug for OwnedPin<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPin")
            .field("region", &self.region)
            .field("site", &self.site)
            .finish()
    }
}
