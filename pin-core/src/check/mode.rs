//! `CheckMode`: how much the automatic checks do, from `PINCHECK` or
//! `set_check_mode`.

use core::sync::atomic::{AtomicU8, Ordering};

/// How much the automatic checks do (Go's `cgocheck`).
///
/// | mode   | `PINCHECK` | what is checked automatically |
/// |--------|------------|-------------------------------|
/// | `Off`  | `0`        | nothing; call pins are made only if `PinAwareAlloc` is installed |
/// | `Args` | `1`        | every `#[pointer_escapes]` call's pointer arguments, and every pointer written by [`store_pointer`](crate::store_pointer) |
/// | `Deep` | `2`        | what `Args` checks |
///
/// The default is `Args` in builds with debug assertions and `Off` without.
/// The explicit checks, [`check_referents`](crate::check_referents) and
/// [`assert_pinned`](crate::assert_pinned), always check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckMode {
    /// No automatic checks.
    Off = 0,
    /// Check `#[pointer_escapes]` arguments.
    Args = 1,
    /// What `Args` checks. (`store_pointer` used to check only in this
    /// mode; being an explicit call, it checks in `Args` too.)
    Deep = 2,
}

const UNSET: u8 = u8::MAX;
static MODE: AtomicU8 = AtomicU8::new(UNSET);

/// Who wants call pins, as bits, so that an annotated call asks one load:
/// `WANTED_BY_MODE` while the mode is not `Off`, `WANTED_BY_ALLOC` once the
/// pin-aware allocator is in use, `MODE_UNREAD` until `PINCHECK` is read.
static CALL_PINS_WANTED: AtomicU8 = AtomicU8::new(MODE_UNREAD);
const WANTED_BY_MODE: u8 = 1;
const WANTED_BY_ALLOC: u8 = 2;
const MODE_UNREAD: u8 = 0x80;

fn publish_mode(mode: CheckMode) {
    if mode == CheckMode::Off {
        CALL_PINS_WANTED.fetch_and(!(WANTED_BY_MODE | MODE_UNREAD), Ordering::Relaxed);
    } else {
        CALL_PINS_WANTED.fetch_or(WANTED_BY_MODE, Ordering::Relaxed);
        CALL_PINS_WANTED.fetch_and(!MODE_UNREAD, Ordering::Relaxed);
    }
}

/// The pin-aware allocator served its first allocation. Not from `const`
/// code, but cheap: called once per process in practice.
pub(crate) fn note_allocator() {
    CALL_PINS_WANTED.fetch_or(WANTED_BY_ALLOC, Ordering::Relaxed);
}

/// The mode in force: `PINCHECK` (read once, on first use), the build's
/// default, or what [`set_check_mode`] last set.
///
/// ```
/// use pin_core::{check_mode, set_check_mode, CheckMode};
/// set_check_mode(CheckMode::Deep);
/// assert_eq!(check_mode(), CheckMode::Deep);
/// ```
#[inline]
pub fn check_mode() -> CheckMode {
    match MODE.load(Ordering::Relaxed) {
        0 => CheckMode::Off,
        1 => CheckMode::Args,
        2 => CheckMode::Deep,
        _ => init_from_env(),
    }
}

/// Sets the mode for the whole process, overriding `PINCHECK`.
pub fn set_check_mode(mode: CheckMode) {
    MODE.store(mode as u8, Ordering::Relaxed);
    publish_mode(mode);
}

fn default_mode() -> CheckMode {
    if cfg!(debug_assertions) {
        CheckMode::Args
    } else {
        CheckMode::Off
    }
}

#[cold]
fn init_from_env() -> CheckMode {
    // `libc::getenv` rather than `std::env::var`: no allocation, so this is
    // safe to reach from inside the global allocator.
    // SAFETY: the name is a NUL-terminated literal; the result is read
    // before anything else in this process could change the environment.
    let value = unsafe { libc::getenv(c"PINCHECK".as_ptr()) };
    let mode = if value.is_null() {
        default_mode()
    } else {
        // SAFETY: getenv returns a NUL-terminated string.
        match unsafe { core::ffi::CStr::from_ptr(value) }.to_bytes() {
            b"0" => CheckMode::Off,
            b"1" => CheckMode::Args,
            b"2" => CheckMode::Deep,
            _ => {
                let msg =
                    b"pointer-escapes: PINCHECK must be 0, 1 or 2; using the build's default\n";
                // SAFETY: writing a static buffer to stderr.
                unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
                default_mode()
            }
        }
    };
    // Keep a mode set by `set_check_mode` in the meantime.
    let _ = MODE.compare_exchange(UNSET, mode as u8, Ordering::Relaxed, Ordering::Relaxed);
    let mode = check_mode();
    publish_mode(mode);
    mode
}

/// Whether `#[pointer_escapes]` calls check their arguments.
#[inline]
pub(crate) fn args_checked() -> bool {
    !cfg!(feature = "unchecked") && check_mode() >= CheckMode::Args
}

/// Whether a `#[pointer_escapes]` call records its pins: when a check may
/// read them, or when the pin-aware allocator guards frees with them. With
/// neither, the pins would be bookkeeping nobody reads, and skipping them is
/// what makes an annotated call cost one load and branch in release builds.
#[inline]
pub(crate) fn call_pins_wanted() -> bool {
    if cfg!(feature = "unchecked") {
        return false;
    }
    match CALL_PINS_WANTED.load(Ordering::Relaxed) {
        0 => false,
        w if w & MODE_UNREAD == 0 => true,
        _ => {
            init_from_env();
            call_pins_wanted()
        }
    }
}
