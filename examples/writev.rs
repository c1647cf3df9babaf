//! Zero-copy `writev(2)` from `Vec<Vec<u8>>` buffers through an annotated
//! `extern "C"` block, verified by reading the file back.
//!
//! `writev(fd, iov, iovcnt)` gathers the buffers described by an array of
//! `iovec`s. The kernel follows every entry's `iov_base` during the call, so
//! the array and every buffer it points to must stay where they are until it
//! returns. Here the binding is the declaration itself: `#[pointer_escapes]`
//! on the `extern "C"` block hides the raw import and puts in its place an
//! `unsafe fn writev` with the same signature that pins the `iovcnt` entries
//! and each entry's buffer (`#[flow_through]`), checks them in checked mode
//! and unpins them when the call returns, as every cgo call does. The
//! `readv` example shows the same annotation on a wrapper function instead.
//!
//! The program writes a generated data set with 16 iovecs per call, straight
//! from the `Vec`s, and again through a bounce buffer (copy into `calloc`'d
//! C memory, then `writev`), reads both files back and compares them with the
//! data, then times both ways at 64 B and 4 KiB per buffer. `cargo run`
//! makes a debug build, whose figures say little; add `--release` to measure.
//!
//! ```text
//! cargo run --example writev [-- --size SIZE --buf-size SIZE --rounds N]
//! ```

#![deny(unsafe_op_in_unsafe_fn)]

#[path = "support/mod.rs"]
mod support;

use pointer_escapes::pointer_escapes;
use std::fs::File;
use std::io::{self, Write as _};
use std::os::fd::AsRawFd;
use std::os::raw::c_int;
use std::process::ExitCode;
use support::{fail, Failure, MallocBufs, Measurement};

#[pointer_escapes]
unsafe extern "C" {
    /// writev(2): the kernel follows each iovec's `iov_base`, so the array
    /// and every buffer it points to stay pinned for the call.
    fn writev(
        fd: c_int,
        #[flow_through]
        #[escapes(len = iovcnt)]
        iov: *const libc::iovec,
        iovcnt: c_int,
    ) -> isize;
}

/// iovecs per call.
const IOVECS: usize = 16;

const USAGE: &str = "\
usage: writev [--size SIZE] [--buf-size SIZE] [--rounds N]

Writes generated data to a file with writev(2), 16 iovecs per call, straight
from Vec<Vec<u8>> buffers through a #[pointer_escapes] extern block, and
through calloc'd buffers it copies into; reads both files back to verify,
then times both.

  --size SIZE      bytes of data written and verified (default 2 MiB)
  --buf-size SIZE  one buffer size instead of 64 B and 4 KiB (4096, 64K...)
  --rounds N       writev calls timed per row (default 20000)
  --help           this text

Figures from a debug build (plain `cargo run`) say little: add --release.";

struct Options {
    size: usize,
    buf_sizes: Vec<usize>,
    rounds: u64,
}

fn parse_options() -> Result<Option<Options>, Failure> {
    let mut opts = Options {
        size: 2 << 20,
        buf_sizes: vec![64, 4096],
        rounds: 20_000,
    };
    let mut args = support::Args::from_env();
    while let Some(flag) = args.next_flag()? {
        match flag.as_str() {
            "--size" => opts.size = args.size(&flag)?,
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
    support::exit_status("writev", run())
}

#[derive(Clone, Copy)]
enum Method {
    /// writev straight from the `Vec`s through the annotated block.
    ZeroCopy,
    /// Copy the `Vec`s into calloc'd buffers, then writev those.
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

fn run() -> Result<(), Failure> {
    let Some(opts) = parse_options()? else {
        return Ok(());
    };
    let dir = support::ScratchDir::new("writev")?;
    let data = support::pattern(opts.size, 0x3_17e5);
    println!(
        "writev: {} of data, {IOVECS} iovecs per call; {} calls per row, fastest of 10 blocks shown; {} build, \
         {}",
        support::human_bytes(data.len()),
        opts.rounds,
        support::build_profile(),
        support::check_summary()
    );

    let mut rows = Vec::new();
    for &size in &opts.buf_sizes {
        // The data as the Vec<Vec<u8>> a program would hold.
        let chunks: Vec<Vec<u8>> = data.chunks(size).map(<[u8]>::to_vec).collect();
        let mut bounce = MallocBufs::new(IOVECS, size)?;
        for method in [Method::ZeroCopy, Method::Copying] {
            let path = dir.file(&format!("{}-{size}.bin", method.name()));
            let file = File::create(&path)?;
            for group in chunks.chunks(IOVECS) {
                write_group(&file, group, &mut bounce, method)?;
            }
            drop(file);
            let back = std::fs::read(&path)?;
            if back != data {
                return Err(fail(format!(
                    "{} write at {size}-byte buffers: the file differs from the data at byte {:?}",
                    method.name(),
                    support::first_difference(&back, &data)
                )));
            }
        }
        let timed_path = dir.file("timed.bin");
        let file = File::create(&timed_path)?;
        let group: Vec<Vec<u8>> = (0..IOVECS as u64)
            .map(|i| support::pattern(size, i))
            .collect();
        rows.extend(time(
            file.as_raw_fd(),
            &group,
            &mut bounce,
            opts.rounds,
            opts.size,
        )?);
    }
    println!("verified: both methods wrote the data byte for byte at every buffer size");
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
             `cargo run --release --example writev`)"
        );
    } else {
        println!("({pins})");
    }
    println!("ok");
    Ok(())
}

/// `iovec`s describing `group`'s buffers (read only by the kernel).
fn iovecs_of(group: &[Vec<u8>]) -> Vec<libc::iovec> {
    group
        .iter()
        .map(|b| libc::iovec {
            iov_base: b.as_ptr().cast_mut().cast(),
            iov_len: b.len(),
        })
        .collect()
}

/// One writev call of `iov` by `method`; `group` is the data behind it.
fn write_once(
    fd: c_int,
    iov: &[libc::iovec],
    group: &[Vec<u8>],
    bounce: &mut MallocBufs,
    method: Method,
) -> io::Result<usize> {
    let count = c_int::try_from(iov.len()).map_err(|_| io::Error::other("too many iovecs"))?;
    let n = match method {
        // SAFETY: `iov` holds `count` entries describing live buffers of
        // `group`, which nothing mutates during the call.
        Method::ZeroCopy => unsafe { writev(fd, iov.as_ptr(), count) },
        Method::Copying => {
            for (i, buf) in group.iter().enumerate() {
                bounce.get_mut(i)[..buf.len()].copy_from_slice(buf);
            }
            let bounce_iov: Vec<libc::iovec> = bounce
                .iovecs()
                .into_iter()
                .zip(group)
                .map(|(mut v, b)| {
                    v.iov_len = b.len();
                    v
                })
                .collect();
            // SAFETY: the entries describe calloc'd C memory owned by
            // `bounce`, which outlives the call.
            unsafe { libc::writev(fd, bounce_iov.as_ptr(), count) }
        }
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Writes all of `group` (at most IOVECS buffers) by `method`.
fn write_group(
    file: &File,
    group: &[Vec<u8>],
    bounce: &mut MallocBufs,
    method: Method,
) -> io::Result<()> {
    let total: usize = group.iter().map(Vec::len).sum();
    let written = loop {
        match write_once(file.as_raw_fd(), &iovecs_of(group), group, bounce, method) {
            Ok(0) if total > 0 => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    if written < total {
        // A short write (rare for a regular file): the rest goes out through
        // std, which is not what is being demonstrated.
        let mut out = file;
        out.write_all(&group.concat()[written..])?;
    }
    Ok(())
}

/// Times `rounds` writes of `group` by each method, starting over when the
/// file reaches `limit` bytes so the disk use stays bounded.
fn time(
    fd: c_int,
    group: &[Vec<u8>],
    bounce: &mut MallocBufs,
    rounds: u64,
    limit: usize,
) -> io::Result<[Measurement; 2]> {
    let rewind = || {
        // SAFETY: lseek on a descriptor the caller holds open.
        if unsafe { libc::lseek(fd, 0, libc::SEEK_SET) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    };
    rewind()?;
    let iov = iovecs_of(group);
    let mut offset = 0usize;
    let methods = [Method::ZeroCopy, Method::Copying].map(|m| (m, m.name()));
    let buf_size = group.first().map_or(0, Vec::len);
    support::time_alternating(methods, buf_size, rounds, |method| {
        let n = loop {
            match write_once(fd, &iov, group, bounce, method) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        offset += n;
        if offset >= limit {
            rewind()?;
            offset = 0;
        }
        Ok(n)
    })
}
