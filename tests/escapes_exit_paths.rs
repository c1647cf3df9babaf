//! A `#[pointer_escapes]` call's pins live exactly as long as the call:
//! pinned inside, released on every way out (return, `?`, a caught panic,
//! an async fn's completion, its future dropped mid-way), for every
//! parameter shape the attribute takes.
//!
//! Every test sets `CheckMode::Args` (the binary's only mode): call pins are
//! recorded when checks may read them.

use pointer_escapes::{
    is_pinned, is_region_pinned, pin_count, pointer_escapes, set_check_mode, CheckMode,
};
use std::future::Future;
use std::panic::catch_unwind;
use std::pin::{pin, Pin};
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

fn checked() {
    set_check_mode(CheckMode::Args);
}

// ------------------------------------------------------------------ shapes

#[pointer_escapes]
unsafe fn sum(#[escapes(len = n)] p: *const u32, n: usize) -> (u32, bool) {
    let pinned = is_region_pinned(p, n * 4);
    // SAFETY: the caller passes `n` valid elements.
    let total = unsafe { std::slice::from_raw_parts(p, n) }.iter().sum();
    (total, pinned)
}

#[pointer_escapes]
unsafe fn fill(#[escapes(len = n)] p: *mut u8, n: usize, byte: u8) -> bool {
    // SAFETY: the caller passes `n` writable bytes.
    unsafe { std::ptr::write_bytes(p, byte, n) };
    is_region_pinned(p, n)
}

#[pointer_escapes]
fn one_element(p: NonNull<u64>) -> bool {
    is_region_pinned(p.as_ptr(), 8) && !is_pinned(p.as_ptr().wrapping_add(1))
}

#[pointer_escapes]
fn maybe(p: Option<NonNull<u16>>, q: Option<*const u16>) -> (bool, bool) {
    (
        p.is_some_and(|p| is_pinned(p.as_ptr())),
        q.is_some_and(is_pinned),
    )
}

#[pointer_escapes]
fn untyped(#[escapes(bytes = n)] p: *mut std::ffi::c_void, n: usize) -> bool {
    is_region_pinned(p, n)
}

#[pointer_escapes]
fn address_only(p: *const std::ffi::c_void) -> bool {
    is_pinned(p)
}

#[pointer_escapes]
fn generic<T: Copy>(#[escapes(len = n)] p: *const T, n: usize) -> bool {
    is_region_pinned(p, n * std::mem::size_of::<T>())
}

/// In an `unsafe fn` the pointee is checked when it implements `Referents`;
/// a generic pointee without that bound is pinned and not checked.
#[pointer_escapes]
unsafe fn generic_unchecked<T>(#[escapes(len = n)] p: *const T, n: usize) -> bool {
    is_region_pinned(p, n * std::mem::size_of::<T>())
}

#[pointer_escapes]
unsafe fn generic_checked<T: pointer_escapes::Referents>(
    #[escapes(len = n)] p: *const T,
    n: usize,
) -> bool {
    is_region_pinned(p, n * std::mem::size_of::<T>())
}

#[pointer_escapes]
fn slices(#[flow_through] bufs: &[Vec<u8>], sink: impl FnOnce(usize)) -> bool {
    sink(bufs.len());
    is_region_pinned(bufs.as_ptr(), std::mem::size_of_val(bufs))
        && bufs.iter().all(|b| is_region_pinned(b.as_ptr(), b.len()))
}

#[pointer_escapes]
fn unnamed(_: *const u8, (a, b): (u8, u8), ref p: *const u8) -> bool {
    a < b && is_pinned(*p)
}

#[pointer_escapes]
extern "C" fn c_callback(p: *const i32) -> bool {
    is_pinned(p)
}

struct Buffer {
    bytes: Vec<u8>,
}

// SAFETY: reports the one heap buffer it owns, `bytes.len()` bytes.
unsafe impl pointer_escapes::Referents for Buffer {
    fn visit_referents<V: pointer_escapes::Visitor>(&self, v: &mut V) {
        v.bytes(
            self.bytes.as_ptr(),
            self.bytes.len(),
            pointer_escapes::Via::Field("bytes"),
        );
    }
}

impl Buffer {
    #[pointer_escapes]
    fn shared(#[flow_through] &self) -> bool {
        is_pinned(self) && is_region_pinned(self.bytes.as_ptr(), self.bytes.len())
    }

    #[pointer_escapes]
    fn exclusive(#[flow_through] &mut self, #[escapes(len = 2)] other: *const u8) -> bool {
        self.bytes.push(0);
        is_pinned(self) && is_region_pinned(other, 2)
    }

    #[pointer_escapes]
    fn consume(self, p: *const u8) -> (bool, Vec<u8>) {
        (is_pinned(p), self.bytes)
    }
}

#[test]
fn every_shape_is_pinned_inside_and_released_after() {
    checked();
    let nums = [1u32, 2, 3, 4];
    // SAFETY: four valid elements.
    assert_eq!(unsafe { sum(nums.as_ptr(), 4) }, (10, true));
    assert!(!is_pinned(nums.as_ptr()));

    let mut bytes = vec![0u8; 32];
    // SAFETY: 32 writable bytes.
    assert!(unsafe { fill(bytes.as_mut_ptr(), 32, 7) });
    assert!(bytes.iter().all(|&b| b == 7));
    assert!(!is_pinned(bytes.as_ptr()));

    let mut word = Box::new(5u64);
    let p = NonNull::from(&mut *word);
    assert!(one_element(p));
    assert!(!is_pinned(p.as_ptr()));

    let half = Box::new(9u16);
    let h = NonNull::from(&*half);
    assert_eq!(maybe(Some(h), Some(h.as_ptr())), (true, true));
    assert_eq!(maybe(None, None), (false, false));
    assert!(!is_pinned(h.as_ptr()));

    assert!(untyped(bytes.as_mut_ptr().cast(), 32));
    assert!(address_only(bytes.as_ptr().cast()));
    assert!(!is_pinned(bytes.as_ptr()));

    let pairs = [(1u8, 2u16); 5];
    assert!(generic(pairs.as_ptr(), 5));
    assert!(!is_pinned(pairs.as_ptr()));
    // SAFETY: five valid elements.
    assert!(unsafe { generic_unchecked(pairs.as_ptr(), 5) });
    // SAFETY: five valid elements, which hold no pointers.
    assert!(unsafe { generic_checked(pairs.as_ptr(), 5) });
    assert!(!is_pinned(pairs.as_ptr()));

    let bufs = vec![vec![1u8; 16], vec![2u8; 3]];
    let mut seen = 0;
    assert!(slices(&bufs, |n| seen = n));
    assert_eq!(seen, 2);
    assert!(!is_pinned(bufs.as_ptr()) && !is_pinned(bufs[0].as_ptr()));

    assert!(unnamed(bytes.as_ptr(), (1, 2), bytes.as_ptr()));
    assert!(!is_pinned(bytes.as_ptr()));

    let v = Box::new(3i32);
    assert!(c_callback(&*v));
    assert!(!is_pinned(&*v));

    let mut buffer = Buffer {
        bytes: vec![5u8; 8],
    };
    assert!(buffer.shared());
    assert!(!is_pinned(&buffer) && !is_pinned(buffer.bytes.as_ptr()));
    assert!(buffer.exclusive(bytes.as_ptr()));
    assert_eq!(buffer.bytes.len(), 9);
    assert!(!is_pinned(&buffer) && !is_pinned(bytes.as_ptr()));
    let (pinned, back) = buffer.consume(bytes.as_ptr());
    assert!(pinned && back.len() == 9);
    assert!(!is_pinned(bytes.as_ptr()));
}

#[test]
fn null_pins_nothing() {
    checked();
    assert_eq!(maybe(None, Some(std::ptr::null())), (false, false));
    assert!(!address_only(std::ptr::null()));
}

// ------------------------------------------------------------- exit paths

#[derive(Debug, PartialEq)]
struct TooShort(bool);

#[pointer_escapes]
fn parse_header(#[escapes(len = n)] p: *const u8, n: usize) -> Result<u8, TooShort> {
    if n < 4 {
        // Reports whether the pin was live when `?` left the function.
        Err(TooShort(is_region_pinned(p, n)))?;
    }
    Ok(n as u8)
}

#[test]
fn question_mark_releases_the_pins() {
    checked();
    let data = [1u8, 2, 3];
    assert_eq!(parse_header(data.as_ptr(), 3), Err(TooShort(true)));
    assert!(!is_pinned(data.as_ptr()));
    assert_eq!(parse_header(data.as_ptr(), 3).map_err(|_| ()), Err(()));
    let long = [0u8; 8];
    assert_eq!(parse_header(long.as_ptr(), 8), Ok(8));
    assert!(!is_pinned(long.as_ptr()));
}

#[pointer_escapes]
fn explode(p: *const u64) {
    let pinned = is_pinned(p);
    panic!("exploding while pinned = {pinned}");
}

#[test]
fn a_caught_panic_releases_the_pins() {
    checked();
    let value = Box::new(11u64);
    let err = catch_unwind(|| explode(&*value)).unwrap_err();
    let msg = err.downcast_ref::<String>().expect("a formatted message");
    assert_eq!(msg, "exploding while pinned = true");
    assert!(!is_pinned(&*value));
}

#[pointer_escapes]
fn early_return(#[flow_through] data: &[u8], stop: bool) -> bool {
    if stop {
        return is_pinned(data.as_ptr());
    }
    false
}

#[test]
fn early_return_releases_the_pins() {
    checked();
    let data = vec![0u8; 4];
    assert!(early_return(&data, true));
    assert!(!is_pinned(data.as_ptr()));
}

// ------------------------------------------------------------------ async

/// A future that is pending on its first poll and ready on its second.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

struct NoopWake;

impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

fn poll_once<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    let waker = Waker::from(Arc::new(NoopWake));
    fut.poll(&mut Context::from_waker(&waker))
}

fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(out) = poll_once(fut.as_mut()) {
            return out;
        }
    }
}

#[pointer_escapes]
async fn gather(#[flow_through] bufs: &[Vec<u8>]) -> (bool, bool) {
    let before = bufs.iter().all(|b| is_pinned(b.as_ptr()));
    YieldOnce(false).await;
    let after = bufs.iter().all(|b| is_pinned(b.as_ptr()));
    (before, after)
}

#[test]
fn async_pins_span_the_whole_future() {
    checked();
    let bufs = vec![vec![1u8; 8], vec![2u8; 8]];
    let fut = gather(&bufs);
    // Nothing happens before the first poll.
    assert!(!is_pinned(bufs[0].as_ptr()));
    assert_eq!(block_on(fut), (true, true));
    assert!(!is_pinned(bufs[0].as_ptr()) && !is_pinned(bufs.as_ptr()));
}

#[test]
fn dropping_the_future_mid_way_releases_the_pins() {
    checked();
    let bufs = vec![vec![1u8; 8], vec![2u8; 8]];
    {
        let mut fut = pin!(gather(&bufs));
        assert!(poll_once(fut.as_mut()).is_pending());
        // Suspended at the await: the pins are held by the future.
        assert!(is_pinned(bufs.as_ptr()) && is_pinned(bufs[1].as_ptr()));
    }
    assert!(!is_pinned(bufs.as_ptr()) && !is_pinned(bufs[1].as_ptr()));
}

// ------------------------------------------------------------------ nesting

#[pointer_escapes]
fn inner(p: *const u32) -> usize {
    pin_count(p)
}

#[pointer_escapes]
fn outer(p: *const u32) -> (usize, usize) {
    (pin_count(p), inner(p))
}

#[test]
fn nested_calls_add_up() {
    checked();
    let x = Box::new(1u32);
    assert_eq!(outer(&*x), (1, 2));
    assert_eq!(pin_count(&*x), 0);
}
