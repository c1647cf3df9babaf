//! The registry's lock: a test-and-test-and-set spin lock that yields.
//!
//! Why not `std::sync::Mutex`: critical sections here are tens of
//! nanoseconds, and unlocking a spin lock is a plain release store where the
//! futex mutex needs an atomic swap. It never allocates, so the global
//! allocator may take it. Waiters spin briefly, then `sched_yield`, so a
//! holder that was preempted gets the CPU back.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one holder at a time, so sharing the
// lock between threads only ever moves `T` between them: `T: Send` suffices.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: owning the lock owns the `T`.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    pub(crate) const fn new(value: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        SpinGuard { lock: self }
    }

    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0u32;
        loop {
            while self.locked.load(Ordering::Relaxed) {
                if spins < 64 {
                    core::hint::spin_loop();
                    spins += 1;
                } else {
                    std::thread::yield_now();
                }
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

// Miri runs no fork: only the tests call these there.
#[cfg_attr(miri, allow(dead_code))]
impl<T> SpinLock<T> {
    /// Takes the lock and keeps it past this call, for `fork`'s prepare
    /// handler: no other thread can be inside the critical section when the
    /// process is copied. Undone by [`SpinLock::release_after_fork`].
    pub(crate) fn hold_for_fork(&self) {
        core::mem::forget(self.lock());
    }

    /// Releases the lock [`SpinLock::hold_for_fork`] took, in the parent
    /// and in the child (whose only thread is the one that forked, so it is
    /// the holder there too).
    ///
    /// # Safety
    /// The calling thread took the lock with `hold_for_fork` (in the child:
    /// the thread that forked did) and has not released it since.
    pub(crate) unsafe fn release_after_fork(&self) {
        self.locked.store(false, Ordering::Release);
    }
}

pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> SpinGuard<'_, T> {
    /// Whether this guard holds `lock` (for callers handed a guard with a
    /// promise of which lock it holds).
    pub(crate) fn holds(&self, lock: &SpinLock<T>) -> bool {
        core::ptr::eq(self.lock, lock)
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while this thread holds the lock, and
        // `&mut self` makes this the only reference derived from it.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn excludes_other_threads() {
        let lock = Arc::new(SpinLock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = Arc::clone(&lock);
                std::thread::spawn(move || {
                    for _ in 0..if cfg!(miri) { 100 } else { 20_000 } {
                        *lock.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock(), if cfg!(miri) { 400 } else { 80_000 });
    }

    #[test]
    fn a_lock_held_for_fork_excludes_others_until_released() {
        let lock = SpinLock::new(0u32);
        lock.hold_for_fork();
        assert!(lock.locked.load(Ordering::Relaxed));
        // SAFETY: this thread took it with hold_for_fork just above.
        unsafe { lock.release_after_fork() };
        *lock.lock() += 1;
        assert_eq!(*lock.lock(), 1);
    }
}
