//! Zero-copy `readv(2)` into `Vec<Vec<u8>>` buffers through an annotated
//! binding.
//!
//! `readv(fd, iov, iovcnt)` fills the buffers described by an array of
//! `iovec`s. The kernel follows every entry's `iov_base`, so for the whole
//! call the array *and every buffer it points to* must stay where they are:
//! the borrow checker sees none of that through a `*const libc::iovec`.
//! `#[flow_through] #[escapes(len = iovcnt)]` on the parameter says it: each
//! call pins the `iovcnt` entries and, one level down, each entry's buffer,
//! checks them in checked mode, and unpins them on every exit path. The
//! `Vec`s are read into directly: no bounce buffer, no copy.
//!
//! The usual way around the problem is a bounce buffer: read into memory C
//! owns (`calloc`), then copy into the `Vec`s. The program times both, with
//! 16 iovecs per call at 64 B and 4 KiB per buffer, after checking that both
//! read the file byte for byte. Finally it shows the checker at work: the
//! same binding without `#[flow_through]` only pins the array, and handed
//! buffers nobody pinned it refuses the call with a message naming the
//! argument, element, address and size.
//!
//! `cargo run` makes a debug build, whose figures say little; the program
//! prints the profile. Use `cargo run --release --example readv` to measure.
//!
//! ```text
//! cargo run --example readv [-- --file PATH --buf-size SIZE --rounds N]
//! ```

#![deny(unsafe_op_in_unsafe_fn)]

#[path = "support/mod.rs"]
mod support;

use pointer_escapes::{check_mode, pointer_escapes, CheckMode};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::raw::c_int;
use std::path::PathBuf;
use std::process::ExitCode;
use support::{fail, Failure, MallocBufs, Measurement};

/// readv(2): the kernel follows each iovec's `iov_base`, so the array and
/// every buffer it points to must stay put for the call.
///
/// # Safety
/// `iov` points at `iovcnt` initialised `iovec`s, each describing writable
/// memory of `iov_len` bytes.
#[pointer_escapes]
unsafe fn readv(
    fd: c_int,
    #[flow_through]
    #[escapes(len = iovcnt)]
    iov: *const libc::iovec,
    iovcnt: c_int,
) -> isize {
    // SAFETY: the caller's promise; the attribute keeps the array and the
    // buffers pinned until this returns.
    unsafe { libc::readv(fd, iov, iovcnt) }
}

/// The same binding without `#[flow_through]`: it pins the array only, so
/// in checked mode every buffer the entries point at must already be pinned
/// by the caller (Go's "cgo argument has Go pointer to unpinned Go pointer").
///
/// # Safety
/// As for [`readv`].
#[pointer_escapes]
unsafe fn readv_array_only(
    fd: c_int,
    #[escapes(len = iovcnt)] iov: *const libc::iovec,
    iovcnt: c_int,
) -> isize {
    // SAFETY: the caller's promise.
    unsafe { libc::readv(fd, iov, iovcnt) }
}

/// iovecs per call, as in the issue's target.
const IOVECS: usize = 16;

const USAGE: &str = "\
usage: readv [--file PATH] [--buf-size SIZE] [--rounds N]

Reads a file with readv(2), 16 iovecs per call, straight into Vec<Vec<u8>>
buffers through a #[pointer_escapes] binding, and times that against reading
into calloc'd buffers and copying. Both are verified against the file first.

  --file PATH      read this regular file instead of a generated 2 MiB one
  --buf-size SIZE  one buffer size instead of 64 B and 4 KiB (4096, 64K...)
  --rounds N       readv calls timed per row (default 20000)
  --help           this text

Figures from a debug build (plain `cargo run`) say little: add --release.";

struct Options {
    file: Option<PathBuf>,
    buf_sizes: Vec<usize>,
    rounds: u64,
}

fn parse_options() -> Result<Option<Options>, Failure> {
    let mut opts = Options {
        file: None,
        buf_sizes: vec![64, 4096],
        rounds: 20_000,
    };
    let mut args = support::Args::from_env();
    while let Some(flag) = args.next_flag()? {
        match flag.as_str() {
            "--file" => opts.file = Some(PathBuf::from(args.value(&flag)?)),
            "--buf-size" => match args.size(&flag)? {
                0 => return Err(Failure::Usage("--buf-size must be at least 1 byte".into())),
                n => opts.buf_sizes = vec![n],
            },
            "--rounds" => opts.rounds = args.count(&flag)? as u64,
            "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            _ => return Err(Failure::Usage(format!("unknown option `{flag}`"))),
        }
    }
    Ok(Some(opts))
}

fn main() -> ExitCode {
    support::exit_status("readv", run())
}

fn run() -> Result<(), Failure> {
    let Some(opts) = parse_options()? else {
        return Ok(());
    };
    // Kept alive (and removed at the end) when the file is generated.
    let scratch;
    let path = match &opts.file {
        Some(path) => path.clone(),
        None => {
            scratch = support::ScratchDir::new("readv")?;
            let path = scratch.file("input.bin");
            std::fs::write(&path, support::pattern(2 << 20, 0x4ead))?;
            path
        }
    };
    let file = File::open(&path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() == 0 {
        return Err(Failure::Usage(format!(
            "{}: not a non-empty regular file",
            path.display()
        )));
    }
    let expected = std::fs::read(&path)?;
    println!(
        "readv: {IOVECS} iovecs per call from {} ({}); {} calls per row, fastest of 10 blocks shown; {} build, \
         {}",
        path.display(),
        support::human_bytes(expected.len()),
        opts.rounds,
        support::build_profile(),
        support::check_summary()
    );

    let fd = file.as_raw_fd();
    let mut rows = Vec::new();
    for &size in &opts.buf_sizes {
        let mut reader = Reader::new(fd, size)?;
        for method in [Method::ZeroCopy, Method::Copying] {
            let got = reader.read_whole_file(method)?;
            if got != expected {
                return Err(fail(format!(
                    "{} read at {size}-byte buffers differs from the file at byte {:?}",
                    method.name(),
                    support::first_difference(&got, &expected)
                )));
            }
        }
        rows.extend(reader.time(opts.rounds)?);
    }
    println!("verified: both methods read the file byte for byte at every buffer size");
    support::print_measurements(&rows);
    let pins = if support::call_pins_on() {
        format!(
            "each zero-copy call also pins and unpins its {} regions (the array and each \
             buffer) for the checker",
            IOVECS + 1
        )
    } else {
        "the annotated call costs one branch".to_string()
    };
    if cfg!(debug_assertions) {
        println!(
            "(debug build: unoptimised code, and {pins}; for figures that mean something: \
             `cargo run --release --example readv`)"
        );
    } else {
        println!("({pins})");
    }
    show_checker(fd, opts.buf_sizes[0])?;
    println!("ok");
    Ok(())
}

#[derive(Clone, Copy)]
enum Method {
    /// readv straight into the `Vec`s through the annotated binding.
    ZeroCopy,
    /// readv into calloc'd buffers, then copy into the `Vec`s.
    Copying,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::ZeroCopy => "zero-copy",
            Method::Copying => "copying",
        }
    }
}

/// Buffers of one size for both methods, and the descriptor they read.
struct Reader {
    fd: c_int,
    bufs: Vec<Vec<u8>>,
    /// Entries pointing into `bufs`; `bufs` is never resized while they live.
    iov: Vec<libc::iovec>,
    bounce: MallocBufs,
    bounce_iov: Vec<libc::iovec>,
    per_call: usize,
}

impl Reader {
    fn new(fd: c_int, size: usize) -> io::Result<Reader> {
        let mut bufs: Vec<Vec<u8>> = (0..IOVECS).map(|_| vec![0u8; size]).collect();
        let iov = bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        let bounce = MallocBufs::new(IOVECS, size)?;
        let bounce_iov = bounce.iovecs();
        Ok(Reader {
            fd,
            bufs,
            iov,
            bounce,
            bounce_iov,
            per_call: size * IOVECS,
        })
    }

    /// One readv call by `method`: the bytes read, now in `self.bufs`.
    fn call(&mut self, method: Method) -> io::Result<usize> {
        loop {
            let n = match method {
                // SAFETY: `iov` holds IOVECS entries, each describing a live
                // Vec buffer of `iov_len` bytes that nothing else uses now.
                Method::ZeroCopy => unsafe { readv(self.fd, self.iov.as_ptr(), IOVECS as c_int) },
                // SAFETY: `bounce_iov` describes the calloc'd buffers, C
                // memory that lives as long as `self.bounce`.
                Method::Copying => unsafe {
                    libc::readv(self.fd, self.bounce_iov.as_ptr(), IOVECS as c_int)
                },
            };
            let Ok(n) = usize::try_from(n) else {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            };
            if let Method::Copying = method {
                let mut left = n;
                for (i, buf) in self.bufs.iter_mut().enumerate() {
                    let k = left.min(buf.len());
                    buf[..k].copy_from_slice(&self.bounce.get(i)[..k]);
                    left -= k;
                }
            }
            return Ok(n);
        }
    }

    fn rewind(&self) -> io::Result<()> {
        // SAFETY: lseek on a descriptor we hold open.
        if unsafe { libc::lseek(self.fd, 0, libc::SEEK_SET) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Reads the file from the start to the end by `method`.
    fn read_whole_file(&mut self, method: Method) -> io::Result<Vec<u8>> {
        self.rewind()?;
        let mut out = Vec::new();
        loop {
            let n = self.call(method)?;
            if n == 0 {
                return Ok(out);
            }
            let mut left = n;
            for buf in &self.bufs {
                let k = left.min(buf.len());
                out.extend_from_slice(&buf[..k]);
                left -= k;
            }
        }
    }

    /// Times `rounds` calls of each method, starting over at the end of
    /// the file.
    fn time(&mut self, rounds: u64) -> io::Result<[Measurement; 2]> {
        self.rewind()?;
        let methods = [Method::ZeroCopy, Method::Copying].map(|m| (m, m.name()));
        support::time_alternating(methods, self.per_call / IOVECS, rounds, |method| {
            let n = self.call(method)?;
            if n < self.per_call {
                self.rewind()?;
            }
            Ok(n)
        })
    }
}

/// Calls the binding that pins only the array with buffers nobody pinned,
/// and shows the checker's answer.
fn show_checker(fd: c_int, size: usize) -> Result<(), Failure> {
    if cfg!(pointer_escapes_unchecked) {
        println!("checker: compiled out (cfg `pointer_escapes_unchecked`)");
        return Ok(());
    }
    if check_mode() == CheckMode::Off {
        println!("checker: off in this run (release build or POINTER_ESCAPES_CHECK=0); POINTER_ESCAPES_CHECK=1 turns it on");
        return Ok(());
    }
    let mut bufs: Vec<Vec<u8>> = (0..4).map(|_| vec![0u8; size]).collect();
    let iov: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    // The panic is the expected outcome: keep the default hook quiet.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(|| {
        // SAFETY: `iov` describes four live Vec buffers.
        unsafe { readv_array_only(fd, iov.as_ptr(), iov.len() as c_int) }
    });
    std::panic::set_hook(hook);
    match outcome {
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            println!(
                "checker: the binding without #[flow_through], handed buffers nobody pinned, \
                 refused the call:\n  {message}"
            );
            Ok(())
        }
        Ok(n) => Err(fail(format!(
            "the checker let readv_array_only run with unpinned buffers (it returned {n})"
        ))),
    }
}
