//! Writes the library's diagnostics to stderr. Never panics, and never
//! allocates through the global allocator, so it may run anywhere: inside
//! `dealloc`, in a destructor during unwinding, in an `atexit` handler.
//!
//! Why not `eprintln!`: it panics when the write fails (a closed stderr
//! gives `EPIPE`), and a panic while unwinding aborts the process. A
//! diagnostic is worth less than the program it describes, so a failed write
//! is dropped here. Everything is formatted into a fixed stack buffer and
//! handed to `write(2)` directly, retrying partial writes and `EINTR`.

use core::fmt::{self, Write as _};

/// Formats `args` into a line on the stack and writes it to stderr (the
/// caller's text ends with `\n` when it wants one). Text past the line's
/// capacity is cut off; a failed write is ignored.
pub(crate) fn line(args: fmt::Arguments<'_>) {
    let mut line = StackLine::new();
    let _ = line.write_fmt(args);
    write_stderr(line.as_bytes());
}

/// Writes `args` to stderr however long the text is, one stack buffer at a
/// time (for the exit report, a table of any length). Errors are ignored.
pub(crate) fn text(args: fmt::Arguments<'_>) {
    chunked(args, write_stderr);
}

/// Formats `args` through one stack buffer, handing each full buffer and
/// then the rest to `flush`.
fn chunked(args: fmt::Arguments<'_>, flush: impl FnMut(&[u8])) {
    let mut out = Chunked {
        line: StackLine::new(),
        flush,
    };
    let _ = out.write_fmt(args);
    (out.flush)(out.line.as_bytes());
}

/// Writes all of `bytes` to fd 2, retrying after a partial write or
/// `EINTR`, giving up silently on any other error (a closed or full pipe, a
/// bad descriptor).
pub(crate) fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is an initialised buffer we borrow for the call.
        let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            // `n <= bytes.len()` by write(2)'s contract; `get` keeps a
            // misbehaving libc from turning that into a panic.
            bytes = bytes.get(n as usize..).unwrap_or(&[]);
        } else if n < 0 && last_errno() == libc::EINTR {
            continue;
        } else {
            return;
        }
    }
}

/// `errno` of the failed `write`: an `io::Error` of the OS kind holds the
/// number and allocates nothing.
fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

const LINE_BYTES: usize = 768;

/// Text formatted on the stack, cut off at its capacity.
pub(crate) struct StackLine {
    buf: [u8; LINE_BYTES],
    len: usize,
}

impl StackLine {
    pub(crate) const fn new() -> StackLine {
        StackLine {
            buf: [0; LINE_BYTES],
            len: 0,
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Appends as much of `s` as fits; returns how many bytes were taken.
    fn push(&mut self, s: &[u8]) -> usize {
        let room = LINE_BYTES - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
        n
    }
}

impl fmt::Write for StackLine {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Cut off, not an error: an error would stop the formatting of the
        // part that did fit only to say nothing more.
        self.push(s.as_bytes());
        Ok(())
    }
}

/// A `StackLine` that is flushed whenever it fills up.
struct Chunked<F: FnMut(&[u8])> {
    line: StackLine,
    flush: F,
}

impl<F: FnMut(&[u8])> fmt::Write for Chunked<F> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s.as_bytes();
        loop {
            let taken = self.line.push(rest);
            rest = &rest[taken..];
            if rest.is_empty() {
                return Ok(());
            }
            (self.flush)(self.line.as_bytes());
            self.line.len = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_cut_at_its_capacity_without_failing() {
        let mut line = StackLine::new();
        let long = "x".repeat(LINE_BYTES + 100);
        assert!(write!(line, "{long}").is_ok());
        assert_eq!(line.as_bytes().len(), LINE_BYTES);
    }

    #[test]
    fn chunked_text_keeps_every_byte_in_order() {
        let rows: String = (0..200).map(|i| format!("row {i}\n")).collect();
        let mut out = Vec::new();
        let mut flushes = 0;
        chunked(format_args!("{rows}"), |bytes| {
            flushes += 1;
            out.extend_from_slice(bytes);
        });
        assert_eq!(out, rows.as_bytes());
        assert!(flushes > 1, "the text fitted one buffer: test a longer one");
    }
}
