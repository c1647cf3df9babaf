//! What kind of memory an address is: static, a thread's stack, a thread's
//! thread-local storage, or other (heap, `mmap`, C's own).
//!
//! Why the checker asks: a pin keeps heap memory from being freed or moved,
//! but no pin keeps a stack frame alive or a thread's thread-local storage
//! from being freed when the thread exits. So memory that C keeps a pointer
//! to after the call returns (`#[escapes(retained)]`, a returned pointer,
//! `store_pointer`) must not be stack or thread-local memory, whatever the
//! registry says; static memory is never freed and needs no pin.
//!
//! # What is known
//! - **Static**: the loaded segments of the executable and the shared
//!   libraries loaded at start-up (see `statics`). Libraries `dlopen`ed
//!   later are not seen.
//! - **Stack of thread T**: each thread *registers* on its first use of the
//!   library (its first pin, check, `store_pointer`, or an explicit
//!   [`register_thread`]), recording its stack range as
//!   `pthread_getattr_np` reports it. A thread that never used the library
//!   is unknown: addresses in its stack are "other". So are alternate
//!   signal stacks and the stacks of stackful coroutines (memory the
//!   coroutine library allocated), which `pthread_getattr_np` does not know.
//! - **Thread-local of thread T**: on x86_64 with glibc, a registered
//!   thread's *static* TLS blocks (those of the executable and of the
//!   libraries loaded at start-up, where every Rust `thread_local!` of a
//!   statically linked crate lives), found with `dl_iterate_phdr`'s
//!   `dlpi_tls_data` at registration and merged into the range that ends at
//!   the thread pointer. Dynamic TLS (a `dlopen`ed library's blocks that
//!   glibc allocates with `malloc` on first use) is not covered: it counts
//!   as "other". On other targets no address counts as thread-local; for
//!   threads other than the main one, glibc places the static TLS inside
//!   the thread's stack mapping, so it is still refused as "stack".
//! - A thread unregisters when it exits (a thread-local destructor), so an
//!   address in a dead thread's stack is "other" again. The table holds
//!   `MAX_LIVE_THREADS` (1024) live threads; threads beyond that are
//!   unknown.
//! - Under Miri no foreign function is called: every non-static address is
//!   "other" and no memory is static (as in `statics`).
//!
//! # Cost and where it may run
//! Classifying is lock-free: the static segments' binary search, then the
//! calling thread's own ranges, then every other live thread's (two range
//! comparisons each, under a per-slot sequence count). Registration, the
//! first time a thread classifies or pins, calls `pthread_getattr_np`,
//! `dl_iterate_phdr` and `std::thread::current()` (which may allocate
//! through the global allocator), so nothing here runs on the allocator
//! path: the pin-aware allocator never classifies memory.

mod threads;

/// Takes the thread table's writer lock around `fork()`, from the
/// registry's `pthread_atfork` handlers.
#[cfg(not(miri))]
pub(crate) fn hold_for_fork() {
    threads::hold_for_fork();
}

/// Releases the lock [`hold_for_fork`] took.
///
/// # Safety
/// Only in a `pthread_atfork` parent or child handler, after
/// [`hold_for_fork`] ran in the prepare handler.
#[cfg(not(miri))]
pub(crate) unsafe fn release_after_fork() {
    // SAFETY: forwarded from the caller.
    unsafe { threads::release_after_fork() };
}

use crate::origin::ThreadNumber;
use crate::region::Region;
use crate::statics;
use core::fmt;

/// What kind of memory an address is, as far as the library can tell (see
/// [`memory_kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MemoryKind {
    /// The executable's or a start-up library's loaded segments: string
    /// literals, `static`s, code. Never freed or moved: always pinned.
    Static,
    /// A registered thread's stack: gone when its frame returns, whatever
    /// pins say.
    Stack {
        /// The thread whose stack it is.
        thread: ThreadNumber,
    },
    /// A registered thread's static thread-local storage: freed when the
    /// thread exits, whatever pins say.
    ThreadLocal {
        /// The thread it belongs to.
        thread: ThreadNumber,
    },
    /// Anything else: the heap, `mmap`ed memory, C's own memory, and
    /// stacks or thread-local storage the library does not know.
    Other,
}

impl fmt::Display for MemoryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemoryKind::Static => f.write_str("static memory"),
            MemoryKind::Stack { thread } => write!(f, "the stack of thread {thread}"),
            MemoryKind::ThreadLocal { thread } => {
                write!(f, "the thread-local storage of thread {thread}")
            }
            MemoryKind::Other => f.write_str("heap or other memory"),
        }
    }
}

/// What kind of memory `ptr` points into (see [`MemoryKind`] for what is
/// known, and the limits). Registers the calling thread first, so its own
/// stack is always known. Null is [`MemoryKind::Other`].
///
/// Do not call it from a `#[global_allocator]`: a thread's first call
/// registers the thread, which may allocate.
///
/// ```
/// use pointer_escapes::{memory_kind, MemoryKind};
///
/// static TABLE: [u8; 4] = [1, 2, 3, 4];
/// let local = 5u64;
/// let boxed = Box::new(6u64);
/// thread_local!(static COUNTER: u64 = const { 0 });
///
/// assert_eq!(memory_kind(TABLE.as_ptr()), MemoryKind::Static);
/// assert!(matches!(memory_kind(&local), MemoryKind::Stack { .. }));
/// assert_eq!(memory_kind(&*boxed), MemoryKind::Other);
/// # #[cfg(all(target_arch = "x86_64", target_env = "gnu"))]
/// assert!(matches!(COUNTER.with(|c| memory_kind(c)), MemoryKind::ThreadLocal { .. }));
/// ```
pub fn memory_kind<T: ?Sized>(ptr: *const T) -> MemoryKind {
    classify(ptr.cast::<u8>() as usize)
}

/// [`memory_kind`] of an address.
pub(crate) fn classify(addr: usize) -> MemoryKind {
    if addr == 0 {
        return MemoryKind::Other;
    }
    if statics::is_static(addr) {
        return MemoryKind::Static;
    }
    frame_memory(Region::from_parts(addr, 1)).unwrap_or(MemoryKind::Other)
}

/// The stack or thread-local storage that shares a byte with `region` (a
/// zero-length region asks about its address), if any: memory no pin can
/// keep alive. Registers the calling thread first.
pub(crate) fn frame_memory(region: Region) -> Option<MemoryKind> {
    let region = if region.is_empty() {
        Region::from_parts(region.addr(), 1.min(usize::MAX - region.addr()))
    } else {
        region
    };
    threads::ensure_registered();
    threads::overlapping(region)
}

/// The memory `addr` lies in when the library knows where that memory
/// ends: a static segment, or a registered thread's stack or thread-local
/// storage, with its range `[start, end)` as a region. `None` for heap and
/// other memory, whose blocks' bounds the library cannot learn soundly
/// (glibc's `malloc_usable_size` is undefined behaviour on a pointer that
/// is not a block's start, and the global allocator may not be glibc's).
/// No value of these kinds straddles the range's end, so an extent that
/// starts inside and ends past it is not one value's (or array's) memory.
/// Registers the calling thread first.
pub(crate) fn bounded_memory(addr: usize) -> Option<(MemoryKind, Region)> {
    if addr == 0 {
        return None;
    }
    if let Some((start, end)) = statics::segment_containing(addr) {
        return Some((MemoryKind::Static, Region::from_parts(start, end - start)));
    }
    threads::ensure_registered();
    threads::range_containing(addr)
        .map(|(kind, start, end)| (kind, Region::from_parts(start, end - start)))
}

/// Registers the calling thread with the library now: its name and OS
/// thread id (for messages and the report) and its stack and thread-local
/// storage ranges (for the checks that refuse stack memory C keeps). A
/// thread registers by itself on its first pin or check; call this first
/// thing in a thread whose stack other threads' checks should recognise
/// before it has used the library (a thread pool's start hook, for
/// example). Idempotent and cheap after the first call.
///
/// Do not call it from a `#[global_allocator]` (it may allocate).
///
/// ```
/// use pointer_escapes::{memory_kind, MemoryKind};
/// use std::sync::mpsc;
///
/// let (tx, rx) = mpsc::channel();
/// let (done_tx, done_rx) = mpsc::channel::<()>();
/// let worker = std::thread::spawn(move || {
///     pointer_escapes::register_thread();
///     let local = [0u8; 64];
///     tx.send(local.as_ptr() as usize).unwrap();
///     done_rx.recv().unwrap(); // keep the frame alive while it is asked about
/// });
/// let addr = rx.recv().unwrap();
/// assert!(matches!(memory_kind(addr as *const u8), MemoryKind::Stack { .. }));
/// done_tx.send(()).unwrap();
/// worker.join().unwrap();
/// ```
pub fn register_thread() {
    threads::ensure_registered();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "pthread_getattr_np and dl_iterate_phdr are FFI")]
    fn locals_are_this_threads_stack_and_boxes_are_other() {
        let local = 1u32;
        let here = ThreadNumber::current();
        assert_eq!(
            classify(&local as *const u32 as usize),
            MemoryKind::Stack { thread: here }
        );
        let boxed = Box::new(2u32);
        assert_eq!(classify(&*boxed as *const u32 as usize), MemoryKind::Other);
        assert_eq!(classify(0), MemoryKind::Other);
    }

    #[test]
    #[cfg(all(target_arch = "x86_64", target_env = "gnu"))]
    #[cfg_attr(miri, ignore = "pthread_getattr_np and dl_iterate_phdr are FFI")]
    fn thread_locals_are_thread_local_on_every_thread() {
        use std::cell::Cell;
        // Both kinds of storage std uses: a `const` one without a
        // destructor, and a lazily initialised one with a destructor.
        thread_local! {
            static PLAIN: Cell<u64> = const { Cell::new(0) };
        }
        #[allow(clippy::missing_const_for_thread_local)] // lazy on purpose
        mod lazy {
            thread_local! {
                pub(super) static WITH_DROP: Vec<u8> = Vec::new();
            }
        }
        use lazy::WITH_DROP;
        let check = || {
            let here = ThreadNumber::current();
            let plain = PLAIN.with(|c| c as *const Cell<u64> as usize);
            let with_drop = WITH_DROP.with(|v| v as *const Vec<u8> as usize);
            assert_eq!(classify(plain), MemoryKind::ThreadLocal { thread: here });
            assert_eq!(
                classify(with_drop),
                MemoryKind::ThreadLocal { thread: here }
            );
        };
        check();
        std::thread::spawn(check).join().unwrap();
    }

    #[test]
    #[cfg_attr(miri, ignore = "pthread_getattr_np and dl_iterate_phdr are FFI")]
    fn a_dead_threads_stack_is_forgotten() {
        let (addr, dead) = std::thread::spawn(|| {
            register_thread();
            let local = 0u8;
            let addr = &local as *const u8 as usize;
            let here = ThreadNumber::current();
            assert_eq!(classify(addr), MemoryKind::Stack { thread: here });
            (addr, here)
        })
        .join()
        .unwrap();
        // The thread has exited and unregistered: no check may blame a
        // thread that is gone (another test's new thread may reuse the
        // stack, which is then rightly that thread's).
        assert_ne!(classify(addr), MemoryKind::Stack { thread: dead });
    }
}
