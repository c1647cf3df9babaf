//! The live threads' stack and static-TLS ranges, for `classify`.
//!
//! A fixed table of `MAX_LIVE_THREADS` slots in static memory: nothing here
//! allocates, except registration itself (`std::thread::current()` and the
//! destructor registration of `EXIT_GUARD`), which runs on a thread's first
//! use of the library and never from the allocator.
//!
//! Writers (a thread registering or exiting) take `WRITING`, a spin lock
//! held for a few stores. Readers take no lock: each slot has a sequence
//! count that is odd while it changes, and a reader retries a slot whose
//! count moved under it (a seqlock), so a check on one thread never waits
//! for another thread's check.

use crate::origin::{record_current_name, ThreadNumber};
use crate::region::Region;
use crate::MemoryKind;
use core::cell::Cell;
use core::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicUsize, Ordering};

/// How many live threads the table knows at once; later threads are
/// unknown (their stacks count as "other") until a slot frees up.
const MAX_LIVE_THREADS: usize = 1024;

struct Slot {
    /// Odd while a writer is changing the slot.
    seq: AtomicU32,
    /// The thread number of the slot's thread (0: free).
    number: AtomicU32,
    stack_lo: AtomicUsize,
    stack_hi: AtomicUsize,
    tls_lo: AtomicUsize,
    tls_hi: AtomicUsize,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            seq: AtomicU32::new(0),
            number: AtomicU32::new(0),
            stack_lo: AtomicUsize::new(0),
            stack_hi: AtomicUsize::new(0),
            tls_lo: AtomicUsize::new(0),
            tls_hi: AtomicUsize::new(0),
        }
    }
}

/// One consistent read of a slot.
#[derive(Clone, Copy)]
struct Ranges {
    number: u32,
    stack: (usize, usize),
    tls: (usize, usize),
}

impl Ranges {
    /// Thread-local storage first: for threads other than the main one,
    /// glibc puts the static TLS at the top of the stack mapping, inside
    /// what `pthread_getattr_np` reports as the stack.
    fn overlapping(&self, region: Region) -> Option<MemoryKind> {
        let thread = ThreadNumber(self.number);
        let hits = |(lo, hi): (usize, usize)| lo < hi && region.addr() < hi && lo < region.end();
        if hits(self.tls) {
            Some(MemoryKind::ThreadLocal { thread })
        } else if hits(self.stack) {
            Some(MemoryKind::Stack { thread })
        } else {
            None
        }
    }
}

static SLOTS: [Slot; MAX_LIVE_THREADS] = [const { Slot::new() }; MAX_LIVE_THREADS];
/// Slots at or past this index have never been used: readers stop here.
static USED: AtomicUsize = AtomicUsize::new(0);
/// Serialises writers.
static WRITING: AtomicBool = AtomicBool::new(false);

/// `MY_SLOT` values besides `slot index + 1`.
const UNREGISTERED: u32 = 0;
/// Registration was tried and the thread is not in the table (table full,
/// thread exiting, or Miri).
const NOT_IN_TABLE: u32 = u32::MAX;

thread_local! {
    // `const` initialiser and no destructor: readable in any TLS destructor.
    static MY_SLOT: Cell<u32> = const { Cell::new(UNREGISTERED) };
    // Its destructor unregisters the thread when it exits.
    static EXIT_GUARD: ExitGuard = const { ExitGuard };
}

struct ExitGuard;

impl Drop for ExitGuard {
    fn drop(&mut self) {
        let mine = MY_SLOT.with(|s| s.replace(NOT_IN_TABLE));
        if mine != UNREGISTERED && mine != NOT_IN_TABLE {
            write_slot(&SLOTS[(mine - 1) as usize], 0, (0, 0), (0, 0));
        }
    }
}

/// Registers the calling thread if it has not tried yet: one thread-local
/// load afterwards.
#[inline]
pub(super) fn ensure_registered() {
    if MY_SLOT.with(Cell::get) == UNREGISTERED {
        register();
    }
}

#[cold]
fn register() {
    // Marked first: whatever happens below, a thread tries once.
    MY_SLOT.with(|s| s.set(NOT_IN_TABLE));
    // A thread whose thread-locals are being destroyed cannot register a
    // destructor; it is exiting, so leave it unknown.
    if EXIT_GUARD.try_with(|_| ()).is_err() {
        return;
    }
    record_current_name(std::thread::current().name());
    #[cfg(not(miri))]
    {
        let number = ThreadNumber::current().0;
        let stack = own_stack();
        let tls = own_static_tls();
        if let Some(index) = claim_slot(number, stack, tls) {
            MY_SLOT.with(|s| s.set(index as u32 + 1));
        }
    }
}

/// Takes a free slot for `number` and fills it; clears any slot whose stack
/// overlaps this one (a thread that died without running its destructors
/// left it, and its stack is ours now).
#[cfg(not(miri))]
fn claim_slot(number: u32, stack: (usize, usize), tls: (usize, usize)) -> Option<usize> {
    lock();
    let used = USED.load(Ordering::Relaxed);
    let mut free = None;
    for (i, slot) in SLOTS[..used].iter().enumerate() {
        // Writers hold the lock, so plain loads see a consistent slot.
        if slot.number.load(Ordering::Relaxed) == 0 {
            free = free.or(Some(i));
            continue;
        }
        let (lo, hi) = (
            slot.stack_lo.load(Ordering::Relaxed),
            slot.stack_hi.load(Ordering::Relaxed),
        );
        if stack.0 < stack.1 && lo < stack.1 && stack.0 < hi {
            write_locked(slot, 0, (0, 0), (0, 0));
            free = free.or(Some(i));
        }
    }
    let index = match free {
        Some(i) => Some(i),
        None if used < MAX_LIVE_THREADS => {
            USED.store(used + 1, Ordering::Release);
            Some(used)
        }
        None => None,
    };
    if let Some(i) = index {
        write_locked(&SLOTS[i], number, stack, tls);
    }
    unlock();
    index
}

/// Takes the table's writer lock for `fork()` (see `registry::fork`): the
/// child must never inherit it held, nor a slot half written. (Unused
/// under Miri, which runs no fork: the handlers are not installed there.)
#[cfg_attr(miri, allow(dead_code))]
pub(super) fn hold_for_fork() {
    lock();
}

/// Releases what [`hold_for_fork`] took, in the parent and in the child.
///
/// # Safety
/// Only after [`hold_for_fork`], once, in each process.
#[cfg_attr(miri, allow(dead_code))]
pub(super) unsafe fn release_after_fork() {
    unlock();
}

fn lock() {
    while WRITING
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::thread::yield_now();
    }
}

fn unlock() {
    WRITING.store(false, Ordering::Release);
}

fn write_slot(slot: &Slot, number: u32, stack: (usize, usize), tls: (usize, usize)) {
    lock();
    write_locked(slot, number, stack, tls);
    unlock();
}

/// Seqlock write; the caller holds `WRITING`.
fn write_locked(slot: &Slot, number: u32, stack: (usize, usize), tls: (usize, usize)) {
    let seq = slot.seq.load(Ordering::Relaxed);
    slot.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
    fence(Ordering::Release);
    slot.number.store(number, Ordering::Relaxed);
    slot.stack_lo.store(stack.0, Ordering::Relaxed);
    slot.stack_hi.store(stack.1, Ordering::Relaxed);
    slot.tls_lo.store(tls.0, Ordering::Relaxed);
    slot.tls_hi.store(tls.1, Ordering::Relaxed);
    slot.seq.store(seq.wrapping_add(2), Ordering::Release);
}

/// Seqlock read: a consistent copy, or `None` for a free slot.
#[inline]
fn read(slot: &Slot) -> Option<Ranges> {
    loop {
        let seq = slot.seq.load(Ordering::Acquire);
        if seq & 1 == 1 {
            core::hint::spin_loop();
            continue;
        }
        let ranges = Ranges {
            number: slot.number.load(Ordering::Relaxed),
            stack: (
                slot.stack_lo.load(Ordering::Relaxed),
                slot.stack_hi.load(Ordering::Relaxed),
            ),
            tls: (
                slot.tls_lo.load(Ordering::Relaxed),
                slot.tls_hi.load(Ordering::Relaxed),
            ),
        };
        fence(Ordering::Acquire);
        if slot.seq.load(Ordering::Relaxed) == seq {
            return (ranges.number != 0).then_some(ranges);
        }
    }
}

/// The stack or thread-local storage of a live registered thread that
/// shares a byte with `region`: the calling thread's first (the usual
/// case), then every other's.
pub(super) fn overlapping(region: Region) -> Option<MemoryKind> {
    let mine = MY_SLOT.with(Cell::get);
    let mine = (mine != UNREGISTERED && mine != NOT_IN_TABLE).then(|| (mine - 1) as usize);
    if let Some(i) = mine {
        if let Some(kind) = read(&SLOTS[i]).and_then(|r| r.overlapping(region)) {
            return Some(kind);
        }
    }
    let used = USED.load(Ordering::Acquire);
    SLOTS[..used]
        .iter()
        .enumerate()
        .filter(|&(i, _)| Some(i) != mine)
        .find_map(|(_, slot)| read(slot).and_then(|r| r.overlapping(region)))
}

/// The stack or thread-local storage of a live registered thread that
/// holds `addr`, with that range, `(kind, lowest, end)`: the calling
/// thread's first, then every other's (as [`overlapping`]).
pub(super) fn range_containing(addr: usize) -> Option<(MemoryKind, usize, usize)> {
    let holds = |r: Ranges| {
        let thread = ThreadNumber(r.number);
        let within = |(lo, hi): (usize, usize)| lo < hi && lo <= addr && addr < hi;
        // Thread-local storage first: it lies inside the stack mapping of
        // threads other than the main one (see `Ranges::overlapping`).
        if within(r.tls) {
            Some((MemoryKind::ThreadLocal { thread }, r.tls.0, r.tls.1))
        } else if within(r.stack) {
            Some((MemoryKind::Stack { thread }, r.stack.0, r.stack.1))
        } else {
            None
        }
    };
    let mine = MY_SLOT.with(Cell::get);
    let mine = (mine != UNREGISTERED && mine != NOT_IN_TABLE).then(|| (mine - 1) as usize);
    if let Some(found) = mine.and_then(|i| read(&SLOTS[i])).and_then(holds) {
        return Some(found);
    }
    let used = USED.load(Ordering::Acquire);
    SLOTS[..used]
        .iter()
        .enumerate()
        .filter(|&(i, _)| Some(i) != mine)
        .find_map(|(_, slot)| read(slot).and_then(holds))
}

/// The calling thread's stack, `[lowest, highest)`, as
/// `pthread_getattr_np` reports it (without the guard page; for the main
/// thread, up to the stack rlimit below the top of `[stack]`). `(0, 0)` if
/// it fails.
#[cfg(not(miri))]
fn own_stack() -> (usize, usize) {
    // SAFETY: `attr` is initialised by pthread_getattr_np before it is
    // read, and destroyed once; pthread_attr_getstack writes two plain
    // values.
    unsafe {
        let mut attr = core::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
        if libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) != 0 {
            return (0, 0);
        }
        let mut addr: *mut libc::c_void = core::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let rc = libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size);
        libc::pthread_attr_destroy(attr.as_mut_ptr());
        if rc != 0 {
            return (0, 0);
        }
        let lo = addr as usize;
        (lo, lo.saturating_add(size))
    }
}

/// The calling thread's static TLS, `[lowest block start, thread
/// pointer)`: x86_64 glibc uses TLS variant II, where every static block
/// lies just below the thread pointer (which `pthread_self()` returns).
/// Blocks are taken from the thread pointer down while the gap to the next
/// one is at most `MAX_TLS_GAP` (alignment padding and the static TLS
/// surplus), so a dynamic block that glibc `malloc`ed elsewhere is never
/// merged in with the heap between. `(0, 0)` on other targets.
#[cfg(all(not(miri), target_arch = "x86_64", target_env = "gnu"))]
fn own_static_tls() -> (usize, usize) {
    const MAX_BLOCKS: usize = 64;
    const MAX_TLS_GAP: usize = 4096;
    struct Blocks {
        ranges: [(usize, usize); MAX_BLOCKS],
        len: usize,
        tp: usize,
    }
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: `data` is the `&mut Blocks` passed below, alive for the
        // whole dl_iterate_phdr call; `info` is valid for this callback.
        let (blocks, info) = unsafe { (&mut *(data as *mut Blocks), &*info) };
        let start = info.dlpi_tls_data as usize;
        if start == 0 {
            // No TLS, or a dynamic block not allocated for this thread yet.
            return 0;
        }
        for i in 0..info.dlpi_phnum as usize {
            // SAFETY: dlpi_phdr points at dlpi_phnum program headers.
            let ph = unsafe { &*info.dlpi_phdr.add(i) };
            if ph.p_type != libc::PT_TLS {
                continue;
            }
            let end = start.saturating_add(ph.p_memsz as usize);
            if end <= blocks.tp && blocks.len < MAX_BLOCKS {
                blocks.ranges[blocks.len] = (start, end);
                blocks.len += 1;
            }
        }
        0
    }
    let mut blocks = Blocks {
        ranges: [(0, 0); MAX_BLOCKS],
        len: 0,
        // SAFETY: pthread_self takes no arguments and cannot fail; on
        // x86_64 glibc it is the thread pointer (`%fs:0`).
        tp: unsafe { libc::pthread_self() } as usize,
    };
    // SAFETY: the callback only reads the headers it is given and writes to
    // `blocks`, which outlives the call.
    unsafe {
        libc::dl_iterate_phdr(Some(each), &mut blocks as *mut Blocks as *mut libc::c_void);
    }
    let tp = blocks.tp;
    let ranges = &mut blocks.ranges[..blocks.len];
    // Nearest the thread pointer first.
    ranges.sort_unstable_by_key(|&(_, end)| core::cmp::Reverse(end));
    let mut lo = tp;
    for &(start, end) in ranges.iter() {
        if lo.saturating_sub(end) > MAX_TLS_GAP {
            break;
        }
        lo = lo.min(start);
    }
    if lo == tp {
        (0, 0)
    } else {
        (lo, tp)
    }
}

#[cfg(all(not(miri), not(all(target_arch = "x86_64", target_env = "gnu"))))]
fn own_static_tls() -> (usize, usize) {
    (0, 0)
}
