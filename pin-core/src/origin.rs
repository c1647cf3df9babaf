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
#[non_exhaustive]
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
/// stable integer form). Numbers start at 1 in the order threads first use
/// the library. A pin records numbers up to 16383 (its entry packs the
/// number in 14 bits); pins made by later threads are reported as thread
/// #16383.
///
/// It displays as the thread's name and OS thread id, as `ps -L`, `top -H`
/// and server logs show them: `"worker-3" (tid 41235)`, `<unnamed> (tid
/// 41236)` for a thread without a name. The name is the one
/// `std::thread::current().name()` gives (the main thread is `"main"`),
/// recorded when the thread registers with the library (its first pin or
/// check, see [`register_thread`](crate::register_thread)), cut to 64
/// bytes (then shown ending in `..`). A thread that only ever freed memory through the pin-aware
/// allocator has its tid but no name: `#7 (tid 41237)`. The last
/// `NAME_SLOTS` (4096) threads are remembered; an older number shows as
/// `#7`.
///
/// ```
/// use pointer_escapes::ThreadNumber;
///
/// pointer_escapes::register_thread();
/// let here = ThreadNumber::current();
/// let shown = here.to_string();
/// assert!(shown.contains(&format!("(tid {})", here.os_tid().unwrap())));
/// let there = std::thread::Builder::new()
///     .name("worker-3".into())
///     .spawn(|| {
///         pointer_escapes::register_thread();
///         ThreadNumber::current().to_string()
///     })
///     .unwrap()
///     .join()
///     .unwrap();
/// assert!(there.starts_with("\"worker-3\" (tid "));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadNumber(pub(crate) u32);

static NEXT_THREAD: AtomicU32 = AtomicU32::new(1);
static MAIN_THREAD: AtomicU32 = AtomicU32::new(0);

thread_local! {
    // `const` initialiser and no destructor: usable in any TLS destructor.
    static THIS_THREAD: Cell<u32> = const { Cell::new(0) };
}

impl ThreadNumber {
    /// The calling thread's number. The first call on a thread also records
    /// its OS thread id (no allocation: this runs inside the allocator too).
    #[inline]
    pub fn current() -> ThreadNumber {
        // Every pin asks: one thread-local load once numbered.
        match THIS_THREAD.with(Cell::get) {
            0 => ThreadNumber(Self::number_this_thread()),
            n => ThreadNumber(n),
        }
    }

    #[cold]
    fn number_this_thread() -> u32 {
        let n = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
        if is_main_thread() {
            MAIN_THREAD.store(n, Ordering::Relaxed);
        }
        THIS_THREAD.with(|c| c.set(n));
        names::record_tid(n, os_tid());
        n
    }

    /// The number as an integer.
    pub fn get(self) -> u32 {
        self.0
    }

    /// Whether this is the process's main thread.
    pub fn is_main(self) -> bool {
        MAIN_THREAD.load(Ordering::Relaxed) == self.0
    }

    /// The thread's OS thread id (Linux `gettid`), if it is still
    /// remembered (see the type's documentation).
    pub fn os_tid(self) -> Option<u32> {
        names::read(self.0).map(|n| n.tid)
    }

    /// The thread's name, if it registered with the library and has one
    /// (see the type's documentation). Allocates the returned `String`.
    pub fn name(self) -> Option<String> {
        let n = names::read(self.0)?;
        let bytes = n.name()?;
        Some(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// Records the calling thread's name (`None`: it has none), for
/// `ThreadNumber`'s display. Called once per thread, when it registers.
pub(crate) fn record_current_name(name: Option<&str>) {
    names::record_name(ThreadNumber::current().0, name);
}

fn is_main_thread() -> bool {
    // SAFETY: getpid and gettid take no arguments and cannot fail.
    unsafe { libc::getpid() == libc::gettid() }
}

fn os_tid() -> u32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::gettid() as u32 }
}

impl fmt::Display for ThreadNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(known) = names::read(self.0) else {
            return write!(f, "#{}", self.0);
        };
        match (known.name_known, known.name()) {
            (true, Some(name)) => {
                f.write_str("\"")?;
                for chunk in name.utf8_chunks() {
                    f.write_str(chunk.valid())?;
                    if !chunk.invalid().is_empty() {
                        f.write_str("\u{fffd}")?;
                    }
                }
                if known.name_cut() {
                    f.write_str("..")?;
                }
                f.write_str("\"")?;
            }
            (true, None) => f.write_str("<unnamed>")?,
            (false, _) => write!(f, "#{}", self.0)?,
        }
        write!(f, " (tid {})", known.tid)
    }
}

/// Thread numbers to OS thread ids and names, in a fixed table indexed by
/// number modulo `NAME_SLOTS`: written without allocating (the tid from
/// inside the allocator, the name at registration), read lock-free by
/// `Display` under a per-slot sequence count, kept after the thread exits
/// so that reports can still name it.
mod names {
    use core::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};

    /// How many threads' names are remembered (the most recent ones).
    pub(super) const NAME_SLOTS: usize = 4096;
    /// Longest name kept, in bytes (longer names are cut at a char
    /// boundary and shown with a trailing `..`).
    pub(super) const NAME_BYTES: usize = 64;
    /// Set in `len` when the name was cut.
    const CUT: u8 = 0x80;
    /// `len` value: the thread has not registered, its name is unknown.
    const NAME_UNKNOWN: u8 = u8::MAX;
    /// `len` value: the thread registered and has no name.
    const NAME_NONE: u8 = u8::MAX - 1;

    struct Slot {
        /// Odd while a writer is changing the slot.
        seq: AtomicU32,
        /// The thread number the slot holds (0: none).
        number: AtomicU32,
        tid: AtomicU32,
        len: AtomicU8,
        name: [AtomicU64; NAME_BYTES / 8],
    }

    impl Slot {
        const fn new() -> Slot {
            Slot {
                seq: AtomicU32::new(0),
                number: AtomicU32::new(0),
                tid: AtomicU32::new(0),
                len: AtomicU8::new(NAME_UNKNOWN),
                name: [const { AtomicU64::new(0) }; NAME_BYTES / 8],
            }
        }
    }

    static SLOTS: [Slot; NAME_SLOTS] = [const { Slot::new() }; NAME_SLOTS];
    /// Serialises writers (threads whose numbers share a slot); never held
    /// across anything but a few stores, and never allocates.
    static WRITING: AtomicBool = AtomicBool::new(false);

    fn slot(number: u32) -> &'static Slot {
        &SLOTS[number as usize % NAME_SLOTS]
    }

    fn write(number: u32, f: impl FnOnce(&Slot)) {
        while WRITING
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::thread::yield_now();
        }
        let s = slot(number);
        let seq = s.seq.load(Ordering::Relaxed);
        s.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        f(s);
        s.seq.store(seq.wrapping_add(2), Ordering::Release);
        WRITING.store(false, Ordering::Release);
    }

    pub(super) fn record_tid(number: u32, tid: u32) {
        write(number, |s| {
            s.number.store(number, Ordering::Relaxed);
            s.tid.store(tid, Ordering::Relaxed);
            s.len.store(NAME_UNKNOWN, Ordering::Relaxed);
        });
    }

    pub(super) fn record_name(number: u32, name: Option<&str>) {
        let mut bytes = [0u8; NAME_BYTES];
        let len = match name {
            Some(name) => {
                let mut len = name.len().min(NAME_BYTES);
                while !name.is_char_boundary(len) {
                    len -= 1;
                }
                bytes[..len].copy_from_slice(&name.as_bytes()[..len]);
                len as u8 | if len < name.len() { CUT } else { 0 }
            }
            None => NAME_NONE,
        };
        write(number, |s| {
            if s.number.load(Ordering::Relaxed) != number {
                return;
            }
            for (word, chunk) in s.name.iter().zip(bytes.chunks_exact(8)) {
                let mut w = [0u8; 8];
                w.copy_from_slice(chunk);
                word.store(u64::from_ne_bytes(w), Ordering::Relaxed);
            }
            s.len.store(len, Ordering::Relaxed);
        });
    }

    /// What the table knows about one thread.
    pub(super) struct Known {
        pub(super) tid: u32,
        pub(super) name_known: bool,
        len: u8,
        bytes: [u8; NAME_BYTES],
    }

    impl Known {
        pub(super) fn name(&self) -> Option<&[u8]> {
            let len = (self.len & !CUT) as usize;
            (self.name_known && self.len != NAME_NONE).then(|| &self.bytes[..len.min(NAME_BYTES)])
        }

        /// Whether the name was cut to `NAME_BYTES`.
        pub(super) fn name_cut(&self) -> bool {
            self.name_known && self.len != NAME_NONE && self.len & CUT != 0
        }
    }

    pub(super) fn read(number: u32) -> Option<Known> {
        let s = slot(number);
        loop {
            let seq = s.seq.load(Ordering::Acquire);
            if seq & 1 == 1 {
                core::hint::spin_loop();
                continue;
            }
            let held = s.number.load(Ordering::Relaxed);
            let tid = s.tid.load(Ordering::Relaxed);
            let len = s.len.load(Ordering::Relaxed);
            let mut bytes = [0u8; NAME_BYTES];
            for (chunk, word) in bytes.chunks_exact_mut(8).zip(&s.name) {
                chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_ne_bytes());
            }
            fence(Ordering::Acquire);
            if s.seq.load(Ordering::Relaxed) != seq {
                continue;
            }
            if held != number || number == 0 {
                return None;
            }
            let name_known = len != NAME_UNKNOWN;
            return Some(Known {
                tid,
                name_known,
                len,
                bytes,
            });
        }
    }
}

/// A call site recorded by `#[track_caller]`.
pub type Site = &'static Location<'static>;

static CLOCK_BASE_MS: AtomicU64 = AtomicU64::new(0);

/// The birth stamp of a pin made while nobody could read its age (see
/// `report::pin_birth`): never a value `coarse_now_ms` returns.
pub(crate) const UNDATED: u32 = u32::MAX;

/// Milliseconds on a coarse monotonic clock since the first call in this
/// process, never [`UNDATED`] (it wraps after 49 days, as ages are
/// computed with wrapping arithmetic). The coarse clock is read from the
/// vDSO without a syscall, yet costs about 10 ns on the KVM guests this
/// project is measured on (`BENCHMARKS.md`, "Issue 15: seventh session"):
/// a fifth of a pin and unpin, which is why pins read it only when their
/// age can be read.
pub(crate) fn coarse_now_ms() -> u32 {
    let now = raw_coarse_ms();
    let mut base = CLOCK_BASE_MS.load(Ordering::Relaxed);
    if base == 0 {
        base = match CLOCK_BASE_MS.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => now,
            Err(existing) => existing,
        };
    }
    (now.saturating_sub(base) as u32).min(UNDATED - 1)
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
    fn threads_show_their_name_and_os_tid() {
        let long = "a-rather-long-thread-name-of-70-bytes-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
        let shown = std::thread::Builder::new()
            .name(long.into())
            .spawn(|| {
                record_current_name(std::thread::current().name());
                (ThreadNumber::current(), os_tid())
            })
            .unwrap()
            .join()
            .unwrap();
        let (number, tid) = shown;
        assert_eq!(
            number.to_string(),
            format!("\"{}..\" (tid {tid})", &long[..64])
        );
        assert_eq!(number.os_tid(), Some(tid));
        let unnamed = std::thread::spawn(|| {
            record_current_name(None);
            ThreadNumber::current()
        })
        .join()
        .unwrap();
        assert!(unnamed.to_string().starts_with("<unnamed> (tid "));
        let unregistered = std::thread::spawn(ThreadNumber::current).join().unwrap();
        assert!(unregistered
            .to_string()
            .starts_with(&format!("#{} (tid ", unregistered.get())));
    }

    #[test]
    fn coarse_clock_is_monotonic() {
        let a = coarse_now_ms();
        let b = coarse_now_ms();
        assert!(b >= a);
    }
}
