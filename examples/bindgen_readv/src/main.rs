//! readv(2)/writev(2) through bindings that bindgen generated in `build.rs`
//! and pointer-escapes-bindgen annotated: no hand-written wrapper.
//!
//! `build.rs` runs bindgen on `<sys/uio.h>` with the table
//! `("readv", "__iovec", "flow_through, len = __count")` (and the same for
//! `writev`), plus `("iovec", "iov_base", "bytes = self.iov_len")` for the
//! derive. Each call through `uio::writev` / `uio::readv` then pins the
//! iovec array and every buffer it describes, and unpins them when C
//! returns. The program writes four `Vec<u8>` buffers into a pipe with one
//! `writev`, reads them back into four others with one `readv`, and checks
//! the bytes.
//!
//! Then `preadv`, bound with `len = __count` but no `flow_through`, reads a
//! file into buffers a `Pinner` pinned: the checker follows each iovec and
//! finds them pinned. With `--bug` the `Pinner` is left out, and the call is
//! refused before it reaches C, naming `__iovec[0].iov_base`. The program
//! prints the message and exits 0 (the bug was caught).
//!
//! ```text
//! cargo run -p bindgen-readv [-- --bug]
//! ```

use bindgen_readv::uio;
use pointer_escapes::{check_mode, is_pinned, set_check_mode, CheckMode, Pinner};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::raw::c_int;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut bug = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--bug" => bug = true,
            "--help" => {
                println!("usage: bindgen-readv [--bug]\n  --bug  call preadv with buffers nobody pinned: the checker refuses it");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("unknown argument `{other}` (try --help)");
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "bindgen-readv ({} build)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    match run(bug) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bindgen-readv: {message}");
            ExitCode::FAILURE
        }
    }
}

fn iovecs(bufs: &mut [Vec<u8>]) -> Vec<uio::iovec> {
    bufs.iter_mut()
        .map(|b| uio::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect()
}

fn run(bug: bool) -> Result<(), String> {
    // writev + readv through a pipe.
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    let [read_fd, write_fd] = fds;
    let mut sent: Vec<Vec<u8>> = (0..4u8).map(|i| vec![b'a' + i; 64 << i]).collect();
    let total: usize = sent.iter().map(Vec::len).sum();
    let iov = iovecs(&mut sent);
    // SAFETY: `iov` describes four live buffers; the wrapper pins the array
    // and, through `flow_through`, each buffer for the call.
    let written = unsafe { uio::writev(write_fd, iov.as_ptr(), iov.len() as c_int) };
    if written != total as isize {
        return Err(format!("writev wrote {written} of {total} bytes"));
    }
    let mut received: Vec<Vec<u8>> = sent.iter().map(|b| vec![0u8; b.len()]).collect();
    let iov = iovecs(&mut received);
    // SAFETY: as above, four writable buffers.
    let read = unsafe { uio::readv(read_fd, iov.as_ptr(), iov.len() as c_int) };
    if read != total as isize || received != sent {
        return Err(format!(
            "readv read {read} of {total} bytes, or other bytes than were written"
        ));
    }
    if sent.iter().chain(&received).any(|b| is_pinned(b.as_ptr())) {
        return Err("a buffer is still pinned after the call".to_owned());
    }
    println!("writev + readv: {total} bytes in 4 buffers through a pipe, each buffer pinned for each call and released after");
    // SAFETY: both descriptors are ours and closed once.
    unsafe {
        libc::close(read_fd);
        libc::close(write_fd);
    }

    // preadv: the binding checks, but does not pin, what the iovecs point to.
    let path = std::env::temp_dir().join(format!("bindgen-readv-{}", std::process::id()));
    let mut file =
        std::fs::File::create(&path).map_err(|e| format!("create {}: {e}", path.display()))?;
    file.write_all(&[7u8; 96]).map_err(|e| e.to_string())?;
    let file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&path);
    let mut bufs = vec![vec![0u8; 32]; 3];
    if !bug {
        let iov = iovecs(&mut bufs);
        let n = {
            let mut pinner = Pinner::new();
            for b in &bufs {
                pinner.pin_slice(b);
            }
            // SAFETY: three writable buffers, pinned by `pinner` for the call.
            unsafe { uio::preadv(file.as_raw_fd(), iov.as_ptr(), 3, 0) }
        };
        if n != 96 || bufs.iter().any(|b| b != &[7u8; 32]) {
            return Err(format!("preadv read {n} bytes, expected 96 sevens"));
        }
        println!("preadv: 96 bytes into 3 buffers a Pinner pinned; the checker followed each iovec and let it through");
        return Ok(());
    }
    if cfg!(pointer_escapes_unchecked) {
        println!("checker: compiled out (cfg `pointer_escapes_unchecked`)");
        return Ok(());
    }
    if check_mode() == CheckMode::Off {
        println!("checker: off by default in a release build; --bug turns CheckMode::Args on");
        set_check_mode(CheckMode::Args);
    }
    let iov = iovecs(&mut bufs);
    // The panic is the expected outcome: keep the default hook quiet.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(|| {
        // SAFETY: three writable buffers (which nobody pinned: the bug).
        unsafe { uio::preadv(file.as_raw_fd(), iov.as_ptr(), 3, 0) }
    });
    std::panic::set_hook(hook);
    match outcome {
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            println!("--bug: preadv with buffers nobody pinned was refused before it reached C:\n  {message}");
            Ok(())
        }
        Ok(n) => Err(format!(
            "the checker let preadv run with unpinned buffers (it returned {n})"
        )),
    }
}
