//! POSIX AIO: C keeps the buffer pointer after the call returns.
//!
//! `aio_read(&aiocb)` only *queues* a read: it returns at once, and later
//! (here, a glibc helper thread; elsewhere, the kernel) writes up to
//! `aio_nbytes` bytes into `aiocb.aio_buf` and the result into the `aiocb`
//! itself. Until `aio_error` stops answering `EINPROGRESS` and `aio_return`
//! has reaped the result, both the control block and the buffer belong to C.
//! No borrow can express that span, so each request keeps them in an
//! [`OwnedPin`]: the buffer is pinned before its address is written into the
//! `aiocb`, the `aiocb` (a `Box`, whose heap storage never moves) is pinned
//! before `aio_read` sees it, and both are released with `into_inner()` only
//! after `aio_return`.
//!
//! The program reads a file it creates with several requests in flight at
//! once, shows the pins while they are in flight (`snapshot()`), reaps every
//! request, checks that no pin is left and that the bytes equal the file.
//!
//! `--bug` shows what the pins are for. It queues a read on a pipe (so it is
//! certainly still in flight), then drops the buffer's `OwnedPin` the way a
//! careless binding would. `PinAwareAlloc` is the global allocator here, so
//! the heap block is quarantined instead of being reused; the report names
//! the `OwnedPin`, the line that made it and the quarantined block. Then the
//! program writes into the pipe, the AIO completes into the quarantined
//! memory rather than into someone else's allocation, and the program exits
//! 0 because the bug was caught. Without `PinAwareAlloc` the buffer would be
//! leaked instead, with the same report.
//!
//! ```text
//! cargo run --example aio [-- --requests N --chunk SIZE --bug]
//! ```

#![deny(unsafe_op_in_unsafe_fn)]

#[path = "support/mod.rs"]
mod support;

use pointer_escapes::{
    pin_count, pointer_escapes, snapshot, AllocEventKind, OwnedPin, PinAwareAlloc, PinKind,
};
use std::ffi::c_void;
use std::io::{self, Write as _};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;
use support::{fail, Failure};

// Pinned heap blocks are quarantined instead of freed or moved.
#[global_allocator]
static ALLOC: PinAwareAlloc = PinAwareAlloc::system();

const USAGE: &str = "\
usage: aio [--requests N] [--chunk SIZE] [--bug | --retained-bug]

Reads a file it creates with N POSIX AIO requests of SIZE bytes in flight at
once; each aiocb and its buffer stay pinned (OwnedPin) until reaped.

  --requests N   requests in flight at once (default 4)
  --chunk SIZE   bytes per request: 4096, 64K, 1MiB... (default 64K)
  --bug          drop a buffer while its read is in flight, and show the
                 report that catches it (exits 0 when it is caught)
  --retained-bug hand aio_read a buffer only the call pins, then an aiocb on
                 the stack, and show the checks refusing both before C
                 sees them (exits 0 when both are refused)
  --help         this text";

struct Options {
    requests: usize,
    chunk: usize,
    bug: bool,
    retained_bug: bool,
}

fn parse_options() -> Result<Option<Options>, Failure> {
    let mut opts = Options {
        requests: 4,
        chunk: 64 << 10,
        bug: false,
        retained_bug: false,
    };
    let mut args = support::Args::from_env();
    while let Some(flag) = args.next_flag()? {
        match flag.as_str() {
            "--requests" => opts.requests = args.count(&flag)?,
            "--chunk" => opts.chunk = args.size(&flag)?,
            "--bug" => {
                args.no_value(&flag)?;
                opts.bug = true;
            }
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
    if opts.bug && opts.retained_bug {
        return Err(Failure::Usage(
            "--bug and --retained-bug are separate runs; give one".into(),
        ));
    }
    if opts.chunk == 0 {
        return Err(Failure::Usage("--chunk must be at least 1 byte".into()));
    }
    Ok(Some(opts))
}

fn main() -> ExitCode {
    support::exit_status("aio", run())
}

fn run() -> Result<(), Failure> {
    let Some(opts) = parse_options()? else {
        return Ok(());
    };
    if opts.bug {
        demonstrate_bug(&opts)
    } else if opts.retained_bug {
        demonstrate_retained_bug(&opts)
    } else {
        read_file(&opts)
    }
}

/// One queued read: the control block and the buffer it points to, both
/// owned by C until the request is reaped.
struct InFlight {
    offset: usize,
    /// The address C was given; Rust does not touch the `aiocb` through a
    /// reference while it is in flight, because C writes into it.
    cb_ptr: *mut libc::aiocb,
    cb: OwnedPin<Box<MaybeUninit<libc::aiocb>>>,
    /// Room for the read; its length is set once the read is reaped.
    buf: OwnedPin<Vec<u8>>,
}

/// Queues a read of `len` bytes at `offset` of `fd` into `buf`, with `cb` as
/// its control block: `aio_read(3)` returns at once, and C keeps both
/// pointers until the request is reaped with `aio_return`. Both parameters
/// are `#[escapes(retained)]`, so in checked mode the call is refused unless
/// a pin that outlives it (an `OwnedPin`) covers each of them, and refused
/// whatever the pins if either is on a thread's stack. `out`: C writes both
/// (the result into the `aiocb`, the bytes into `buf`); this wrapper fills
/// the `aiocb` itself and reads neither before.
///
/// # Safety
/// `cb` points to a writable `aiocb` and `buf` to `len` writable bytes, both
/// of which stay allocated, unmoved and untouched by Rust until the request
/// is reaped (`aio_error` stops answering `EINPROGRESS`, then `aio_return`).
///
/// # Panics
/// In checked mode, at the caller's line (`#[track_caller]`), when `cb` or
/// `buf` is not covered by a pin that outlives the call or is on a stack.
#[pointer_escapes]
#[track_caller]
unsafe fn queue_read(
    #[escapes(retained, out)] cb: *mut libc::aiocb,
    fd: libc::c_int,
    offset: libc::off_t,
    #[escapes(retained, out, bytes = len)] buf: *mut u8,
    len: usize,
) -> io::Result<()> {
    // SAFETY: every field of `aiocb` is an integer, a raw pointer or a plain
    // C struct of those, for which all-zero bytes are a valid value; `cb` is
    // writable (the caller's promise).
    unsafe { cb.write(std::mem::zeroed()) };
    // SAFETY: `cb` was just initialised and nothing else refers to it yet.
    let block = unsafe { &mut *cb };
    block.aio_fildes = fd;
    block.aio_offset = offset;
    block.aio_buf = buf.cast::<c_void>();
    block.aio_nbytes = len;
    // All-zero would mean SIGEV_SIGNAL with signal 0; say "no notification".
    block.aio_sigevent.sigev_notify = libc::SIGEV_NONE;
    // SAFETY: a fully initialised aiocb whose buffer holds `aio_nbytes`
    // writable bytes; the caller keeps both until the request is reaped.
    if unsafe { libc::aio_read(cb) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Queues a read of `len` bytes at `offset` of `fd`.
fn submit(fd: libc::c_int, offset: usize, len: usize) -> io::Result<InFlight> {
    // Everything that can fail comes before the pins, so no error path
    // drops a pinned buffer.
    let offset_c = libc::off_t::try_from(offset)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))?;
    // The usual read-buffer shape: room for `len` bytes, none initialised.
    // OwnedPin pins the whole capacity, before its address goes to C.
    let mut buf = OwnedPin::new(Vec::<u8>::with_capacity(len));
    // A Box's heap storage never moves, however its owner does; zeroed by
    // `queue_read` before C sees it.
    let mut cb = OwnedPin::new(Box::new(MaybeUninit::<libc::aiocb>::uninit()));
    let cb_ptr = cb.as_mut_ptr().cast::<libc::aiocb>();
    let buf_ptr = buf.as_mut_ptr();
    let capacity = buf.capacity();
    // SAFETY: `cb_ptr` is a writable aiocb and `buf_ptr` `capacity` writable
    // bytes, both owned by the OwnedPins kept in the InFlight until reaped.
    if let Err(err) = unsafe { queue_read(cb_ptr, fd, offset_c, buf_ptr, capacity) } {
        // Not queued: C holds neither pointer, so the pins can end here.
        drop(cb.into_inner());
        drop(buf.into_inner());
        return Err(err);
    }
    Ok(InFlight {
        offset,
        cb_ptr,
        cb,
        buf,
    })
}

/// A reaped request: its buffer (unpinned again) and what `aio_return` said.
struct Reaped {
    offset: usize,
    buf: Vec<u8>,
    result: io::Result<usize>,
}

/// Waits until every request completed, reaping each as it does.
///
/// If waiting itself fails, the requests still in flight are dropped while
/// pinned: their pins stay for the rest of the process, which is right,
/// because nothing says C is done with them.
fn reap_all(mut in_flight: Vec<InFlight>) -> io::Result<Vec<Reaped>> {
    let mut done = Vec::with_capacity(in_flight.len());
    while !in_flight.is_empty() {
        let list: Vec<*const libc::aiocb> =
            in_flight.iter().map(|r| r.cb_ptr.cast_const()).collect();
        let count = libc::c_int::try_from(list.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `list` holds `count` pointers to queued, pinned aiocbs; a
        // null timeout waits until at least one completes.
        if unsafe { libc::aio_suspend(list.as_ptr(), count, std::ptr::null()) } != 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        let mut i = 0;
        while i < in_flight.len() {
            // SAFETY: a queued, pinned aiocb.
            let status = unsafe { libc::aio_error(in_flight[i].cb_ptr) };
            if status == libc::EINPROGRESS {
                i += 1;
                continue;
            }
            let mut req = in_flight.swap_remove(i);
            // SAFETY: the request completed; aio_return is called once.
            let n = unsafe { libc::aio_return(req.cb_ptr) };
            let result = match (status, usize::try_from(n)) {
                (0, Ok(n)) if n <= req.buf.capacity() => Ok(n),
                (0, _) => Err(io::Error::other(format!("aio_return reported {n}"))),
                (code, _) => Err(io::Error::from_raw_os_error(code)),
            };
            if let Ok(n) = result {
                // SAFETY: the read is reaped, so C's writes of its first `n`
                // bytes happened before this; `n` is within the capacity.
                unsafe { req.buf.set_len(n) };
            }
            // C is done with both: now, and only now, the pins end.
            drop(req.cb.into_inner());
            done.push(Reaped {
                offset: req.offset,
                buf: req.buf.into_inner(),
                result,
            });
        }
    }
    done.sort_by_key(|r| r.offset);
    Ok(done)
}

fn read_file(opts: &Options) -> Result<(), Failure> {
    let total = opts
        .requests
        .checked_mul(opts.chunk)
        .ok_or_else(|| Failure::Usage("--requests times --chunk overflows".into()))?;
    println!(
        "aio: {} POSIX AIO reads of {} in flight at once ({} build)",
        opts.requests,
        support::human_bytes(opts.chunk),
        support::build_profile()
    );
    let dir = support::ScratchDir::new("aio")?;
    let path = dir.file("input.bin");
    let expected = support::pattern(total, 0xa10);
    std::fs::write(&path, &expected)?;
    let file = std::fs::File::open(&path)?;

    let mut in_flight = Vec::with_capacity(opts.requests);
    for i in 0..opts.requests {
        match submit(file.as_raw_fd(), i * opts.chunk, opts.chunk) {
            Ok(req) => in_flight.push(req),
            Err(e) => {
                // Reap what was queued before giving up, so no pin leaks.
                reap_all(in_flight)?;
                return Err(fail(format!("aio_read of request {i}: {e}")));
            }
        }
    }

    // Until reaped, every buffer and control block is pinned, whether or not
    // the helper has finished writing.
    let snap = snapshot();
    println!("while in flight:\n{snap}");
    let unpinned = in_flight
        .iter()
        .filter(|r| pin_count(r.buf.as_ptr()) == 0 || pin_count(r.cb_ptr) == 0)
        .count();
    let owned = snap
        .pins
        .iter()
        .filter(|p| p.kind == PinKind::Owned)
        .count();
    let addresses: Vec<usize> = in_flight.iter().map(|r| r.buf.as_ptr() as usize).collect();

    let reaped = reap_all(in_flight)?;
    if unpinned != 0 || owned != 2 * opts.requests {
        return Err(fail(format!(
            "expected {} OwnedPin entries in flight, saw {owned} ({unpinned} request(s) unpinned)",
            2 * opts.requests
        )));
    }

    let mut bytes = 0;
    for r in &reaped {
        let n = r
            .result
            .as_ref()
            .map_err(|e| fail(format!("read at offset {}: {e}", r.offset)))?;
        let want = &expected[r.offset..r.offset + opts.chunk];
        if *n != opts.chunk || r.buf != want {
            return Err(fail(format!(
                "read at offset {} returned {n} bytes; first difference at byte {:?}",
                r.offset,
                support::first_difference(&r.buf, want)
            )));
        }
        bytes += n;
    }
    let after = snapshot();
    let still = addresses
        .iter()
        .filter(|&&a| pin_count(a as *const u8) != 0)
        .count();
    if !after.pins.is_empty() || still != 0 {
        return Err(fail(format!("pins left after reaping:\n{after}")));
    }
    println!(
        "reaped {} requests, {} verified against the file; live pins now: {}",
        reaped.len(),
        support::human_bytes(bytes),
        after.pin_total()
    );
    println!("ok");
    Ok(())
}

/// `--bug`: drops a buffer while its read is in flight.
fn demonstrate_bug(opts: &Options) -> Result<(), Failure> {
    println!(
        "aio --bug: one POSIX AIO read from a pipe, whose buffer is dropped while the read is in \
         flight ({} build)",
        support::build_profile()
    );
    let (read_end, write_end) = pipe()?;
    // A pipe holds at least 4 KiB before a writer blocks (PIPE_BUF).
    let len = opts.chunk.min(4096);

    // Nothing is in the pipe yet, so the read cannot complete before we
    // write: it is certainly in flight when the buffer is dropped.
    let req = submit(read_end.as_raw_fd(), 0, len)?;
    let InFlight {
        cb_ptr, cb, buf, ..
    } = req;
    let buf_addr = buf.as_ptr() as usize;
    println!(
        "queued aio_read of {len} bytes into {buf_addr:#x}; now dropping that buffer (the bug)"
    );

    // THE BUG: a binding that lets the buffer go when the call returns,
    // while C still holds `aio_buf`.
    drop(buf);

    let snap = snapshot();
    println!("\nreport right after the drop:\n{snap}");
    let named = snap.pins.iter().find(|p| {
        p.kind == PinKind::Owned && p.region.addr() == buf_addr && p.site.file().ends_with("aio.rs")
    });
    let quarantined = snap.events.iter().any(|e| {
        e.kind == AllocEventKind::FreedWhilePinned
            && e.block.addr() == buf_addr
            && e.pin_kind == PinKind::Owned
    });

    // Other allocations of the same size cannot land on the dropped block:
    // it is quarantined, not back in the allocator.
    let others: Vec<Vec<u8>> = (0..8).map(|_| vec![0u8; len]).collect();
    let reused = others.iter().any(|v| v.as_ptr() as usize == buf_addr);
    println!(
        "8 new {}-byte allocations after the drop: {}",
        len,
        if reused {
            "one REUSED the dropped block"
        } else {
            "none reuses the dropped block"
        }
    );

    // Let the read complete: glibc's AIO thread writes into the block.
    let payload = support::pattern(len, 0xb06);
    let mut pipe = std::fs::File::from(write_end);
    pipe.write_all(&payload)?;
    drop(pipe);
    let (n, cb) = wait_one(cb_ptr, cb)?;
    println!(
        "the read completed after the drop: {n} bytes were written into {buf_addr:#x}, a \
         quarantined block that still has {} pin(s), not into someone else's memory",
        pin_count(buf_addr as *const u8)
    );

    let after = snapshot();
    println!(
        "\nthe dropped buffer's pin stays for the rest of the process (POINTER_ESCAPES_REPORT=1 prints it at \
         exit):\n{after}"
    );
    drop(cb);
    match (named, quarantined, reused, after.quarantined_bytes >= len) {
        (Some(pin), true, false, true) => {
            println!(
                "caught: the report names the OwnedPin made at {} and the quarantined block",
                pin.site
            );
            Ok(())
        }
        _ => Err(fail(format!(
            "the bug was not caught: pin named {}, block quarantined {quarantined}, reused \
             {reused}, quarantined bytes {}",
            named.is_some(),
            after.quarantined_bytes
        ))),
    }
}

/// `--retained-bug`: the two mistakes `#[escapes(retained)]` on
/// `queue_read` refuses before `aio_read` runs: a buffer only the call pins
/// (a plain `Vec`, whose block the next allocation may reuse while the read
/// is in flight) and a control block on the stack (a frame that is gone when
/// the read completes, whatever pins it).
fn demonstrate_retained_bug(opts: &Options) -> Result<(), Failure> {
    println!(
        "aio --retained-bug: queue_read's parameters are #[escapes(retained)]; two calls that \
         would let C keep memory nobody keeps ({} build)",
        support::build_profile()
    );
    if !support::checks_for_bug_demo() {
        return Ok(());
    }
    // A pipe: should a call not be refused, its read stays in flight until
    // this function writes, so it can be completed before anything dies.
    let (read_end, write_end) = pipe()?;
    let fd = read_end.as_raw_fd();
    let mut pipe_in = std::fs::File::from(write_end);
    let len = opts.chunk.min(4096);

    println!("\n1. the buffer is a plain Vec, pinned only while queue_read runs:");
    let mut cb = OwnedPin::new(Box::new(MaybeUninit::<libc::aiocb>::uninit()));
    let cb_ptr = cb.as_mut_ptr().cast::<libc::aiocb>();
    let mut plain = vec![0u8; len];
    let plain_ptr = plain.as_mut_ptr();
    // THE BUG: nothing keeps `plain` pinned (or alive) after the call.
    // SAFETY: `cb_ptr` and `plain_ptr` are writable; should the call not be
    // refused, the read is completed below while both are still alive.
    let first = support::catch_refusal(|| unsafe { queue_read(cb_ptr, fd, 0, plain_ptr, len) });
    let first = refused(first, "pinned only for the call", || {
        // SAFETY: the aiocb `cb` pins, queued by the call just made.
        complete(&mut pipe_in, len, || unsafe { wait_reaped(cb_ptr) })
    })?;
    drop(cb.into_inner());
    drop(plain);

    println!("\n2. the aiocb is a local of this function, on the main thread's stack:");
    let mut buf = OwnedPin::new(Vec::<u8>::with_capacity(len));
    let buf_ptr = buf.as_mut_ptr();
    // THE BUG: C would keep the address of this frame's local.
    let mut on_stack = MaybeUninit::<libc::aiocb>::uninit();
    let stack_ptr = on_stack.as_mut_ptr();
    // SAFETY: as above; `on_stack` lives until the end of this function.
    let second = support::catch_refusal(|| unsafe { queue_read(stack_ptr, fd, 0, buf_ptr, len) });
    let second = refused(second, "on the stack of thread \"main\"", || {
        // SAFETY: the aiocb on this frame, queued by the call just made.
        complete(&mut pipe_in, len, || unsafe { wait_reaped(stack_ptr) })
    })?;
    drop(buf.into_inner());

    let left = snapshot();
    if !left.pins.is_empty() {
        return Err(fail(format!("pins left after the refused calls:\n{left}")));
    }
    println!(
        "\ncaught: both calls refused before aio_read ran ({} and {}); no pin left",
        first.location, second.location
    );
    Ok(())
}

/// Prints a caught refusal and checks it says `expected`; if the call was
/// not refused, runs `complete` (so the queued read ends while its memory
/// is alive) and fails.
fn refused(
    outcome: Result<support::Refusal, io::Result<()>>,
    expected: &str,
    complete: impl FnOnce() -> Result<usize, Failure>,
) -> Result<support::Refusal, Failure> {
    match outcome {
        Ok(refusal) if refusal.message.contains(expected) => {
            println!("refused at {}:\n  {}", refusal.location, refusal.message);
            Ok(refusal)
        }
        Ok(refusal) => Err(fail(format!(
            "refused, but the message does not say \"{expected}\": {}",
            refusal.message
        ))),
        Err(Ok(())) => {
            complete()?;
            Err(fail(format!(
                "the call was queued, not refused (expected \"{expected}\")"
            )))
        }
        Err(Err(e)) => Err(fail(format!(
            "aio_read failed instead of being refused: {e}"
        ))),
    }
}

/// Feeds `len` bytes into the pipe, then waits for the read that takes them.
fn complete(
    pipe_in: &mut std::fs::File,
    len: usize,
    wait: impl FnOnce() -> Result<usize, Failure>,
) -> Result<usize, Failure> {
    pipe_in.write_all(&support::pattern(len, 0xb07))?;
    wait()
}

/// A pipe's read and write ends.
fn pipe() -> Result<(OwnedFd, OwnedFd), Failure> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(fail(format!("pipe: {}", io::Error::last_os_error())));
    }
    // SAFETY: pipe(2) just returned these descriptors; each is owned once.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Waits for one request and reaps it, giving back its control block.
fn wait_one(
    cb_ptr: *mut libc::aiocb,
    cb: OwnedPin<Box<MaybeUninit<libc::aiocb>>>,
) -> Result<(usize, Box<MaybeUninit<libc::aiocb>>), Failure> {
    // SAFETY: `cb_ptr` is the queued aiocb `cb` owns and pins.
    let n = unsafe { wait_reaped(cb_ptr) }?;
    Ok((n, cb.into_inner()))
}

/// Waits for one request and reaps it: the byte count `aio_return` gives.
///
/// # Safety
/// `cb_ptr` is a queued aiocb, valid until this returns.
unsafe fn wait_reaped(cb_ptr: *mut libc::aiocb) -> Result<usize, Failure> {
    let list = [cb_ptr.cast_const()];
    loop {
        // SAFETY: a queued aiocb (the caller's promise).
        let status = unsafe { libc::aio_error(cb_ptr) };
        if status != libc::EINPROGRESS {
            // SAFETY: completed; reaped once.
            let n = unsafe { libc::aio_return(cb_ptr) };
            return match (status, usize::try_from(n)) {
                (0, Ok(n)) => Ok(n),
                (code, _) => Err(fail(format!(
                    "aio_read: {}",
                    io::Error::from_raw_os_error(code)
                ))),
            };
        }
        // SAFETY: one pointer to a queued aiocb; the null timeout waits.
        if unsafe { libc::aio_suspend(list.as_ptr(), 1, std::ptr::null()) } != 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(fail(format!("aio_suspend: {err}")));
            }
        }
    }
}
