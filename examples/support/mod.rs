//! Helpers shared by the examples, included by each with
//! `#[path = "support/mod.rs"] mod support;`: command-line options, a
//! scratch directory that cleans up after itself, deterministic data and the
//! build profile. Nothing here touches pins; the examples show that part.

// Each example uses a different subset of these helpers.
#![allow(dead_code)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// What went wrong in an example: a bad command line (exit status 2) or a
/// failed run or verification (exit status 1).
#[derive(Debug)]
pub enum Failure {
    /// The command line could not be understood; the message says why.
    Usage(String),
    /// The run or its verification failed.
    Run(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m) => write!(f, "{m} (try --help)"),
            Failure::Run(m) => f.write_str(m),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::Run(format!("I/O error: {e}"))
    }
}

mod data;
// Each program that includes this module uses some of it.
#[allow(unused_imports)]
pub use data::{pattern, text_like};

/// A failed run or verification, with a message.
pub fn fail(message: impl Into<String>) -> Failure {
    Failure::Run(message.into())
}

/// Turns an example's result into its exit status, printing the failure.
pub fn exit_status(example: &str, result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ Failure::Usage(_)) => {
            eprintln!("{example}: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("{example}: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The command line, read flag by flag (`--name value` or `--name=value`).
pub struct Args {
    rest: std::vec::IntoIter<String>,
    pending: Option<String>,
}

impl Args {
    /// The process's arguments after the program name.
    pub fn from_env() -> Args {
        Args {
            rest: std::env::args().skip(1).collect::<Vec<_>>().into_iter(),
            pending: None,
        }
    }

    /// The next flag, or `None` at the end. A bare word is an error.
    pub fn next_flag(&mut self) -> Result<Option<String>, Failure> {
        if let Some(value) = self.pending.take() {
            return Err(Failure::Usage(format!("unexpected value `{value}`")));
        }
        let Some(arg) = self.rest.next() else {
            return Ok(None);
        };
        if !arg.starts_with("--") {
            return Err(Failure::Usage(format!("unexpected argument `{arg}`")));
        }
        match arg.split_once('=') {
            Some((flag, value)) => {
                self.pending = Some(value.to_string());
                Ok(Some(flag.to_string()))
            }
            None => Ok(Some(arg)),
        }
    }

    /// The value of `flag`.
    pub fn value(&mut self, flag: &str) -> Result<String, Failure> {
        self.pending
            .take()
            .or_else(|| self.rest.next())
            .ok_or_else(|| Failure::Usage(format!("{flag} needs a value")))
    }

    /// A byte count for `flag`: `4096`, `64K`, `4KiB`, `2M`, `1MiB`, `1G`.
    pub fn size(&mut self, flag: &str) -> Result<usize, Failure> {
        let text = self.value(flag)?;
        parse_size(&text).ok_or_else(|| {
            Failure::Usage(format!(
                "{flag}: `{text}` is not a size like 4096, 64K or 2MiB"
            ))
        })
    }

    /// A positive count for `flag`.
    pub fn count(&mut self, flag: &str) -> Result<usize, Failure> {
        let text = self.value(flag)?;
        match text.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(Failure::Usage(format!(
                "{flag}: `{text}` is not a positive integer"
            ))),
        }
    }

    /// Rejects a value given to a flag that takes none (`--bug=1`).
    pub fn no_value(&mut self, flag: &str) -> Result<(), Failure> {
        match self.pending.take() {
            Some(v) => Err(Failure::Usage(format!("{flag} takes no value (got `{v}`)"))),
            None => Ok(()),
        }
    }
}

/// Parses `4096`, `64K`, `64KiB`, `2M`, `2MiB`, `1G` (binary multiples).
pub fn parse_size(text: &str) -> Option<usize> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: usize = number.parse().ok()?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" | "kb" => 10,
        "m" | "mib" | "mb" => 20,
        "g" | "gib" | "gb" => 30,
        _ => return None,
    };
    number.checked_mul(1usize << shift)
}

/// `64 B`, `4 KiB`, `1.5 MiB`.
pub fn human_bytes(n: usize) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// "debug" or "release": figures from a debug build say little about speed.
pub fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// A directory under the system temp dir with a name no other run uses,
/// removed with its contents when dropped.
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `<tmp>/pointer-escapes-<example>-<pid>-<nanos>-<n>`.
    pub fn new(example: &str) -> std::io::Result<ScratchDir> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "pointer-escapes-{example}-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&path)?;
        Ok(ScratchDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path for `name` inside the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Best effort: a leftover temp dir is not worth failing the run for.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Index of the first byte where `a` and `b` differ (or where one ends).
pub fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or_else(|| (a.len() != b.len()).then(|| a.len().min(b.len())))
}

/// One timed run of an I/O loop.
pub struct Measurement {
    /// Bytes per buffer.
    pub buf_size: usize,
    /// What was timed ("zero-copy", "copying").
    pub method: &'static str,
    /// Calls made.
    pub calls: u64,
    /// Bytes moved.
    pub bytes: u64,
    /// Wall time.
    pub elapsed: std::time::Duration,
}

impl Measurement {
    /// Throughput in GiB/s.
    pub fn gib_per_s(&self) -> f64 {
        self.bytes as f64 / self.elapsed.as_secs_f64().max(1e-9) / (1u64 << 30) as f64
    }

    /// Nanoseconds per call.
    pub fn ns_per_call(&self) -> f64 {
        self.elapsed.as_nanos() as f64 / self.calls.max(1) as f64
    }
}

/// Prints measurements as a table, then one line per buffer size saying
/// how the first method measured compares with the second.
pub fn print_measurements(rows: &[Measurement]) {
    println!(
        "{:>9}  {:<10} {:>8} {:>10}",
        "buffer", "method", "GiB/s", "ns/call"
    );
    for row in rows {
        println!(
            "{:>9}  {:<10} {:>8.2} {:>10.0}",
            human_bytes(row.buf_size),
            row.method,
            row.gib_per_s(),
            row.ns_per_call()
        );
    }
    let mut seen = Vec::new();
    for row in rows {
        if seen.contains(&row.buf_size) {
            continue;
        }
        seen.push(row.buf_size);
        let mut same = rows.iter().filter(|r| r.buf_size == row.buf_size);
        if let (Some(a), Some(b)) = (same.next(), same.next()) {
            let (fast, slow) = (a.ns_per_call(), b.ns_per_call());
            let verdict = if fast < slow {
                format!("{:.2}x faster", slow / fast.max(1e-9))
            } else {
                format!("{:.2}x SLOWER", fast / slow.max(1e-9))
            };
            println!(
                "{}: {} is {verdict} than {}",
                human_bytes(row.buf_size),
                a.method,
                b.method
            );
        }
    }
}

/// Heap buffers from `libc::calloc`: C memory, which needs no pins. The
/// copying baselines do their I/O here and copy to or from Rust buffers.
pub struct MallocBufs {
    ptrs: Vec<*mut u8>,
    len: usize,
}

impl MallocBufs {
    /// `count` buffers of `len` bytes each.
    pub fn new(count: usize, len: usize) -> std::io::Result<MallocBufs> {
        let mut bufs = MallocBufs {
            ptrs: Vec::with_capacity(count),
            len,
        };
        for _ in 0..count {
            // calloc, so the bytes are initialised before anything reads them.
            // SAFETY: calloc may be called with any size; null is checked.
            let p = unsafe { libc::calloc(1, len.max(1)) }.cast::<u8>();
            if p.is_null() {
                return Err(std::io::Error::from(std::io::ErrorKind::OutOfMemory));
            }
            bufs.ptrs.push(p);
        }
        Ok(bufs)
    }

    /// `iovec`s covering every buffer.
    pub fn iovecs(&self) -> Vec<libc::iovec> {
        self.ptrs
            .iter()
            .map(|&p| libc::iovec {
                iov_base: p.cast(),
                iov_len: self.len,
            })
            .collect()
    }

    /// Buffer `i`'s bytes.
    pub fn get(&self, i: usize) -> &[u8] {
        // SAFETY: each pointer is a live, zero-initialised calloc'd block of
        // `len` bytes.
        unsafe { std::slice::from_raw_parts(self.ptrs[i], self.len) }
    }

    /// Buffer `i`'s bytes, for writing.
    pub fn get_mut(&mut self, i: usize) -> &mut [u8] {
        // SAFETY: as for `get`; `&mut self` makes the slice unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptrs[i], self.len) }
    }
}

impl Drop for MallocBufs {
    fn drop(&mut self) {
        for &p in &self.ptrs {
            // SAFETY: each pointer came from calloc and is freed once.
            unsafe { libc::free(p.cast()) };
        }
    }
}

/// Blocks each timing is split into.
const BLOCKS: u64 = 10;

/// Times `rounds` calls of each of two methods in alternating blocks (the
/// first method goes first in even blocks, second in odd ones) and keeps
/// each method's fastest block: the machine is shared, and the fastest
/// block is the least disturbed. `call` makes one call and returns the bytes
/// it moved.
pub fn time_alternating<M: Copy>(
    methods: [(M, &'static str); 2],
    buf_size: usize,
    rounds: u64,
    mut call: impl FnMut(M) -> std::io::Result<usize>,
) -> std::io::Result<[Measurement; 2]> {
    let per_block = (rounds / BLOCKS).max(1);
    let mut best: [Option<(std::time::Duration, u64)>; 2] = [None, None];
    for block in 0..BLOCKS {
        let order = if block % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let mut bytes = 0u64;
            let start = std::time::Instant::now();
            for _ in 0..per_block {
                bytes += call(methods[i].0)? as u64;
            }
            let elapsed = start.elapsed();
            if best[i].is_none_or(|(t, _)| elapsed < t) {
                best[i] = Some((elapsed, bytes));
            }
        }
    }
    Ok([0, 1].map(|i| {
        let (elapsed, bytes) = best[i].unwrap_or_default();
        Measurement {
            buf_size,
            method: methods[i].1,
            calls: per_block,
            bytes,
            elapsed,
        }
    }))
}

/// Whether `#[pointer_escapes]` calls pin and check in this run (the
/// examples that use this do not install `PinAwareAlloc`, which would turn
/// call pins on as well).
pub fn call_pins_on() -> bool {
    !cfg!(pointer_escapes_unchecked)
        && pointer_escapes::check_mode() != pointer_escapes::CheckMode::Off
}

/// "check mode Args", or that the checks are compiled out.
pub fn check_summary() -> String {
    if cfg!(pointer_escapes_unchecked) {
        "checks compiled out (cfg `pointer_escapes_unchecked`)".to_string()
    } else {
        format!("check mode {:?}", pointer_escapes::check_mode())
    }
}

/// A panic caught by [`catch_refusal`]: its message and where it was raised.
pub struct Refusal {
    /// The panic message (a check's refusal names the function, the
    /// parameter, the memory's kind and a fix).
    pub message: String,
    /// `file:line:column` the panic reports: with `#[track_caller]` through
    /// the annotated wrappers, the example's own call.
    pub location: String,
}

/// Runs `f`, which a check is expected to refuse by panicking, and returns
/// the refusal instead of letting the default hook print it; `Err` with
/// `f`'s result if it returned. The `--bug` modes use it to show the
/// message and exit 0 because the bug was caught.
pub fn catch_refusal<R>(f: impl FnOnce() -> R) -> Result<Refusal, R> {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let hook_seen = Arc::clone(&seen);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let location = info
            .location()
            .map_or_else(|| "an unknown place".to_string(), |l| l.to_string());
        if let Ok(mut slot) = hook_seen.lock() {
            *slot = Some(location);
        }
    }));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(previous);
    match outcome {
        Ok(value) => Err(value),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "(a panic without a message)".to_string());
            let location = seen
                .lock()
                .ok()
                .and_then(|mut s| s.take())
                .unwrap_or_else(|| "an unknown place".to_string());
            Ok(Refusal { message, location })
        }
    }
}

/// Turns the automatic checks on for a `--bug` mode (a release build
/// defaults to `CheckMode::Off`), saying so; `false` when they are compiled
/// out (cfg `pointer_escapes_unchecked`) and the mode cannot run.
pub fn checks_for_bug_demo() -> bool {
    use pointer_escapes::{check_mode, set_check_mode, CheckMode};
    if cfg!(pointer_escapes_unchecked) {
        println!("skipped: the checks are compiled out (cfg `pointer_escapes_unchecked`)");
        return false;
    }
    if check_mode() == CheckMode::Off {
        println!("(check mode was Off, as in a release build; turning on CheckMode::Args)");
        set_check_mode(CheckMode::Args);
    }
    true
}
