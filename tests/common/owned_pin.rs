//! `OwnedPin`: a pin that owns its buffer from submission to completion,
//! across threads; `into_inner` gives the same buffer back unpinned, and
//! dropping it while pinned keeps the pin and the memory (see
//! `pin-core/src/owned.rs`).

use pointer_escapes::*;
use std::hint::black_box;
use std::sync::mpsc;
use std::thread;

/// `into_inner` returns the very buffer (same address, same contents) and
/// unpins it.
pub fn into_inner_returns_the_same_buffer_unpinned() {
    let owned = OwnedPin::new(vec![3u8; 1000]);
    let p = owned.as_ptr();
    assert_eq!(owned.len(), 1000);
    assert!(!owned.is_empty());
    assert_eq!(owned.region(), Region::new(p, 1000).unwrap());
    assert!(is_region_pinned(p, 1000));
    assert_eq!(pin_count(p), 1);
    let back = owned.into_inner();
    assert_eq!(back.as_ptr(), p, "into_inner gave back another buffer");
    assert!(back.iter().all(|&b| b == 3));
    assert!(!is_pinned(p));
    assert_eq!(pin_count(p), 0);
}

/// Created on one thread, handed to a completion thread, unpinned there; the
/// buffer comes back to the first thread unchanged.
pub fn moved_across_threads_and_unpinned_there() {
    let owned = OwnedPin::new(vec![9u64; 64]);
    let p = owned.as_ptr() as usize;
    let (submit, completions) = mpsc::channel::<OwnedPin<Vec<u64>>>();
    let (reap, reaped) = mpsc::channel();
    let completion_thread = thread::spawn(move || {
        let owned = completions.recv().unwrap();
        assert!(is_pinned(p as *const u8), "pinned on arrival");
        let buf = owned.into_inner();
        assert!(
            !is_pinned(p as *const u8),
            "unpinned on the completion thread"
        );
        reap.send(buf).unwrap();
    });
    submit.send(owned).unwrap();
    let buf = reaped.recv().unwrap();
    completion_thread.join().unwrap();
    assert_eq!(buf.as_ptr() as usize, p);
    assert_eq!(buf, vec![9u64; 64]);
    assert!(!is_pinned(p as *const u8));
}

/// Every `StableBuf`: the pinned region is the storage, whatever the owner.
pub fn every_stable_buffer_kind() {
    let boxed_slice = OwnedPin::new(vec![1u32; 10].into_boxed_slice());
    assert_eq!(boxed_slice.len(), 10);
    assert_eq!(boxed_slice.region().len(), 40);
    assert!(is_region_pinned(boxed_slice.as_ptr(), 40));

    let boxed = OwnedPin::new(Box::new([0u8; 128]));
    assert_eq!(boxed.len(), 1);
    assert_eq!(boxed.region().len(), 128);
    assert!(is_region_pinned(boxed.as_ptr(), 128));

    let string = OwnedPin::new(String::from("hello, C"));
    assert_eq!(string.len(), 8);
    assert!(is_region_pinned(string.as_ptr(), 8));

    let regions = [boxed_slice.region(), boxed.region(), string.region()];
    let back = (
        boxed_slice.into_inner(),
        boxed.into_inner(),
        string.into_inner(),
    );
    assert_eq!(back.2, "hello, C");
    for r in regions {
        assert!(!is_pinned(r.addr() as *const u8), "{r} still pinned");
    }
}

/// What C writes through `as_mut_ptr` while the pin lives is in the buffer
/// `into_inner` returns.
pub fn c_writes_through_as_mut_ptr_are_kept() {
    let mut owned = OwnedPin::new(vec![0u8; 512]);
    let p = owned.as_mut_ptr();
    // SAFETY: `p` points at the 512 pinned bytes the OwnedPin owns; nothing
    // else touches them until `into_inner`.
    unsafe { libc::memset(p.cast(), 0xC3, 512) };
    let mut text = OwnedPin::new(String::from("abc"));
    // SAFETY: writing ASCII keeps the String valid UTF-8.
    unsafe { text.as_mut_ptr().write(b'x') };
    assert_eq!(owned.into_inner(), vec![0xC3u8; 512]);
    assert_eq!(text.into_inner(), "xbc");
}

/// Moving the `OwnedPin` (into a Vec, a Box, another thread) does not move
/// the buffer: the pointer C holds stays valid and pinned.
pub fn moving_the_owned_pin_does_not_move_the_buffer() {
    let first = OwnedPin::new(vec![5u8; 64]);
    let p = first.as_ptr();
    let mut holders = Vec::new();
    holders.push(first);
    let boxed = Box::new(holders.pop().unwrap());
    assert_eq!(boxed.as_ptr(), p);
    assert!(is_region_pinned(p, 64));
    // A raw pointer into pinned memory passes the checker.
    check_referents(&p);
    let back = boxed.into_inner();
    assert_eq!(back.as_ptr(), p);
    assert!(try_check_referents(&p).is_err());
    let small = OwnedPin::new(vec![1u8; 4]);
    let shown = format!("{small:?}");
    assert!(shown.starts_with("OwnedPin") && shown.contains(&small.region().to_string()));
    drop(small.into_inner());
}

/// Dropping an `OwnedPin` whose pointer C may still hold keeps the pin (the
/// report names it and its site) and keeps the memory valid: leaked on the
/// system allocator, quarantined under `PinAwareAlloc` (with a "freed while
/// pinned" event naming the pin).
pub fn dropping_a_pinned_owned_pin_keeps_the_pin_and_the_memory() {
    const LEN: usize = 300;
    let line = line!() + 1;
    let owned = OwnedPin::new(vec![0xA5u8; LEN]);
    let region = owned.region();
    let p = owned.as_ptr();
    drop(owned);

    assert!(
        is_region_pinned(p, LEN),
        "the pin went away with the OwnedPin"
    );
    assert_eq!(pin_count(p), 1);
    let snap = snapshot();
    let entry = snap
        .pins
        .iter()
        .find(|e| e.region == region)
        .expect("the dropped OwnedPin's pin is in the report");
    assert_eq!(entry.kind, PinKind::Owned);
    assert_eq!((entry.site.file(), entry.site.line()), (file!(), line));
    let event = snap.events.iter().find(|e| e.block.addr() == region.addr());
    if snap.allocator_installed {
        let event = event.expect("PinAwareAlloc recorded the free");
        assert_eq!(event.kind, AllocEventKind::FreedWhilePinned);
        assert_eq!(event.pin_kind, PinKind::Owned);
        assert_eq!(event.pin_site.line(), line);
    } else {
        assert!(event.is_none(), "an event without PinAwareAlloc");
    }

    // C still holds `p`: the memory is still there, untouched, and writable.
    // `black_box` keeps the optimiser from reasoning about the dropped Vec.
    let c_view = black_box(p as usize) as *mut u8;
    for i in 0..LEN {
        // SAFETY: the block was leaked or quarantined, never freed: it stays
        // allocated for the rest of the process.
        assert_eq!(unsafe { c_view.add(i).read_volatile() }, 0xA5, "byte {i}");
    }
    // SAFETY: as above.
    unsafe { libc::memset(c_view.cast(), 0x5A, LEN) };
    // SAFETY: as above.
    assert_eq!(unsafe { c_view.add(LEN - 1).read_volatile() }, 0x5A);
}

/// A `Vec` is pinned over its capacity, not its length: the read-buffer
/// shape `Vec::with_capacity(n)` has `n` elements pinned for C to fill
/// (tokio-uring's `bytes_total`), `len()` stays the initialised length and
/// `set_len` records what C wrote.
pub fn a_vec_is_pinned_over_its_capacity() {
    let mut read_buf = OwnedPin::new(Vec::<u8>::with_capacity(4096));
    assert_eq!((read_buf.len(), read_buf.capacity()), (0, 4096));
    assert!(read_buf.is_empty());
    let p = read_buf.as_mut_ptr();
    assert_eq!(read_buf.region(), Region::new(p, 4096).unwrap());
    assert!(is_region_pinned(p, 4096), "the capacity is not pinned");
    // C's read(fd, p, 4096) returned 300.
    // SAFETY: `p` points at the 4096 pinned bytes the OwnedPin owns.
    unsafe { p.write_bytes(0x3C, 300) };
    // SAFETY: the first 300 bytes were written just above.
    unsafe { read_buf.set_len(300) };
    assert_eq!(read_buf.len(), 300);
    assert!(is_region_pinned(p, 4096), "set_len changed the pin");
    let back = read_buf.into_inner();
    assert_eq!((back.len(), back.capacity()), (300, 4096));
    assert!(back.iter().all(|&b| b == 0x3C));
    assert!(!is_pinned(p));

    // Elements, not bytes: 16 u64 of capacity are 128 pinned bytes.
    let words = OwnedPin::new(Vec::<u64>::with_capacity(16));
    assert_eq!(words.region().len(), 128);
    drop(words.into_inner());
    // A String's capacity too.
    let text = OwnedPin::new(String::with_capacity(64));
    assert_eq!(
        (text.len(), text.capacity(), text.region().len()),
        (0, 64, 64)
    );
    drop(text.into_inner());
}

/// `set_len` never claims more than the pinned storage: past the capacity
/// it panics, and the pin is still released by `into_inner`.
pub fn set_len_never_exceeds_the_pinned_capacity() {
    let mut buf = OwnedPin::new(Vec::<u32>::with_capacity(8));
    let p = buf.as_ptr();
    let msg = crate::common::panics::panic_message(|| {
        // SAFETY: refused before it could claim anything.
        unsafe { buf.set_len(9) }
    });
    crate::common::panics::assert_mentions(
        &msg,
        &["OwnedPin::set_len(9)", "pinned capacity of 8 elements"],
    );
    assert_eq!(buf.len(), 0);
    drop(buf.into_inner());
    assert!(!is_pinned(p));
}

/// C strings and boxed strs are stable buffers: a `CString` (or
/// `Box<CStr>`) pins its bytes including the NUL, which is what C reads; a
/// `Box<str>` its bytes.
pub fn c_strings_and_boxed_strs_are_stable_buffers() {
    use std::ffi::{CStr, CString};
    let body = OwnedPin::new(CString::new("a=1&b=2").unwrap());
    let p: *const std::ffi::c_char = body.as_ptr();
    assert_eq!((body.len(), body.region().len()), (8, 8));
    assert!(is_region_pinned(p, 8), "the NUL is not pinned");
    // SAFETY: `p` is the pinned, NUL-terminated string the OwnedPin owns.
    assert_eq!(unsafe { CStr::from_ptr(p) }.to_bytes(), b"a=1&b=2");

    let boxed: Box<CStr> = CString::new("key").unwrap().into_boxed_c_str();
    let boxed = OwnedPin::new(boxed);
    assert_eq!(boxed.region().len(), 4);
    assert!(is_region_pinned(boxed.as_ptr(), 4));

    let mut name = OwnedPin::new(Box::<str>::from("name"));
    assert_eq!((name.len(), name.region().len()), (4, 4));
    // SAFETY: ASCII keeps the str valid UTF-8.
    unsafe { name.as_mut_ptr().write(b'N') };

    let regions = [body.region(), boxed.region(), name.region()];
    assert_eq!(body.into_inner().as_bytes(), b"a=1&b=2");
    assert_eq!(boxed.into_inner().to_bytes(), b"key");
    assert_eq!(&*name.into_inner(), "Name");
    for r in regions {
        assert!(!is_pinned(r.addr() as *const u8), "{r} still pinned");
    }
}

/// A copy-on-write buffer that clones its shared storage in
/// `stable_mut_ptr` breaks `StableBufMut`'s contract: `as_mut_ptr` refuses
/// to hand C the unpinned clone (panicking with the contract), and the
/// `OwnedPin` still unpins cleanly.
pub fn storage_moved_by_stable_mut_ptr_is_never_handed_to_c() {
    use std::sync::Arc;
    struct CowBuf(Arc<Vec<u8>>);
    // SAFETY: deliberately broken: `stable_mut_ptr` clones the storage when
    // it is shared. The shared storage itself stays alive (the other `Arc`)
    // for as long as the test looks at it.
    unsafe impl StableBuf for CowBuf {
        type Elem = u8;
        fn stable_ptr(&self) -> *const u8 {
            self.0.as_ptr()
        }
        fn stable_len(&self) -> usize {
            self.0.len()
        }
    }
    // SAFETY: deliberately broken, see above.
    unsafe impl StableBufMut for CowBuf {
        fn stable_mut_ptr(&mut self) -> *mut u8 {
            Arc::make_mut(&mut self.0).as_mut_ptr()
        }
    }

    let shared = Arc::new(vec![1u8; 64]);
    let line = line!() + 1;
    let mut owned = OwnedPin::new(CowBuf(Arc::clone(&shared)));
    let pinned = owned.region();
    let msg = crate::common::panics::panic_message(|| owned.as_mut_ptr());
    crate::common::panics::assert_mentions(
        &msg,
        &[
            "StableBuf's contract forbids",
            "stable_mut_ptr may move the storage",
            "CowBuf",
            &format!("{}:{line}:", file!()),
            "not handed to C",
        ],
    );
    // The original storage is still the pinned one.
    assert!(is_region_pinned(shared.as_ptr(), 64));
    // `as_ptr` now refuses too: the buffer's pointer is not the pinned one.
    let msg = crate::common::panics::panic_message(|| owned.as_ptr());
    assert!(msg.contains("its storage moved"), "{msg}");
    let back = owned.into_inner();
    assert!(!Arc::ptr_eq(&back.0, &shared), "make_mut did not clone");
    assert!(!is_pinned(pinned.addr() as *const u8));
}

macro_rules! owned_pin_tests {
    () => {
        crate::common::scenario_tests!(owned_pin:
            into_inner_returns_the_same_buffer_unpinned,
            moved_across_threads_and_unpinned_there,
            every_stable_buffer_kind,
            c_writes_through_as_mut_ptr_are_kept,
            moving_the_owned_pin_does_not_move_the_buffer,
            dropping_a_pinned_owned_pin_keeps_the_pin_and_the_memory,
            a_vec_is_pinned_over_its_capacity,
            set_len_never_exceeds_the_pinned_capacity,
            c_strings_and_boxed_strs_are_stable_buffers,
            storage_moved_by_stable_mut_ptr_is_never_handed_to_c,
        );
    };
}
pub(crate) use owned_pin_tests as tests;
