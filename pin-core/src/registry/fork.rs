//! The registry across `fork()`.
//!
//! `fork` copies only the calling thread. Had another thread held one of
//! the registry's locks at that instant, the child would inherit it held
//! with no thread left to release it, and its first pin or pinned `dealloc`
//! would spin forever. So, as glibc malloc, jemalloc and mimalloc do for
//! their own locks, `pthread_atfork` handlers take every lock before the
//! fork, in the registry's lock order (the quarantine's, then each shard's
//! in ascending order: see `registry`'s "Lock order"), so no other thread
//! is then inside the registry and the copied tables are consistent, and
//! release them afterwards in the parent and in the child. The lock-free
//! hints are written only under a shard's lock or the quarantine's, so
//! holding them all excludes their writers too.
//!
//! The handlers are installed on the first use of the registry. Through
//! `pthread_once` rather than `std::sync::Once`: glibc's `pthread_once`
//! restarts in a child forked while another thread was running the
//! initialiser, where a `std::sync::Once` would be left "running" for good.
//! Neither allocates through the global allocator.
//!
//! The per-thread call-pin records take no lock, but a thread the child
//! does not have may have been mid-write on its record: the child handler
//! makes those records readable again (`calls::repair_after_fork`).
//!
//! Every other lock on the registry's paths is covered here too: the only
//! one is the `OnceLock` of the static segments (`statics`), which the
//! registry consults under its lock; the prepare handler initialises it
//! first, so no fork happens while it is being filled in.

use core::sync::atomic::{AtomicBool, Ordering};

/// Whether the handlers are installed: one relaxed load on the fast path.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Installs the fork handlers once per process; cheap after the first call.
#[inline]
pub(super) fn install_handlers() {
    if !INSTALLED.load(Ordering::Relaxed) {
        install_slow();
    }
}

#[cfg(not(miri))]
#[cold]
fn install_slow() {
    use core::cell::UnsafeCell;

    struct OnceControl(UnsafeCell<libc::pthread_once_t>);
    // SAFETY: the control word is only ever handed to `pthread_once`, which
    // synchronises every access to it.
    unsafe impl Sync for OnceControl {}
    static ONCE: OnceControl = OnceControl(UnsafeCell::new(libc::PTHREAD_ONCE_INIT));

    extern "C" fn register() {
        // SAFETY: the three handlers are plain `extern "C" fn()`s that
        // neither unwind nor allocate. A failure (ENOMEM) leaves the
        // process as it was before this module existed; nothing to undo.
        unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
    }

    // SAFETY: `ONCE` is a static control word initialised with
    // PTHREAD_ONCE_INIT, used with no other function.
    unsafe { libc::pthread_once(ONCE.0.get(), register) };
    INSTALLED.store(true, Ordering::Relaxed);
}

/// Miri runs no `fork` and no foreign `pthread_atfork`.
#[cfg(miri)]
fn install_slow() {
    INSTALLED.store(true, Ordering::Relaxed);
}

#[cfg(not(miri))]
extern "C" fn prepare() {
    // Lock order: the registry's locks are taken before `statics`' OnceLock
    // (covered_in asks about static memory under the lock), so settle the
    // OnceLock first, holding nothing.
    crate::statics::read_now();
    // The thread table's writer lock first: it is never taken while the
    // registry's locks are held, so this order cannot deadlock.
    crate::memory::hold_for_fork();
    super::quarantine::QUARANTINE.hold_for_fork();
    for shard in &super::SHARD_TABLES {
        shard.table.hold_for_fork();
    }
}

/// Releases what `prepare` took.
///
/// # Safety
/// The calling thread ran `prepare` (in the child: the thread that forked
/// did) and has released none of its locks since.
#[cfg(not(miri))]
unsafe fn release_all() {
    for shard in &super::SHARD_TABLES {
        // SAFETY: `prepare` took it on this thread (the caller's promise).
        unsafe { shard.table.release_after_fork() };
    }
    // SAFETY: as above.
    unsafe {
        super::quarantine::QUARANTINE.release_after_fork();
        crate::memory::release_after_fork();
    }
}

#[cfg(not(miri))]
extern "C" fn parent() {
    // SAFETY: `prepare` took every lock on this thread just before the fork.
    unsafe { release_all() }
}

#[cfg(not(miri))]
extern "C" fn child() {
    // SAFETY: the child's only thread is the one that ran `prepare`, which
    // took every lock; no other thread can be waiting for them, nor be
    // writing its call-pin record.
    unsafe {
        super::calls::repair_after_fork();
        release_all();
    }
}
