//! The report: what is pinned right now, by whom, and what the allocator
//! caught. `snapshot()` for programs and tests, `POINTER_ESCAPES_REPORT=1` at exit,
//! `assert_no_pins()` for test suites.

use crate::check::{check_mode, CheckMode};
use crate::origin::{coarse_now_ms, PinKind, Site, ThreadNumber, UNDATED};
use crate::region::Region;
use crate::registry::{self, AllocEvent};
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use core::time::Duration;

/// One row of the report: a region pinned `count` times by one kind of pin,
/// from one call site, on one thread.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LivePin {
    /// The pinned memory.
    pub region: Region,
    /// How many pins of this region were made at this site and still live.
    pub count: u32,
    /// Call, Pinner or OwnedPin.
    pub kind: PinKind,
    /// Where the (first) pin was made.
    pub site: Site,
    /// The thread that made it.
    pub thread: ThreadNumber,
    /// How long ago it was made (coarse clock, a few ms resolution), or
    /// `None` when it was made while nobody could read ages: with the check
    /// mode `Off` (a release build's default) and no exit report
    /// (`POINTER_ESCAPES_REPORT`). A pin then skips the clock, which is a
    /// fifth of a release build's pin and unpin. Ages are recorded in debug
    /// builds, with `POINTER_ESCAPES_REPORT=1` or `POINTER_ESCAPES_CHECK=1`,
    /// and after [`set_check_mode`](crate::set_check_mode) turns checks on.
    pub age: Option<Duration>,
}

/// What is pinned now and what the pin-aware allocator has seen.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Snapshot {
    /// Every live pin entry: those with an age oldest first, then those
    /// without one (`LivePin::age`), each group by address.
    pub pins: Vec<LivePin>,
    /// The most recent freed-while-pinned and moved-while-pinned events.
    pub events: Vec<AllocEvent>,
    /// All blocks freed while pinned since the process started.
    pub freed_while_pinned: u64,
    /// All blocks moved while pinned since the process started.
    pub moved_while_pinned: u64,
    /// Blocks held in quarantine now.
    pub quarantined_blocks: usize,
    /// Bytes held in quarantine now.
    pub quarantined_bytes: usize,
    /// Whether `PinAwareAlloc` is the global allocator (frees are guarded).
    pub allocator_installed: bool,
    /// Bytes the registry's own tables occupy.
    pub registry_bytes: usize,
}

impl Snapshot {
    /// Total live pins (entries times their counts).
    pub fn pin_total(&self) -> usize {
        self.pins.iter().map(|p| p.count as usize).sum()
    }

    /// Whether any pin is live or any allocator event happened.
    pub fn is_noteworthy(&self) -> bool {
        !self.pins.is_empty() || self.freed_while_pinned > 0 || self.moved_while_pinned > 0
    }
}

/// Copies the registry's live pins and the allocator's events.
///
/// ```
/// use pointer_escapes::{snapshot, Pinner, PinKind};
///
/// let buf = [0u8; 64];
/// let mut pinner = Pinner::new();
/// pinner.pin(&buf);
/// let snap = snapshot();
/// let mine = snap.pins.iter().find(|p| p.region.addr() == buf.as_ptr() as usize).unwrap();
/// assert_eq!((mine.kind, mine.count, mine.region.len()), (PinKind::Pinner, 1, 64));
/// assert_eq!(mine.site.file(), file!());
/// println!("{snap}");
/// ```
pub fn snapshot() -> Snapshot {
    let now = coarse_now_ms();
    let mut pins: Vec<LivePin> = registry::live_pins()
        .into_iter()
        .map(|p| LivePin {
            region: p.region,
            count: p.count,
            kind: p.kind,
            site: p.site,
            thread: p.thread,
            age: (p.born_ms != UNDATED)
                .then(|| Duration::from_millis(now.wrapping_sub(p.born_ms) as u64)),
        })
        .collect();
    merge_identical(&mut pins);
    pins.sort_by(|a, b| {
        b.age
            .cmp(&a.age)
            .then(a.region.addr().cmp(&b.region.addr()))
    });
    let facts = registry::alloc_facts();
    Snapshot {
        pins,
        events: facts.recent,
        freed_while_pinned: facts.freed_while_pinned,
        moved_while_pinned: facts.moved_while_pinned,
        quarantined_blocks: facts.quarantined_blocks,
        quarantined_bytes: facts.quarantined_bytes,
        allocator_installed: crate::alloc::is_global(),
        registry_bytes: facts.registry_bytes,
    }
}

/// One row per region, kind, site and thread, with the pins counted (the
/// registry keeps identical pins as separate entries; a loop pinning one
/// object 100 times reads better as one row with count 100). The row keeps
/// the oldest pin's age, or none when any of its pins is undated.
fn merge_identical(pins: &mut Vec<LivePin>) {
    let key = |p: &LivePin| {
        (
            p.region.addr(),
            p.region.len(),
            p.kind as u8,
            p.site as *const _ as usize,
            p.thread,
        )
    };
    pins.sort_by_key(key);
    pins.dedup_by(|later, kept| {
        if key(later) != key(kept) {
            return false;
        }
        kept.count += later.count;
        // An undated pin may be the row's oldest: the row then has no age.
        kept.age = kept.age.zip(later.age).map(|(a, b)| a.max(b));
        true
    });
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "pointer-escapes report: {} live pin(s) in {} entr{}; frees {}",
            self.pin_total(),
            self.pins.len(),
            if self.pins.len() == 1 { "y" } else { "ies" },
            if self.allocator_installed {
                "guarded (PinAwareAlloc installed)"
            } else {
                "NOT guarded (PinAwareAlloc is not the global allocator)"
            }
        )?;
        if !self.pins.is_empty() {
            writeln!(
                f,
                "  {:<34} {:>10} {:>6}  {:<8} {:<28} {:>8}  site",
                "region", "bytes", "count", "kind", "thread", "age"
            )?;
            for p in &self.pins {
                writeln!(
                    f,
                    "  {:<34} {:>10} {:>6}  {:<8} {:<28} {:>8}  {}",
                    format!("{:#x}..{:#x}", p.region.addr(), p.region.end()),
                    p.region.len(),
                    p.count,
                    p.kind.to_string(),
                    p.thread.to_string(),
                    match p.age {
                        Some(age) => format!("{}ms", age.as_millis()),
                        None => "-".to_string(),
                    },
                    p.site
                )?;
            }
        }
        if self.freed_while_pinned + self.moved_while_pinned > 0 || self.quarantined_blocks > 0 {
            writeln!(
                f,
                "allocator: {} block(s) freed while pinned, {} moved while pinned; \
                 {} block(s), {} bytes in quarantine now",
                self.freed_while_pinned,
                self.moved_while_pinned,
                self.quarantined_blocks,
                self.quarantined_bytes
            )?;
            for ev in &self.events {
                writeln!(f, "  {ev}")?;
            }
        }
        Ok(())
    }
}

/// Panics, printing the report, if any pin is live. For the end of a test.
///
/// ```
/// pointer_escapes::assert_no_pins();
/// ```
#[track_caller]
pub fn assert_no_pins() {
    let snap = snapshot();
    if !snap.pins.is_empty() {
        panic!(
            "pointer-escapes: assert_no_pins at {}: pins are still live \
             (a Pinner or OwnedPin was leaked, or is still in scope):\n{snap}",
            core::panic::Location::caller()
        );
    }
}

/// Whether the exit report is on: not decided yet (no pin or allocator
/// event so far), off, or on (registered with `atexit`).
static EXIT_REPORT: AtomicU8 = AtomicU8::new(REPORT_UNDECIDED);
const REPORT_UNDECIDED: u8 = 0;
const REPORT_OFF: u8 = 1;
const REPORT_ON: u8 = 2;
/// Whether `print_at_exit` was registered (once, by the first thread that
/// decided the report is on).
static EXIT_REPORT_REGISTERED: AtomicBool = AtomicBool::new(false);

/// The birth stamp of a lasting pin or a call's pins made now (and, as
/// every pin does, the exit report armed): the coarse clock when the pin's
/// age can be read, else `UNDATED`.
///
/// Ages are read by the report (`snapshot`, the exit report), which is
/// for debug builds and CI: they are recorded while the check mode is not
/// `Off` (a debug build's default) or the exit report is on. A release
/// build with neither skips the clock, as its annotated calls skip the
/// pins nobody reads (`check::call_pins_wanted`); on this project's KVM guests
/// that clock read was 10 of a pin and unpin's 48 ns.
#[inline]
pub(crate) fn pin_birth() -> u32 {
    if arm_exit_report() || check_mode() != CheckMode::Off {
        coarse_now_ms()
    } else {
        UNDATED
    }
}

/// On the first pin or allocator event, registers the exit report if
/// `POINTER_ESCAPES_REPORT=1`; returns whether the report is on. One
/// relaxed load afterwards.
#[inline]
pub(crate) fn arm_exit_report() -> bool {
    match EXIT_REPORT.load(Ordering::Relaxed) {
        REPORT_UNDECIDED => arm_slow(),
        decided => decided == REPORT_ON,
    }
}

/// Decides whether the report is on, registering it once if so. Every
/// thread that finds it undecided reads the setting itself (a `getenv`,
/// no allocation), so none ever sees it decided before it is known to be
/// on: a pin made while another thread is registering the report is dated
/// too (`a_pin_racing_the_exit_reports_set_up_is_dated`).
#[cold]
fn arm_slow() -> bool {
    let on = !matches!(crate::settings::REPORT.value(), None | Some(b"0"));
    if on && !EXIT_REPORT_REGISTERED.swap(true, Ordering::Relaxed) {
        extern "C" fn print_at_exit() {
            let snap = snapshot();
            if snap.is_noteworthy() {
                // Not `eprintln!`: it panics on a closed stderr, and a panic
                // cannot leave this `extern "C" fn`.
                crate::diag::text(format_args!("{snap}\n"));
            }
        }
        // SAFETY: registering a plain `extern "C" fn()` that does not
        // unwind (`diag::text` ignores a failed write instead of panicking).
        unsafe { libc::atexit(print_at_exit) };
    }
    let decided = if on { REPORT_ON } else { REPORT_OFF };
    EXIT_REPORT.store(decided, Ordering::Relaxed);
    on
}
