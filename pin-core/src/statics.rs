//! Static memory: the loaded segments of the executable and its shared
//! libraries (string literals, `static`s, code). Go treats non-heap memory as
//! always pinned; so do we.
//!
//! The segments are read once (merged into one range per object) with `dl_iterate_phdr` into a fixed table (no
//! allocation), so the answer is a few comparisons. Libraries loaded later
//! with `dlopen` are not seen; their statics count as unpinned.

use std::sync::OnceLock;

/// How many loaded segments are remembered; more are merged into the last.
const MAX_SEGMENTS: usize = 64;

struct Segments {
    ranges: [(usize, usize); MAX_SEGMENTS],
    len: usize,
}

static SEGMENTS: OnceLock<Segments> = OnceLock::new();

fn segments() -> &'static Segments {
    SEGMENTS.get_or_init(read_segments)
}

/// Under Miri `dl_iterate_phdr` is foreign code it cannot run: no memory
/// counts as static there, so tests that need static memory are skipped
/// under Miri (listed in `scripts/miri.sh`), and the rest see only pins.
#[cfg(miri)]
fn read_segments() -> Segments {
    Segments {
        ranges: [(0, 0); MAX_SEGMENTS],
        len: 0,
    }
}

#[cfg(not(miri))]
fn read_segments() -> Segments {
    let mut segs = Segments {
        ranges: [(0, 0); MAX_SEGMENTS],
        len: 0,
    };
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: `data` is the `&mut Segments` passed below, alive for the
        // whole dl_iterate_phdr call; `info` is valid for this callback.
        let (segs, info) = unsafe { (&mut *(data as *mut Segments), &*info) };
        // One range per loaded object, from its lowest to its highest
        // PT_LOAD end: the gaps between one object's segments are unmapped
        // or guard pages, never heap, and fewer ranges make lookups cheap.
        let (mut lo, mut hi) = (usize::MAX, 0usize);
        for i in 0..info.dlpi_phnum as usize {
            // SAFETY: dlpi_phdr points at dlpi_phnum program headers.
            let ph = unsafe { &*info.dlpi_phdr.add(i) };
            if ph.p_type != libc::PT_LOAD || ph.p_memsz == 0 {
                continue;
            }
            let start = (info.dlpi_addr as usize).wrapping_add(ph.p_vaddr as usize);
            lo = lo.min(start);
            hi = hi.max(start.saturating_add(ph.p_memsz as usize));
        }
        if lo < hi {
            segs.push(lo, hi);
        }
        0
    }
    // SAFETY: the callback only reads the headers it is given and writes to
    // `segs`, which outlives the call.
    unsafe {
        libc::dl_iterate_phdr(Some(each), &mut segs as *mut Segments as *mut libc::c_void);
    }
    segs.ranges[..segs.len].sort_unstable();
    segs
}

impl Segments {
    #[cfg_attr(miri, allow(dead_code))]
    fn push(&mut self, start: usize, end: usize) {
        if self.len < MAX_SEGMENTS {
            self.ranges[self.len] = (start, end);
            self.len += 1;
        } else {
            let last = &mut self.ranges[MAX_SEGMENTS - 1];
            last.0 = last.0.min(start);
            last.1 = last.1.max(end);
        }
    }

    fn containing(&self, addr: usize) -> Option<(usize, usize)> {
        let ranges = &self.ranges[..self.len];
        // Last segment starting at or before addr.
        let idx = ranges.partition_point(|&(start, _)| start <= addr);
        let &(start, end) = ranges.get(idx.checked_sub(1)?)?;
        (addr < end).then_some((start, end))
    }
}

/// Reads the segments now if no thread has yet (the registry's fork
/// handler: the child must not inherit the `OnceLock` half filled in).
#[cfg_attr(miri, allow(dead_code))]
pub(crate) fn read_now() {
    segments();
}

/// The static segment holding `addr`, as `(start, end)`.
pub(crate) fn segment_containing(addr: usize) -> Option<(usize, usize)> {
    if addr == 0 {
        return None;
    }
    segments().containing(addr)
}

/// Whether `addr` is in static memory.
pub(crate) fn is_static(addr: usize) -> bool {
    segment_containing(addr).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    static COUNTER: u64 = 7;

    #[test]
    #[cfg_attr(miri, ignore = "dl_iterate_phdr is FFI")]
    fn literals_and_statics_are_static_heap_and_stack_are_not() {
        assert!(is_static("a literal".as_ptr() as usize));
        assert!(is_static(&COUNTER as *const u64 as usize));
        let heap = Box::new(5u64);
        assert!(!is_static(&*heap as *const u64 as usize));
        let local = 3u64;
        assert!(!is_static(&local as *const u64 as usize));
        assert!(!is_static(0));
    }
}
