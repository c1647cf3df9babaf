//! `PinAwareAlloc`: the global allocator that gives pins their teeth.
//! Pinned heap memory is neither freed nor moved until it is unpinned.
//!
//! - `dealloc` of a block that a live pin overlaps does not reach the inner
//!   allocator: the block is quarantined, untouched, and freed when the last
//!   pin overlapping it is released.
//! - `realloc` of such a block never moves it under C: a new block is
//!   allocated, the contents copied, and the old block quarantined.
//! - Each such event is recorded (see `snapshot()`), printed as one line to
//!   stderr in checked mode, and with `POINTER_ESCAPES_GUARD=abort` printed and then the
//!   process aborts. Nothing here ever unwinds.
//!
//! # Why it cannot recurse, deadlock or trip over TLS
//! - **No allocation while deciding.** In a process that never pinned,
//!   `dealloc` and `realloc` cost one atomic load
//!   (`registry::may_overlap_pin`); with pins live elsewhere, a few more:
//!   the exact per-granule hints of each shard that holds pins, and one
//!   word per thread that ever made a call with pins. Otherwise the
//!   registry answers under its spin locks from tables it allocates from
//!   `std::alloc::System` directly, never through the global allocator, and
//!   events go to a fixed ring. Messages are formatted into a stack buffer
//!   and written with `write(2)`.
//! - **No lock order to get wrong.** The registry calls neither the global
//!   allocator nor the inner allocator nor user code while holding a lock:
//!   quarantined blocks are collected under the locks and freed after they
//!   are dropped. So a `dealloc` inside any registry operation cannot
//!   happen, and a `dealloc` racing one just waits for the locks.
//! - **No TLS with destructors.** The only thread-locals touched are the
//!   thread's report number and, for one layout only, the probe flags of
//!   `is_global`: `const`-initialised `Cell`s without destructors, valid
//!   during thread-local destruction and at exit.
//!   Settings come from `getenv`, not `std::env` (which allocates).
//!
//! The inner allocator frees quarantined blocks through a pointer to itself,
//! so a `PinAwareAlloc` must stay at one address while it holds any: as a
//! `#[global_allocator]` static it always does.

use crate::region::Region;
use crate::registry::{self, AllocEvent, AllocEventKind, QuarantineRelease};
use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::alloc::System;

/// A global allocator wrapper that quarantines pinned blocks instead of
/// freeing or moving them.
///
/// ```
/// use pointer_escapes::PinAwareAlloc;
///
/// #[global_allocator]
/// static ALLOC: PinAwareAlloc = PinAwareAlloc::system();
///
/// let buf = vec![0u8; 4096];
/// let mut pinner = pointer_escapes::Pinner::new();
/// // SAFETY: the quarantine keeps the memory alive while it is pinned.
/// unsafe { pinner.pin_raw(buf.as_ptr(), buf.len()) };
/// let addr = buf.as_ptr() as usize;
/// drop(buf); // C may still hold `addr`: the block is quarantined, not freed
/// assert_eq!(pointer_escapes::snapshot().quarantined_bytes >= 4096, true);
/// pinner.unpin(); // now it is freed
/// # let _ = addr;
/// ```
///
/// # Global or side allocator
/// Its guarantees cover the blocks it serves. As the `#[global_allocator]`
/// that is every `Box`, `Vec` and `String`, and a dropped, still-pinned
/// [`OwnedPin`](crate::OwnedPin) lets it quarantine its buffer. Used
/// directly as a side allocator (an arena, `allocator_api2`), it quarantines
/// pinned blocks it served and makes `#[pointer_escapes]` calls pin their
/// arguments, but frees through `std::alloc` are not guarded: the library
/// knows which case holds by probing `std::alloc` once (a wrapper global
/// allocator counts when it forwards `alloc_zeroed` and `dealloc` to a
/// `PinAwareAlloc`), and `snapshot().allocator_installed` reports it.
pub struct PinAwareAlloc<A: GlobalAlloc = System> {
    inner: A,
}

/// Set by the first allocation any `PinAwareAlloc` serves, global or not
/// (the global one or a side one used directly): either guards the frees it
/// serves, so that allocation tells the registry (its lock-free hints) and
/// the checker (call pins of `#[pointer_escapes]` are wanted) below it.
static IN_USE: AtomicBool = AtomicBool::new(false);

const GLOBAL_UNKNOWN: u8 = 0;
const GLOBAL_NO: u8 = 1;
const GLOBAL_YES: u8 = 2;
/// The answer of [`is_global`], once known.
static GLOBAL: AtomicU8 = AtomicU8::new(GLOBAL_UNKNOWN);

/// The layout only the probe of [`is_global`] allocates with: a 3-byte block
/// aligned to 64 is a shape real code has no reason to ask for zeroed, so
/// `alloc_zeroed` filters on it with two compares before looking further.
const PROBE_SIZE: usize = 3;
const PROBE_ALIGN: usize = 64;

thread_local! {
    // `const` initialisers and no destructors: usable inside the allocator,
    // in TLS destructors and at exit.
    /// This thread is inside the probe's `std::alloc::alloc_zeroed`.
    static PROBING: Cell<bool> = const { Cell::new(false) };
    /// A `PinAwareAlloc` served this thread's probe allocation.
    static PROBE_SERVED: Cell<bool> = const { Cell::new(false) };
}

/// Whether the process's `#[global_allocator]` is a `PinAwareAlloc` (or
/// forwards `std::alloc` calls to one), so that a block dropped through
/// `std::alloc` while pinned is quarantined rather than freed.
///
/// Known, not guessed: the first call allocates one probe block through
/// `std::alloc::alloc_zeroed` with a layout nothing else uses, while a
/// thread-local flag says "probing"; `PinAwareAlloc::alloc_zeroed` notes
/// the probe only when both hold. A side `PinAwareAlloc` never sees
/// `std::alloc` calls, so it cannot answer yes. The answer is cached for the
/// life of the process (a global allocator that switches between a
/// `PinAwareAlloc` and another allocator at run time must not rely on it).
///
/// Must not be called with the registry's lock held or from inside the
/// allocator: the probe allocates and frees through the global allocator.
pub(crate) fn is_global() -> bool {
    match GLOBAL.load(Ordering::Relaxed) {
        GLOBAL_YES => true,
        GLOBAL_NO => false,
        _ => probe_global(),
    }
}

#[cold]
fn probe_global() -> bool {
    let layout = match Layout::from_size_align(PROBE_SIZE, PROBE_ALIGN) {
        Ok(layout) => layout,
        Err(_) => return false,
    };
    PROBE_SERVED.with(|s| s.set(false));
    PROBING.with(|p| p.set(true));
    // SAFETY: `layout` has a non-zero size.
    let block = unsafe { std::alloc::alloc_zeroed(layout) };
    PROBING.with(|p| p.set(false));
    let global = PROBE_SERVED.with(|s| s.replace(false));
    if !block.is_null() {
        // SAFETY: allocated just above with this layout, never shared.
        unsafe { std::alloc::dealloc(block, layout) };
    }
    // Several threads may probe at once; they all find the same answer.
    GLOBAL.store(
        if global { GLOBAL_YES } else { GLOBAL_NO },
        Ordering::Relaxed,
    );
    global
}

/// `alloc_zeroed` was asked for the probe's layout: note the probe if this
/// thread is probing. Reached only for that exact layout.
#[cold]
fn note_probe() {
    if PROBING.with(Cell::get) {
        PROBE_SERVED.with(|s| s.set(true));
    }
}

impl PinAwareAlloc<System> {
    /// Wraps the system allocator.
    pub const fn system() -> PinAwareAlloc<System> {
        PinAwareAlloc { inner: System }
    }
}

impl<A: GlobalAlloc> PinAwareAlloc<A> {
    /// Wraps another allocator (`jemallocator::Jemalloc`, `mimalloc::MiMalloc`...).
    pub const fn new(inner: A) -> PinAwareAlloc<A> {
        PinAwareAlloc { inner }
    }

    /// The wrapped allocator.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    fn release(&self) -> QuarantineRelease {
        QuarantineRelease {
            allocator: &self.inner as *const A as *const (),
            free: free_through::<A>,
        }
    }

    #[inline]
    fn note_in_use() {
        if !IN_USE.load(Ordering::Relaxed) {
            first_allocation();
        }
    }
}

/// The first allocation any `PinAwareAlloc` served, global or side. Call
/// pins are wanted from now on even when this one is only a side allocator:
/// it still consults the registry on every free it serves, so a block it
/// allocated and a call pinned is quarantined if freed during the call.
#[cold]
fn first_allocation() {
    IN_USE.store(true, Ordering::Relaxed);
    registry::note_guarded_frees();
    crate::check::note_allocator();
}

/// # Safety
/// `allocator` must point at a live `A` that allocated `ptr` with `layout`.
unsafe fn free_through<A: GlobalAlloc>(allocator: *const (), ptr: *mut u8, layout: Layout) {
    // SAFETY: forwarded from the caller.
    unsafe { (*(allocator as *const A)).dealloc(ptr, layout) }
}

// SAFETY: every method forwards to the inner allocator with the same layout,
// except that a pinned block's free is deferred (the block stays allocated,
// which is always allowed) and a pinned block's realloc returns a fresh block
// from the inner allocator holding a copy of the contents, as `realloc`'s
// contract permits.
unsafe impl<A: GlobalAlloc> GlobalAlloc for PinAwareAlloc<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::note_in_use();
        // SAFETY: forwarded contract.
        unsafe { self.inner.alloc(layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::note_in_use();
        if layout.size() == PROBE_SIZE && layout.align() == PROBE_ALIGN {
            note_probe();
        }
        // SAFETY: forwarded contract.
        unsafe { self.inner.alloc_zeroed(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // In a process that never pinned: one atomic load. With pins live
        // elsewhere: a few lock-free loads of the registry's hints.
        if registry::may_overlap_pin(Region::from_parts(ptr as usize, layout.size()))
            && self.quarantined(ptr, layout)
        {
            return;
        }
        // SAFETY: forwarded contract.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let block = Region::from_parts(ptr as usize, layout.size());
        if registry::may_overlap_pin(block) && registry::overlaps_pin(block) {
            // SAFETY: forwarded contract.
            return unsafe { self.move_pinned(ptr, layout, new_size) };
        }
        // SAFETY: forwarded contract.
        unsafe { self.inner.realloc(ptr, layout, new_size) }
    }
}

impl<A: GlobalAlloc> PinAwareAlloc<A> {
    #[cold]
    fn quarantined(&self, ptr: *mut u8, layout: Layout) -> bool {
        let block = Region::from_parts(ptr as usize, layout.size());
        match registry::quarantine_if_pinned(
            block,
            layout,
            self.release(),
            AllocEventKind::FreedWhilePinned,
        ) {
            Some(event) => {
                announce(&event);
                true
            }
            None => false,
        }
    }

    /// Realloc of a pinned block: copy into a new block first (so a release
    /// racing us cannot free the source mid-copy), then quarantine the old
    /// block, or free it if the pin went away meanwhile.
    ///
    /// # Safety
    /// `realloc`'s contract.
    #[cold]
    unsafe fn move_pinned(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return core::ptr::null_mut();
        };
        // SAFETY: `new_layout` has a non-zero size (realloc's contract).
        let new = unsafe { self.inner.alloc(new_layout) };
        if new.is_null() {
            // Out of memory: report it as realloc does; the old block stays.
            return new;
        }
        // SAFETY: both blocks are live and distinct; copy the shorter length.
        unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        let block = Region::from_parts(ptr as usize, layout.size());
        match registry::quarantine_if_pinned(
            block,
            layout,
            self.release(),
            AllocEventKind::MovedWhilePinned {
                new_addr: new as usize,
            },
        ) {
            Some(event) => announce(&event),
            // SAFETY: the pin went away; the old block is ours to free.
            None => unsafe { self.inner.dealloc(ptr, layout) },
        }
        new
    }
}

const GUARD_UNREAD: u8 = 0;
const GUARD_REPORT: u8 = 1;
const GUARD_ABORT: u8 = 2;
static GUARD: AtomicU8 = AtomicU8::new(GUARD_UNREAD);

fn guard_mode() -> u8 {
    let g = GUARD.load(Ordering::Relaxed);
    if g != GUARD_UNREAD {
        return g;
    }
    let g = if crate::settings::GUARD.value() == Some(b"abort") {
        GUARD_ABORT
    } else {
        GUARD_REPORT
    };
    GUARD.store(g, Ordering::Relaxed);
    g
}

/// Says what happened without allocating; aborts under `POINTER_ESCAPES_GUARD=abort`.
fn announce(event: &AllocEvent) {
    crate::report::arm_exit_report();
    let abort = guard_mode() == GUARD_ABORT;
    if abort || crate::check::args_checked() {
        crate::diag::line(format_args!("pointer-escapes: {event}\n"));
    }
    if abort {
        crate::diag::write_stderr(b"pointer-escapes: POINTER_ESCAPES_GUARD=abort: aborting\n");
        std::process::abort();
    }
}
