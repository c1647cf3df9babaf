//! Where a pin came from: its kind, call site, thread and birth time.
//!
//! Everything here is cheap enough for the pin fast path and safe to use from
//! inside the global allocator: no allocation, no lazily initialised
//! thread-local with a destructor, no `std::thread::current()` (which
//! allocates and cannot run during thread-local destruction).

use core::cell::Cell;
use core::fmt;
use core::panic::Location;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// What made a pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PinKind {
    /// A `#[pointer_escapes]` call: lives for the duration of one call.
    Call = 0,
    /// A [`Pinner`](crate::Pinner) (including `scope` and `with_pinned`).
    Pinner = 1,
    /// An [`OwnedPin`](crate::OwnedPin), which may span a C operation.
    Owned = 2,
}

impl PinKind {
    pub(crate) fn from_u8(v: u8) -> PinKind {
        match v {
            0 => PinKind::Call,
            1 => PinKind::Pinner,
            _ => PinKind::Owned,
        }
    }
}

impl fmt::Display for PinKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PinKind::Call => "call",
            PinKind::Pinner => "Pinner",
            PinKind::Owned => "OwnedPin",
        })
    }
}

/// A small number naming a thread in reports (`std::thread::ThreadId` has no
/// stable integer form). Numbers start at 1 in the order threads first pin or
/// free; the process's main thread is marked as such. A pin records numbers
/// up to 16383 (its entry packs the number in 14 bits); pins made by later
/// threads are reported as thread #16383.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadNumber(pub(crate) u32);

static NEXT_THREAD: AtomicU32 = AtomicU32::new(1);
static MAIN_THREAD: AtomicU32 = AtomicU32::new(0);

thread_local! {
    // `const` initialiser and no destructor: usable in any TLS destructor.
    static THIS_THREAD: Cell<u32> = const { Cell::new(0) };
}

impl ThreadNumber {
    /// The calling thread's number.
    pub fn current() -> ThreadNumber {
        let n = THIS_THREAD.with(|c| {
            let n = c.get();
            if n != 0 {
                return n;
            }
            let n = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
            if is_main_thread() {
                MAIN_THREAD.store(n, Ordering::Relaxed);
            }
            c.set(n);
            n
        });
        ThreadNumber(n)
    }

    /// The number as an integer.
    pub fn get(self) -> u32 {
        self.0
    }

    /// Whether this is the process's main thread.
    pub fn is_main(self) -> bool {
        MAIN_THREAD.load(Ordering::Relaxed) == self.0
    }
}

fn is_main_thread() -> bool {
    // SAFETY: getpid and gettid take no arguments and cannot fail.
    unsafe { libc::getpid() == libc::gettid() }
}

impl fmt::Display for ThreadNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_main() {
            write!(f, "#{} (main)", self.0)
        } else {
            write!(f, "#{}", self.0)
        }
    }
}

/// A call site recorded by `#[track_caller]`.
pub type Site = &'static Location<'static>;

static CLOCK_BASE_MS: AtomicU64 = AtomicU64::new(0);

/// Milliseconds on a coarse monotonic clock since the first call in this
/// process. The coarse clock is read from the vDSO without a syscall (a few
/// ns); pins record it so reports can show their age.
pub(crate) fn coarse_now_ms() -> u32 {
    let now = raw_coarse_ms();
    let mut base = CLOCK_BASE_MS.load(Ordering::Relaxed);
    if base == 0 {
        base = match CLOCK_BASE_MS.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => now,
            Err(existing) => existing,
        };
    }
    now.saturating_sub(base) as u32
}

fn raw_coarse_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC_COARSE is
    // supported on every Linux since 2.6.32.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    if rc != 0 {
        return 1;
    }
    // Never 0, so that 0 can mean "not yet set" in CLOCK_BASE_MS.
    (ts.tv_sec as u64) * 1000 + (ts.tv_nsec as u64) / 1_000_000 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_numbers_are_stable_per_thread_and_distinct() {
        let here = ThreadNumber::current();
        assert_eq!(here, ThreadNumber::current());
        let there = std::thread::spawn(ThreadNumber::current).join().unwrap();
        assert_ne!(here, there);
        assert!(!there.is_main());
    }

    #[test]
    fn coarse_clock_is_monotonic() {
        let a = coarse_now_ms();
        let b = coarse_now_ms();
        assert!(b >= a);
    }
}
