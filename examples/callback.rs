//! A callback context: C keeps a `void *` and hands it back later, on
//! another thread.
//!
//! `pthread_create(&thread, attr, start, arg)` returns as soon as the thread
//! exists; the new thread calls `start(arg)` whenever it is scheduled, which
//! may well be after the caller's frame is gone. That is the shape of every
//! C API that takes a callback with a `void *user_data` (timers, event
//! loops, completion handlers): C keeps the pointer after the call returns.
//! So the binding marks it `#[escapes(retained, pointee = Job)]`: in checked
//! mode the call is refused unless a pin that outlives it covers the `Job`
//! (an `OwnedPin<Box<Job>>`, released with `into_inner()` after
//! `pthread_join`), and refused whatever the pins if the `Job` is on a
//! thread's stack, because no pin keeps a stack frame alive. `pointee = Job`
//! says what the untyped pointer really points to, so it is pinned with
//! `Job`'s size and its referents are checked.
//!
//! The program starts several worker threads, each with its own boxed,
//! pinned `Job`, shows the pins while they run, joins them, takes each
//! `Job` back and checks the sums they computed.
//!
//! `--bug` makes the classic mistake: the context is a local variable,
//! passed as `&mut job as *mut Job as *mut c_void`. The call is refused
//! before `pthread_create` runs, with a message naming the stack of thread
//! "main" and telling to box the context; the program prints it and exits 0
//! because the bug was caught.
//!
//! ```text
//! cargo run --example callback [-- --threads N --count N --bug]
//! ```

#![deny(unsafe_op_in_unsafe_fn)]

#[path = "support/mod.rs"]
mod support;

use pointer_escapes::{pin_count, pointer_escapes, snapshot, OwnedPin, PinKind, Referents};
use std::ffi::{c_int, c_void};
use std::mem::MaybeUninit;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use support::{fail, Failure};

const USAGE: &str = "\
usage: callback [--threads N] [--count N] [--bug]

Starts N threads with pthread_create, each handed a boxed, pinned context
(OwnedPin<Box<Job>>) through the `void *arg` C keeps; joins them and checks
what each computed.

  --threads N   worker threads (1..=64, default 4)
  --count N     numbers each worker sums the squares of (default 100000)
  --bug         pass a context that lives on the stack, and show the check
                refusing it (exits 0 when it is refused)
  --help        this text";

const MAX_THREADS: usize = 64;

#[pointer_escapes]
unsafe extern "C" {
    /// pthread_create(3): starts a thread running `start_routine(arg)`. C
    /// keeps `arg` after this returns, until the new thread is done with
    /// it: `#[escapes(retained)]`, a `Job` (`pointee = Job`).
    ///
    /// # Safety
    /// `thread` is writable; `attr` is null or an initialised attribute
    /// object; `arg` points to a `Job` that stays allocated, unmoved and
    /// untouched by this thread until the new thread is joined.
    fn pthread_create(
        #[escapes(out)] thread: *mut libc::pthread_t,
        attr: *const libc::pthread_attr_t,
        start_routine: extern "C" fn(*mut c_void) -> *mut c_void,
        #[escapes(retained, pointee = Job)] arg: *mut c_void,
    ) -> c_int;
}

/// A worker's context: what to compute, and where the answer goes. It
/// holds no pointers, so the `pointee = Job` check has nothing below it to
/// follow.
#[derive(Referents)]
#[repr(C)]
struct Job {
    /// The first number to square.
    first: u64,
    /// How many numbers.
    count: u64,
    /// The wrapping sum of their squares, written by the worker.
    sum: u64,
    /// The worker's OS thread id, written by the worker.
    worker_tid: i32,
}

impl Job {
    fn new(first: u64, count: u64) -> Job {
        Job {
            first,
            count,
            sum: 0,
            worker_tid: 0,
        }
    }
}

/// The sum a worker must find.
fn expected_sum(first: u64, count: u64) -> u64 {
    (first..first.saturating_add(count)).fold(0u64, |acc, x| acc.wrapping_add(x.wrapping_mul(x)))
}

/// The thread's start routine: reads its context some time after
/// `pthread_create` returned, and writes the answer into it.
extern "C" fn run_job(arg: *mut c_void) -> *mut c_void {
    // Later, as a timer's or event loop's callback would be.
    std::thread::sleep(Duration::from_millis(5));
    // SAFETY: `arg` is the `Job` handed to `pthread_create`, which the
    // starting thread keeps allocated and pinned, and does not touch, until
    // it joins this thread.
    let job = unsafe { &mut *arg.cast::<Job>() };
    job.sum = expected_sum(job.first, job.count);
    // SAFETY: gettid takes no arguments and cannot fail.
    job.worker_tid = unsafe { libc::gettid() };
    std::ptr::null_mut()
}

/// Waits for `thread` to end.
fn join(thread: libc::pthread_t) -> Result<(), Failure> {
    // SAFETY: a thread started by pthread_create, joined once; its result
    // is not wanted.
    match unsafe { libc::pthread_join(thread, std::ptr::null_mut()) } {
        0 => Ok(()),
        code => Err(fail(format!(
            "pthread_join: {}",
            std::io::Error::from_raw_os_error(code)
        ))),
    }
}

struct Options {
    threads: usize,
    count: u64,
    bug: bool,
}

fn parse_options() -> Result<Option<Options>, Failure> {
    let mut opts = Options {
        threads: 4,
        count: 100_000,
        bug: false,
    };
    let mut args = support::Args::from_env();
    while let Some(flag) = args.next_flag()? {
        match flag.as_str() {
            "--threads" => opts.threads = args.count(&flag)?,
            "--count" => opts.count = args.count(&flag)? as u64,
            "--bug" => {
                args.no_value(&flag)?;
                opts.bug = true;
            }
            "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            _ => return Err(Failure::Usage(format!("unknown option `{flag}`"))),
        }
    }
    if opts.threads > MAX_THREADS {
        return Err(Failure::Usage(format!(
            "--threads must be at most {MAX_THREADS}"
        )));
    }
    Ok(Some(opts))
}

fn main() -> ExitCode {
    support::exit_status("callback", run())
}

fn run() -> Result<(), Failure> {
    let Some(opts) = parse_options()? else {
        return Ok(());
    };
    if opts.bug {
        demonstrate_bug(&opts)
    } else {
        run_workers(&opts)
    }
}

/// A started worker and the context C keeps for it.
struct Worker {
    thread: libc::pthread_t,
    /// The address C was given; Rust does not touch the `Job` through a
    /// reference until the worker is joined, because the worker writes it.
    job_ptr: *mut Job,
    job: OwnedPin<Box<Job>>,
}

/// Starts a worker on `Job::new(first, count)`, its context boxed and
/// pinned before `pthread_create` sees it.
fn start(first: u64, count: u64) -> Result<Worker, Failure> {
    let mut job = OwnedPin::new(Box::new(Job::new(first, count)));
    let job_ptr = job.as_mut_ptr();
    let mut thread = MaybeUninit::<libc::pthread_t>::uninit();
    // SAFETY: `thread` is writable, the attributes are the defaults, and
    // `job_ptr` is a Job that `job` owns and pins until the worker is joined.
    let rc = unsafe {
        pthread_create(
            thread.as_mut_ptr(),
            std::ptr::null(),
            run_job,
            job_ptr.cast::<c_void>(),
        )
    };
    if rc != 0 {
        // No thread was started: C holds no pointer, so the pin can end.
        drop(job.into_inner());
        return Err(fail(format!(
            "pthread_create: {}",
            std::io::Error::from_raw_os_error(rc)
        )));
    }
    Ok(Worker {
        // SAFETY: pthread_create succeeded, so it wrote the thread id.
        thread: unsafe { thread.assume_init() },
        job_ptr,
        job,
    })
}

fn run_workers(opts: &Options) -> Result<(), Failure> {
    println!(
        "callback: {} threads started with pthread_create, each handed an OwnedPin<Box<Job>> \
         as its `void *arg` ({} build, {})",
        opts.threads,
        support::build_profile(),
        support::check_summary()
    );
    let started = Instant::now();
    let mut workers = Vec::with_capacity(opts.threads);
    for i in 0..opts.threads {
        let first = (i as u64).wrapping_mul(opts.count);
        match start(first, opts.count) {
            Ok(worker) => workers.push(worker),
            Err(e) => {
                // Join what was started before giving up, so no pin leaks.
                for w in workers {
                    join(w.thread)?;
                    drop(w.job.into_inner());
                }
                return Err(e);
            }
        }
    }

    // Until joined, every context is pinned, whether or not its worker has
    // read it yet.
    let snap = snapshot();
    println!("while the workers run:\n{snap}");
    let owned = snap
        .pins
        .iter()
        .filter(|p| p.kind == PinKind::Owned)
        .count();
    let unpinned = workers.iter().filter(|w| pin_count(w.job_ptr) == 0).count();

    let mut errors = Vec::new();
    let mut addresses = Vec::with_capacity(workers.len());
    for (i, w) in workers.into_iter().enumerate() {
        join(w.thread)?;
        addresses.push(w.job_ptr as usize);
        // The worker has ended: C is done with `arg`, and the pin ends.
        let job = w.job.into_inner();
        let want = expected_sum(job.first, job.count);
        println!(
            "worker {i}: squares of {}..{} sum to {:#018x} (wrapping), computed on tid {}: {}",
            job.first,
            job.first.saturating_add(job.count),
            job.sum,
            job.worker_tid,
            if job.sum == want { "ok" } else { "WRONG" }
        );
        if job.sum != want || job.worker_tid == 0 {
            errors.push(format!(
                "worker {i}: sum {:#x}, expected {want:#x}, tid {}",
                job.sum, job.worker_tid
            ));
        }
    }
    let after = snapshot();
    let still = addresses
        .iter()
        .filter(|&&a| pin_count(a as *const Job) != 0)
        .count();
    if owned != opts.threads || unpinned != 0 {
        errors.push(format!(
            "expected {} OwnedPin entries while running, saw {owned} ({unpinned} context(s) \
             unpinned)",
            opts.threads
        ));
    }
    if !after.pins.is_empty() || still != 0 {
        errors.push(format!("pins left after joining:\n{after}"));
    }
    println!(
        "joined {} workers in {:.1} ms; live pins now: {}",
        opts.threads,
        started.elapsed().as_secs_f64() * 1e3,
        after.pin_total()
    );
    if errors.is_empty() {
        println!("ok");
        Ok(())
    } else {
        Err(fail(errors.join("\n")))
    }
}

/// `--bug`: the context is a local, on the main thread's stack.
fn demonstrate_bug(opts: &Options) -> Result<(), Failure> {
    println!(
        "callback --bug: a worker's context passed as `&mut job as *mut Job as *mut c_void`, a \
         local of the starting function ({} build)",
        support::build_profile()
    );
    if !support::checks_for_bug_demo() {
        return Ok(());
    }
    match support::catch_refusal(|| start_with_context_on_stack(opts.count)) {
        Ok(refusal)
            if refusal.message.contains("on the stack of thread \"main\"")
                && refusal.message.contains("OwnedPin::new(Box::new(") =>
        {
            println!("refused at {}:\n  {}", refusal.location, refusal.message);
            let left = snapshot();
            if !left.pins.is_empty() {
                return Err(fail(format!("pins left after the refusal:\n{left}")));
            }
            println!(
                "caught: pthread_create never ran, so no thread holds the frame's address; no \
                 pin is left"
            );
            Ok(())
        }
        Ok(refusal) => Err(fail(format!(
            "refused, but the message does not name the main thread's stack and the fix: {}",
            refusal.message
        ))),
        Err(result) => {
            result?;
            Err(fail("pthread_create was called, not refused"))
        }
    }
}

/// THE BUG, as it is usually written: start a worker on a context that
/// lives in this frame, and return. Any later read of `arg` by the worker
/// reads a dead frame.
fn start_with_context_on_stack(count: u64) -> Result<(), Failure> {
    let mut job = Job::new(0, count);
    let mut thread = MaybeUninit::<libc::pthread_t>::uninit();
    // SAFETY: `thread` is writable and the attributes are the defaults;
    // `job` is a live Job. Should the call not be refused, the worker is
    // joined below, before this frame ends, so the demonstration itself
    // never lets it read a dead frame.
    let rc = unsafe {
        pthread_create(
            thread.as_mut_ptr(),
            std::ptr::null(),
            run_job,
            &mut job as *mut Job as *mut c_void,
        )
    };
    if rc == 0 {
        // SAFETY: pthread_create succeeded, so it wrote the thread id.
        join(unsafe { thread.assume_init() })?;
    }
    Ok(())
}
