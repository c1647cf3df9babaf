//! The library's own buffers never produce allocator events (soundness
//! issue, input 12): a large call pin that covers the heap where the
//! checker's scratch and the call's region list live must not make their
//! growth show up as "moved while pinned" (blamed on the user's pin, and
//! fatal under `PINGUARD=abort`). They are allocated from `System`.

#[global_allocator]
static ALLOC: PinAwareAlloc = PinAwareAlloc::system();

use pointer_escapes::{
    pointer_escapes, set_check_mode, snapshot, CheckMode, PinAwareAlloc, Pinner,
};

/// C that takes a large extent of memory and an array of buffers.
#[pointer_escapes]
unsafe fn take(
    #[escapes(bytes = span)] base: *const u8,
    span: usize,
    #[flow_through] bufs: &[Vec<Vec<u8>>],
) -> usize {
    let _ = base;
    bufs.len()
}

#[test]
fn the_library_s_own_buffers_are_not_reported_as_pinned_blocks() {
    set_check_mode(CheckMode::Args);
    // Many referents, two levels deep: the region list spills and the
    // checker's scratch grows, on a fresh thread whose scratch is empty.
    let bufs: Vec<Vec<Vec<u8>>> = (0..64).map(|_| vec![vec![0u8; 8]; 32]).collect();
    let mut pinner = Pinner::new();
    for outer in &bufs {
        for inner in outer {
            pinner.pin_slice(inner);
        }
    }
    let events = || {
        let snap = snapshot();
        snap.freed_while_pinned + snap.moved_while_pinned
    };
    let events_before = events();
    std::thread::scope(|s| {
        s.spawn(|| {
            // A region around the heap block of a fresh allocation: the
            // thread's own allocations made during the call land in it.
            let probe = Box::new(0u8);
            let centre = &*probe as *const u8 as usize;
            let base = centre.saturating_sub(1 << 30) as *const u8;
            // SAFETY: the extent is only recorded and pinned, never read;
            // the pin ends with the call.
            let n = unsafe { take(base, 2 << 30, &bufs) };
            assert_eq!(n, 64);
        });
    });
    assert_eq!(
        events(),
        events_before,
        "the library's own buffers were reported:\n{}",
        snapshot()
    );
}
