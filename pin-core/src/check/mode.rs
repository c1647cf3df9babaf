//! `CheckMode`: how much the automatic checks do, from `POINTER_ESCAPES_CHECK` or
//! `set_check_mode`.

use core::sync::atomic::{AtomicU8, Ordering};

/// How much the automatic checks do (Go's `cgocheck`).
///
/// | mode   | `POINTER_ESCAPES_CHECK` | what is checked automatically |
/// |--------|------------|-------------------------------|
/// | `Off`  | `0`        | nothing; call pins are made only if `PinAwareAlloc` is installed |
/// | `Args` | `1`        | every `#[pointer_escapes]` call's pointer arguments, and every pointer written by [`store_pointer`](crate::store_pointer) |
/// | `Deep` | `2`        | what `Args` checks |
///
/// The default is `Args` in builds with debug assertions and `Off` without.
/// The explicit checks, [`check_referents`](crate::check_referents) and
/// [`assert_pinned`](crate::assert_pinned), always check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum CheckMode {
    /// No automatic checks.
    Off = 0,
    /// Check `#[pointer_escapes]` arguments.
    Args = 1,
    /// What `Args` checks. (`store_pointer` used to check only in this
    /// mode; being an explicit call, it checks in `Args` too.)
    Deep = 2,
}

/// The mode and who wants call pins, in ONE word, so that they change
/// together: with two words, `set_check_mode(Args)` racing
/// `set_check_mode(Off)` could leave the mode `Args` while annotated calls
/// recorded nothing. Bits 0-1 hold the mode (`CheckMode as u8`),
/// `WANTED_BY_ALLOC` is set once the pin-aware allocator is in use, and
/// `MODE_UNREAD` until `POINTER_ESCAPES_CHECK` is read or a mode is set. Call pins are
/// wanted when the mode is not `Off` or the allocator is in use, which is
/// "the word is not 0" once the mode is read: one load and a branch.
struct ModeState(AtomicU8);

const MODE_BITS: u8 = 0b11;
const WANTED_BY_ALLOC: u8 = 0b100;
const MODE_UNREAD: u8 = 0x80;

impl ModeState {
    const fn new() -> ModeState {
        ModeState(AtomicU8::new(MODE_UNREAD))
    }

    /// The mode, or `None` while it is unread.
    #[inline]
    fn mode(&self) -> Option<CheckMode> {
        let word = self.0.load(Ordering::Relaxed);
        if word & MODE_UNREAD != 0 {
            return None;
        }
        Some(match word & MODE_BITS {
            0 => CheckMode::Off,
            1 => CheckMode::Args,
            _ => CheckMode::Deep,
        })
    }

    /// Whether call pins are wanted, or `None` while the mode is unread.
    #[inline]
    fn pins_wanted(&self) -> Option<bool> {
        match self.0.load(Ordering::Relaxed) {
            0 => Some(false),
            word if word & MODE_UNREAD == 0 => Some(true),
            _ => None,
        }
    }

    /// Sets the mode, keeping the allocator's bit.
    fn set(&self, mode: CheckMode) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |word| {
                Some((word & WANTED_BY_ALLOC) | mode as u8)
            });
    }

    /// Sets the mode read from the environment unless one was set (by
    /// `set`, or by another thread reading the environment) meanwhile.
    fn set_if_unread(&self, mode: CheckMode) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |word| {
                (word & MODE_UNREAD != 0).then_some((word & WANTED_BY_ALLOC) | mode as u8)
            });
    }

    fn note_allocator(&self) {
        self.0.fetch_or(WANTED_BY_ALLOC, Ordering::Relaxed);
    }
}

static STATE: ModeState = ModeState::new();

/// The pin-aware allocator served its first allocation. Not from `const`
/// code, but cheap: called once per process in practice.
pub(crate) fn note_allocator() {
    STATE.note_allocator();
}

/// The mode in force: `POINTER_ESCAPES_CHECK` (read once, on first use), the build's
/// default, or what [`set_check_mode`] last set.
///
/// ```
/// use pointer_escapes::{check_mode, set_check_mode, CheckMode};
/// set_check_mode(CheckMode::Deep);
/// assert_eq!(check_mode(), CheckMode::Deep);
/// ```
#[inline]
pub fn check_mode() -> CheckMode {
    match STATE.mode() {
        Some(mode) => mode,
        None => init_from_env(),
    }
}

/// Sets the mode for the whole process, overriding `POINTER_ESCAPES_CHECK`. Safe to call
/// from several threads at once: the last call wins, and annotated calls
/// record their pins exactly when the mode in force (or the pin-aware
/// allocator) wants them.
///
/// ```
/// use pointer_escapes::{check_mode, set_check_mode, CheckMode};
/// set_check_mode(CheckMode::Off);
/// assert_eq!(check_mode(), CheckMode::Off);
/// # set_check_mode(CheckMode::Args);
/// ```
pub fn set_check_mode(mode: CheckMode) {
    STATE.set(mode);
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
    // Read without allocating (see `settings`), so this is safe to reach
    // from inside the global allocator.
    let mode = match crate::settings::CHECK.value() {
        None => default_mode(),
        Some(b"0") => CheckMode::Off,
        Some(b"1") => CheckMode::Args,
        Some(b"2") => CheckMode::Deep,
        Some(_) => {
            crate::diag::write_stderr(
                b"pointer-escapes: POINTER_ESCAPES_CHECK (or PINCHECK) must be 0, 1 or 2; \
                  using the build's default\n",
            );
            default_mode()
        }
    };
    // Keep a mode set by `set_check_mode` in the meantime.
    STATE.set_if_unread(mode);
    STATE.mode().unwrap_or(mode)
}

/// Whether `#[pointer_escapes]` calls check their arguments.
#[inline]
pub(crate) fn args_checked() -> bool {
    check_mode() >= CheckMode::Args
}

/// Whether a `#[pointer_escapes]` call records its pins: when a check may
/// read them, or when the pin-aware allocator guards frees with them. With
/// neither, the pins would be bookkeeping nobody reads, and skipping them is
/// what makes an annotated call cost one load and branch in release builds.
#[inline]
pub(crate) fn call_pins_wanted() -> bool {
    match STATE.pins_wanted() {
        Some(wanted) => wanted,
        None => {
            init_from_env();
            call_pins_wanted()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule: the mode in force and "annotated calls record their pins"
    /// never disagree, whatever threads set the mode at once. Each round
    /// races `Args` against `Off` (and, every other round, the allocator's
    /// first allocation) on a fresh state, then checks the pair.
    #[test]
    fn mode_and_call_pins_wanted_change_together() {
        let rounds = if cfg!(miri) { 12 } else { 2000 };
        for round in 0..rounds {
            let state = ModeState::new();
            let with_alloc = round % 2 == 1;
            std::thread::scope(|s| {
                s.spawn(|| state.set(CheckMode::Args));
                s.spawn(|| state.set(CheckMode::Off));
                if with_alloc {
                    s.spawn(|| state.note_allocator());
                }
                if round % 3 == 0 {
                    s.spawn(|| state.set_if_unread(CheckMode::Deep));
                }
            });
            let mode = state.mode().expect("a mode was set");
            assert_ne!(
                mode,
                CheckMode::Deep,
                "the environment's mode overrode a set one"
            );
            assert_eq!(
                state.pins_wanted(),
                Some(mode != CheckMode::Off || with_alloc),
                "round {round}: mode {mode:?}, allocator in use: {with_alloc}"
            );
        }
    }

    #[test]
    fn the_environment_is_read_once_and_a_set_mode_wins() {
        let state = ModeState::new();
        assert_eq!((state.mode(), state.pins_wanted()), (None, None));
        state.set_if_unread(CheckMode::Off);
        assert_eq!(state.mode(), Some(CheckMode::Off));
        assert_eq!(state.pins_wanted(), Some(false));
        state.set_if_unread(CheckMode::Deep);
        assert_eq!(state.mode(), Some(CheckMode::Off), "read twice");
        state.note_allocator();
        assert_eq!(state.pins_wanted(), Some(true));
        state.set(CheckMode::Deep);
        state.set(CheckMode::Off);
        assert_eq!(
            state.pins_wanted(),
            Some(true),
            "set dropped the allocator's bit"
        );
    }
}
