//! A file on tmpfs for real `readv(2)` calls: no disk, so a call costs the
//! system call and the copy out of the page cache, which is what the
//! zero-copy comparison is about.

use std::ffi::c_int;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

/// Size of the file: many calls' worth at 4 KiB x 16, so rewinds are rare.
const FILE_SIZE: usize = 8 << 20;

/// A generated file on tmpfs, open for reading, removed when dropped.
pub struct TmpfsFile {
    path: PathBuf,
    file: File,
    /// The file's bytes, to check what a read returned.
    data: Vec<u8>,
}

impl TmpfsFile {
    /// Writes `FILE_SIZE` bytes of a pattern to a new file under /dev/shm
    /// (tmpfs on Linux), or the temporary directory where there is none.
    pub fn new(tag: &str) -> io::Result<TmpfsFile> {
        let shm = PathBuf::from("/dev/shm");
        let dir = if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        };
        let path = dir.join(format!(
            "pointer-escapes-bench-{tag}-{}.bin",
            std::process::id()
        ));
        let data: Vec<u8> = (0..FILE_SIZE)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3])
            .collect();
        std::fs::write(&path, &data)?;
        let file = File::open(&path)?;
        Ok(TmpfsFile { path, file, data })
    }

    /// The descriptor to read.
    pub fn fd(&self) -> c_int {
        self.file.as_raw_fd()
    }

    /// Back to the start of the file.
    pub fn rewind(&self) {
        // SAFETY: lseek on a descriptor we hold open.
        let r = unsafe { libc::lseek(self.fd(), 0, libc::SEEK_SET) };
        assert!(r == 0, "lseek: {}", io::Error::last_os_error());
    }

    /// The file's bytes at `[at, at + len)` (shorter at the end).
    pub fn expected(&self, at: usize, len: usize) -> &[u8] {
        let end = at.saturating_add(len).min(self.data.len());
        &self.data[at.min(end)..end]
    }

    /// Handles what one readv of `want` bytes returned: rewinds at the end
    /// of the file, so the next call reads a full `want` again. Panics on a
    /// failed call (a bench cannot continue after one).
    #[inline]
    pub fn after_read(&self, got: isize, want: usize) -> usize {
        let Ok(got) = usize::try_from(got) else {
            panic!("readv: {}", io::Error::last_os_error());
        };
        if got < want {
            self.rewind();
        }
        got
    }
}

impl Drop for TmpfsFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
