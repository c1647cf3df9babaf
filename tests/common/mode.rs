//! `set_check_mode` is process-wide and tests run in parallel threads: every
//! test whose outcome depends on the mode runs under one lock.

use pointer_escapes::{check_mode, set_check_mode, CheckMode};
use std::sync::{Mutex, PoisonError};

static MODE_LOCK: Mutex<()> = Mutex::new(());

struct Restore(CheckMode);

impl Drop for Restore {
    fn drop(&mut self) {
        set_check_mode(self.0);
    }
}

/// Runs `f` with the check mode set to `mode` and no other mode-dependent
/// test running; restores the previous mode afterwards, also on panic.
pub fn with_check_mode<R>(mode: CheckMode, f: impl FnOnce() -> R) -> R {
    // A test that failed while holding the lock poisons it; the mode is
    // restored by `Restore` either way, so the lock is still good.
    let _serial = MODE_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let _restore = Restore(check_mode());
    set_check_mode(mode);
    f()
}
