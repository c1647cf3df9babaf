//! The global allocator of the allocator benches (`alloc.rs`,
//! `callgrind_driver.rs`): `System` or a `PinAwareAlloc<System>`, chosen per
//! call by a static flag, so both sides of a comparison pay the same switch.

use pin_core::PinAwareAlloc;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

/// The allocator under test when `Switch` forwards to it, and the one the
/// direct-call benches use. A `static`, as a `PinAwareAlloc` holding
/// quarantined blocks must stay at one address.
pub static PIN_AWARE: PinAwareAlloc = PinAwareAlloc::system();

/// Serves one allocation through `PIN_AWARE` before anything is pinned, as
/// a program whose `#[global_allocator]` is a `PinAwareAlloc` has done long
/// before its first pin: from its first allocation on, the allocator has
/// told the registry that frees are guarded, and call pins are wanted.
pub fn install_pin_aware() {
    let layout = Layout::new::<u64>();
    // SAFETY: non-zero size; freed at once with the same layout.
    unsafe {
        let p = PIN_AWARE.alloc(layout);
        if p.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        PIN_AWARE.dealloc(p, layout);
    }
}

/// Whether the global allocator forwards to `PIN_AWARE` (else `System`).
pub static USE_PIN_AWARE: AtomicBool = AtomicBool::new(false);

/// The global allocator of this bench: `System` or `PIN_AWARE`, chosen per
/// call by `USE_PIN_AWARE`.
///
/// Mixing is sound: `PinAwareAlloc<System>` hands out `System` blocks and
/// frees unpinned blocks through `System`, so a block allocated under one
/// setting may be freed under the other. The only blocks it keeps (pinned
/// ones) are freed later through its own inner `System`.
struct Switch;

// SAFETY: every method forwards to `System` or to `PinAwareAlloc<System>`,
// both of which allocate from `System` (see above), with the caller's
// arguments unchanged.
unsafe impl GlobalAlloc for Switch {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe {
            if USE_PIN_AWARE.load(Ordering::Relaxed) {
                PIN_AWARE.alloc(layout)
            } else {
                System.alloc(layout)
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe {
            if USE_PIN_AWARE.load(Ordering::Relaxed) {
                PIN_AWARE.alloc_zeroed(layout)
            } else {
                System.alloc_zeroed(layout)
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe {
            if USE_PIN_AWARE.load(Ordering::Relaxed) {
                PIN_AWARE.dealloc(ptr, layout)
            } else {
                System.dealloc(ptr, layout)
            }
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe {
            if USE_PIN_AWARE.load(Ordering::Relaxed) {
                PIN_AWARE.realloc(ptr, layout, new_size)
            } else {
                System.realloc(ptr, layout, new_size)
            }
        }
    }
}

#[global_allocator]
static GLOBAL: Switch = Switch;
