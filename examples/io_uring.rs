//! io_uring: the kernel keeps each buffer pointer from submission until the
//! completion is reaped.
//!
//! A read submission (`IORING_OP_READ`) carries the buffer's address in the
//! submission queue entry, memory shared with the kernel. Pushing the entry
//! and calling `io_uring_enter` returns at once; the kernel writes into the
//! buffer whenever the read happens and posts a completion queue entry
//! (CQE) afterwards. Between the push and the reaping of that CQE the buffer
//! belongs to the kernel, a span no borrow can express. So every buffer
//! lives in an [`OwnedPin`] (a `Vec::with_capacity(n)`: the pin covers the
//! capacity, and `set_len` records what the kernel wrote): pinned *before*
//! its address goes into the entry, released with `into_inner()` only when
//! its CQE has been reaped (a short read resubmits the rest of the same
//! pinned buffer first). Entries are pushed through `prep_read`, whose buffer
//! parameter is `#[escapes(retained, out, bytes = len)]`: in checked mode a
//! buffer that only the call pins (a plain `Vec`) or that lies on a stack is
//! refused before the entry is pushed; `--retained-bug` shows the refusal.
//!
//! The program reads several files it creates, all at once through one ring,
//! shows (and checks) that every buffer is pinned while its read is in
//! flight and that no pin is left afterwards, and compares the bytes with the
//! files. Where the kernel refuses io_uring (`ENOSYS`: not built in; `EPERM`
//! or `EACCES`: disabled by sysctl or a seccomp filter, as in many
//! containers; `ENOMEM`: locked-memory limit on kernels before 5.12) or
//! lacks `IORING_OP_READ` (before 5.6), it says why and exits 0 (with
//! `--retained-bug` too).
//!
//! ```text
//! cargo run --example io_uring [-- --files N --size SIZE --retained-bug]
//! ```

#![deny(unsafe_op_in_unsafe_fn)]

#[path = "support/mod.rs"]
mod support;

use io_uring::{opcode, types, IoUring, Probe};
use pointer_escapes::{pin_count, pointer_escapes, snapshot, OwnedPin, PinAwareAlloc, PinKind};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::process::ExitCode;
use support::{fail, Failure};

// Pinned heap blocks are quarantined instead of freed or moved.
#[global_allocator]
static ALLOC: PinAwareAlloc = PinAwareAlloc::system();

const USAGE: &str = "\
usage: io_uring [--files N] [--size SIZE] [--retained-bug]

Reads N files it creates through one io_uring, all in flight at once; each
buffer is pinned (OwnedPin) from submission until its completion is reaped.

  --files N     how many files (1..=256, default 4)
  --size SIZE   size of the first file; file i holds (i+1)*SIZE + 7*i bytes
                (4096, 64K, 1MiB...; default 16K)
  --retained-bug
                submit a read into a plain Vec, pinned only while prep_read
                runs, and show the check refusing it before the kernel
                sees it (exits 0 when it is refused)
  --help        this text";

const MAX_FILES: usize = 256;

struct Options {
    files: usize,
    size: usize,
    retained_bug: bool,
}

fn parse_options() -> Result<Option<Options>, Failure> {
    let mut opts = Options {
        files: 4,
        size: 16 << 10,
        retained_bug: false,
    };
    let mut args = support::Args::from_env();
    while let Some(flag) = args.next_flag()? {
        match flag.as_str() {
            "--files" => opts.files = args.count(&flag)?,
            "--size" => opts.size = args.size(&flag)?,
            "--retained-bug" => {
                args.no_value(&flag)?;
                opts.retained_bug = true;
            }
            "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            _ => return Err(Failure::Usage(format!("unknown option `{flag}`"))),
        }
    }
    if opts.files > MAX_FILES {
        return Err(Failure::Usage(format!(
            "--files must be at most {MAX_FILES}"
        )));
    }
    Ok(Some(opts))
}

fn main() -> ExitCode {
    support::exit_status("io_uring", run())
}

/// Why the kernel would not give us a ring, or `None` for a real failure.
fn refusal(err: &io::Error) -> Option<&'static str> {
    match err.raw_os_error()? {
        libc::ENOSYS => Some("this kernel has no io_uring (ENOSYS)"),
        libc::EPERM | libc::EACCES => Some(
            "io_uring is disabled here (EPERM/EACCES: kernel.io_uring_disabled, or a seccomp \
             filter such as a container runtime's)",
        ),
        libc::ENOMEM => Some("the locked-memory limit is too low for a ring (ENOMEM)"),
        _ => None,
    }
}

/// Pushes an `IORING_OP_READ` submission of `len` bytes at `offset` of `fd`
/// into `buf`, tagged `user_data`. The kernel keeps `buf` after this
/// returns, until the completion tagged `user_data` is reaped, so the
/// parameter is `#[escapes(retained)]`: in checked mode the call is refused
/// unless a pin that outlives it (an `OwnedPin`) covers the `len` bytes, and
/// refused whatever the pins if they are on a thread's stack. `out`: the
/// kernel writes the bytes, nothing reads them first.
///
/// # Safety
/// `buf` points to `len` writable bytes that stay allocated, unmoved and
/// untouched by Rust until the completion tagged `user_data` is reaped, and
/// `fd` stays open as long.
///
/// # Errors
/// When the submission queue is full.
///
/// # Panics
/// In checked mode, at the caller's line (`#[track_caller]`), when `buf` is
/// not covered by a pin that outlives the call or is on a stack.
#[pointer_escapes]
#[track_caller]
unsafe fn prep_read(
    ring: &mut IoUring,
    fd: RawFd,
    #[escapes(retained, out, bytes = len)] buf: *mut u8,
    len: u32,
    offset: u64,
    user_data: u64,
) -> Result<(), Failure> {
    let entry = opcode::Read::new(types::Fd(fd), buf, len)
        .offset(offset)
        .build()
        .user_data(user_data);
    // SAFETY: the entry's buffer and descriptor stay valid until its
    // completion is reaped (the caller's promise).
    unsafe { ring.submission().push(&entry) }.map_err(|_| fail("the submission queue is full"))
}

/// A file's read: its buffer stays pinned until the last CQE for it.
struct Request {
    name: String,
    file: File,
    /// Room for the whole file; its length is set when the last CQE is
    /// reaped.
    buf: OwnedPin<Vec<u8>>,
    /// The file's size: the bytes to read.
    want: usize,
    /// Bytes the kernel has reported so far.
    done: usize,
    /// Submissions used (more than one after a short read).
    submissions: u32,
}

impl Request {
    /// Submits the read of the rest of the file into the rest of the buffer.
    fn submit_rest(&mut self, ring: &mut IoUring, user_data: u64) -> Result<(), Failure> {
        let rest = self.want - self.done;
        // One submission reads at most u32::MAX bytes; a short read resubmits.
        let len = u32::try_from(rest).unwrap_or(u32::MAX);
        // SAFETY: `done <= want <= capacity()`, so the address is within (or
        // one past) the pinned buffer.
        let at = unsafe { self.buf.as_mut_ptr().add(self.done) };
        self.submissions += 1;
        // SAFETY: `len` bytes from `at` lie in the buffer this request owns
        // and pins, kept (not given back by into_inner) until its last CQE
        // is reaped; its file stays open as long.
        unsafe {
            prep_read(
                ring,
                self.file.as_raw_fd(),
                at,
                len,
                self.done as u64,
                user_data,
            )
        }
    }
}

fn run() -> Result<(), Failure> {
    let Some(opts) = parse_options()? else {
        return Ok(());
    };
    if !opts.retained_bug {
        println!(
            "io_uring: reading {} files at once through one ring ({} build)",
            opts.files,
            support::build_profile()
        );
    }
    let entries = u32::try_from(opts.files.next_power_of_two().max(8)).unwrap_or(8);
    let mut ring = match IoUring::new(entries) {
        Ok(ring) => ring,
        Err(e) => {
            return match refusal(&e) {
                Some(why) => {
                    println!("io_uring: skipped: {why}: {e}");
                    Ok(())
                }
                None => Err(fail(format!("io_uring_setup: {e}"))),
            };
        }
    };
    let mut probe = Probe::new();
    if let Err(e) = ring.submitter().register_probe(&mut probe) {
        println!("io_uring: skipped: cannot probe supported operations (kernel before 5.6): {e}");
        return Ok(());
    }
    if !probe.is_supported(opcode::Read::CODE) {
        println!("io_uring: skipped: this kernel lacks IORING_OP_READ (added in 5.6)");
        return Ok(());
    }
    if opts.retained_bug {
        return demonstrate_retained_bug(&mut ring, &opts);
    }

    let dir = support::ScratchDir::new("io_uring")?;
    let mut expected = Vec::with_capacity(opts.files);
    let mut files = Vec::with_capacity(opts.files);
    for i in 0..opts.files {
        let len = opts
            .size
            .checked_mul(i + 1)
            .and_then(|n| n.checked_add(7 * i))
            .ok_or_else(|| Failure::Usage("--size is too large".into()))?;
        let name = format!("file{i}.bin");
        let path = dir.file(&name);
        let data = support::pattern(len, 0x1_0000 + i as u64);
        std::fs::write(&path, &data)?;
        files.push((name, File::open(&path)?));
        expected.push(data);
    }
    // Every fallible step is done: from here no error path drops a buffer
    // that was pinned but never submitted.
    let mut requests: Vec<Option<Request>> = files
        .into_iter()
        .zip(&expected)
        .map(|((name, file), data)| {
            Some(Request {
                name,
                file,
                // Room for the file, none of it initialised: the usual
                // read-buffer shape. OwnedPin pins the whole capacity,
                // before its address goes into a submission entry.
                buf: OwnedPin::new(Vec::with_capacity(data.len())),
                want: data.len(),
                done: 0,
                submissions: 0,
            })
        })
        .collect();

    for (i, slot) in requests.iter_mut().enumerate() {
        let Some(req) = slot else { continue };
        req.submit_rest(&mut ring, i as u64)?;
    }
    let mut in_flight = requests.len();
    ring.submit()?;

    // Nothing has been reaped yet: every buffer must be pinned, whether or
    // not the kernel has finished writing it.
    let snap = snapshot();
    println!("submitted {in_flight} reads; before reaping any completion:\n{snap}");
    let owned = snap
        .pins
        .iter()
        .filter(|p| p.kind == PinKind::Owned)
        .count();
    let pinned = requests
        .iter()
        .flatten()
        .filter(|r| pin_count(r.buf.as_ptr()) > 0)
        .count();

    let mut results: Vec<Option<(Vec<u8>, u32)>> = (0..requests.len()).map(|_| None).collect();
    let mut errors = Vec::new();
    while in_flight > 0 {
        if let Err(e) = ring.submit_and_wait(1) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // The requests still in flight are dropped while pinned: their
            // pins stay, because the kernel may still write into them.
            return Err(fail(format!("io_uring_enter: {e}")));
        }
        let cqes: Vec<(u64, i32)> = ring
            .completion()
            .map(|c| (c.user_data(), c.result()))
            .collect();
        for (user_data, result) in cqes {
            let index = usize::try_from(user_data).unwrap_or(usize::MAX);
            let Some(slot) = requests.get_mut(index) else {
                errors.push(format!("completion for unknown request {user_data}"));
                continue;
            };
            let Some(mut req) = slot.take() else {
                errors.push(format!("second completion for request {user_data}"));
                continue;
            };
            let finished = match usize::try_from(result) {
                Err(_) => {
                    errors.push(format!(
                        "{}: {}",
                        req.name,
                        io::Error::from_raw_os_error(-result)
                    ));
                    true
                }
                Ok(0) if req.done < req.want => {
                    errors.push(format!(
                        "{}: end of file after {} bytes",
                        req.name, req.done
                    ));
                    true
                }
                Ok(n) => {
                    // The kernel never reports more than was asked for;
                    // should it, the length set below stays within `want`.
                    req.done = (req.done + n).min(req.want);
                    req.done >= req.want
                }
            };
            if finished {
                // Its last CQE is reaped: the kernel is done with the buffer.
                // SAFETY: every submission's bytes up to `done` were written
                // by reads whose completions are reaped; `done <= want <=
                // capacity()`.
                unsafe { req.buf.set_len(req.done) };
                let submissions = req.submissions;
                results[index] = Some((req.buf.into_inner(), submissions));
                in_flight -= 1;
            } else {
                // The buffer stays pinned in `req` for the next submission.
                req.submit_rest(&mut ring, user_data)?;
                *slot = Some(req);
            }
        }
    }

    let after = snapshot();
    println!(
        "{:<10} {:>10} {:>12}  result",
        "file", "bytes", "submissions"
    );
    for (i, want) in expected.iter().enumerate() {
        let verdict = match &results[i] {
            Some((got, _)) if got == want => "ok".to_string(),
            Some((got, _)) => format!(
                "MISMATCH at byte {:?}",
                support::first_difference(got, want)
            ),
            None => "not read".to_string(),
        };
        if verdict != "ok" {
            errors.push(format!("file{i}.bin: {verdict}"));
        }
        println!(
            "{:<10} {:>10} {:>12}  {verdict}",
            format!("file{i}.bin"),
            want.len(),
            results[i].as_ref().map_or(0, |r| r.1)
        );
    }
    println!(
        "after reaping every completion: {} live pin(s)",
        after.pin_total()
    );
    if owned != opts.files || pinned != opts.files {
        errors.push(format!(
            "expected {} buffers pinned in flight, saw {owned} OwnedPin entries and {pinned} pinned buffers",
            opts.files
        ));
    }
    if !after.pins.is_empty() {
        errors.push(format!("pins left after reaping:\n{after}"));
    }
    if errors.is_empty() {
        println!("ok");
        Ok(())
    } else {
        Err(fail(errors.join("\n")))
    }
}

/// `--retained-bug`: a read submitted into a plain `Vec`. Only the call to
/// `prep_read` pins it; the kernel would keep writing into it after the
/// call, when the `Vec` may be dropped and its block reused. The retained
/// check refuses the call before the entry is pushed.
fn demonstrate_retained_bug(ring: &mut IoUring, opts: &Options) -> Result<(), Failure> {
    println!(
        "io_uring --retained-bug: prep_read's buffer is #[escapes(retained)]; submitting a read \
         into a plain Vec ({} build)",
        support::build_profile()
    );
    if !support::checks_for_bug_demo() {
        return Ok(());
    }
    let len = opts.size.clamp(1, 1 << 20);
    let len_u32 = u32::try_from(len).map_err(|_| fail("--size is too large"))?;
    let dir = support::ScratchDir::new("io_uring")?;
    let path = dir.file("input.bin");
    std::fs::write(&path, support::pattern(len, 0x2_0000))?;
    let file = File::open(&path)?;

    // THE BUG: nothing keeps `plain` pinned (or alive) after the call.
    let mut plain = vec![0u8; len];
    let plain_ptr = plain.as_mut_ptr();
    // SAFETY: `len` writable bytes; should the call not be refused, the read
    // is reaped below while `plain` and `file` are still alive.
    let outcome = support::catch_refusal(|| unsafe {
        prep_read(ring, file.as_raw_fd(), plain_ptr, len_u32, 0, 0)
    });
    match outcome {
        Ok(refusal) if refusal.message.contains("pinned only for the call") => {
            println!("refused at {}:\n  {}", refusal.location, refusal.message);
        }
        Ok(refusal) => {
            return Err(fail(format!(
                "refused, but not as a buffer pinned only for the call: {}",
                refusal.message
            )))
        }
        Err(Ok(())) => {
            // Not refused: let the read finish before `plain` goes away.
            ring.submit_and_wait(1)?;
            ring.completion().for_each(drop);
            return Err(fail("the submission was pushed, not refused"));
        }
        Err(Err(e)) => {
            return Err(fail(format!(
                "prep_read failed instead of being refused: {e}"
            )))
        }
    }
    let pushed = ring.submission().len();
    let left = snapshot();
    drop(plain);
    if pushed != 0 || !left.pins.is_empty() {
        return Err(fail(format!(
            "after the refusal: {pushed} entries in the submission queue, pins left:\n{left}"
        )));
    }
    println!("caught: the entry was never pushed, and no pin is left");
    Ok(())
}
