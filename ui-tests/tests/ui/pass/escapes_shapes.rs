// Every shape #[pointer_escapes] takes compiles without a warning, and
// pins what it should (checked when this program runs).
#![deny(warnings, unsafe_op_in_unsafe_fn)]

use pointer_escapes::{is_pinned, pointer_escapes, set_check_mode, CheckMode};
use std::ffi::c_void;
use std::io::IoSliceMut;
use std::ptr::NonNull;

#[pointer_escapes]
fn free(p: *const u8, q: *mut u8, r: NonNull<u8>, s: Option<NonNull<u8>>, t: Option<*mut u8>) -> bool {
    is_pinned(p) && is_pinned(q) && is_pinned(r.as_ptr()) && s.is_some() && t.is_some()
}

#[pointer_escapes]
unsafe fn unsafe_fn(#[escapes(len = n)] p: *const u32, n: usize) -> u32 {
    // SAFETY: the caller passes `n` valid elements.
    unsafe { *p.add(n - 1) }
}

#[pointer_escapes]
extern "C" fn callback(#[escapes(bytes = len)] data: *const c_void, len: usize) -> bool {
    is_pinned(data)
}

#[pointer_escapes]
fn generic<T, U: Into<u64>>(#[escapes(len = n)] p: *const T, n: usize, u: U) -> bool
where
    T: Copy,
{
    is_pinned(p) && n > 0 && u.into() > 0
}

#[pointer_escapes]
fn impl_trait(p: *const u8, f: impl Fn(u8) -> u8) -> u8 {
    f(1) + u8::from(is_pinned(p))
}

#[pointer_escapes]
fn patterns((a, b): (u8, u8), _: *const u8, mut p: *const u8, [x, ..]: [u8; 2]) -> u8 {
    p = p.wrapping_add(0);
    a + b + x + u8::from(is_pinned(p))
}

#[pointer_escapes]
fn flows(
    #[flow_through] vecs: &[Vec<u8>],
    #[flow_through] io: &mut [IoSliceMut<'_>],
    #[flow_through] parts: &[&[u8]],
    #[flow_through] one: &Vec<u8>,
) -> bool {
    is_pinned(vecs[0].as_ptr()) && is_pinned(io[0].as_ptr()) && is_pinned(parts[0].as_ptr()) && is_pinned(one.as_ptr())
}

#[pointer_escapes]
unsafe fn raw_flow(#[flow_through] #[escapes(len = n)] iov: *const libc::iovec, n: i32) -> bool {
    is_pinned(iov)
}

struct Device {
    queue: Vec<u8>,
}

// SAFETY: reports its one heap buffer.
unsafe impl pointer_escapes::Referents for Device {
    fn visit_referents<V: pointer_escapes::Visitor>(&self, v: &mut V) {
        v.bytes(self.queue.as_ptr(), self.queue.len(), pointer_escapes::Via::Field("queue"));
    }
}

trait Submit {
    fn submit(&self, p: *const u8) -> bool;
    fn default_method(&self, p: *const u8) -> bool;
}

impl Submit for Device {
    #[pointer_escapes]
    fn submit(#[flow_through] &self, p: *const u8) -> bool {
        is_pinned(self.queue.as_ptr()) && is_pinned(p)
    }

    #[pointer_escapes]
    fn default_method(&self, p: *const u8) -> bool {
        is_pinned(p)
    }
}

impl Device {
    #[pointer_escapes]
    fn by_mut(#[flow_through] &mut self) -> bool {
        self.queue.push(1);
        true
    }

    #[pointer_escapes]
    fn by_value(self, p: *const u8) -> usize {
        self.queue.len() + usize::from(is_pinned(p))
    }

    #[pointer_escapes]
    fn boxed(self: Box<Self>, p: *const u8) -> bool {
        is_pinned(p)
    }

    #[pointer_escapes]
    fn typed_self(#[flow_through] self: &Self) -> bool {
        is_pinned(self)
    }
}

trait WithDefault {
    #[pointer_escapes]
    fn provided(&self, p: *const u8) -> bool {
        is_pinned(p)
    }
}

impl WithDefault for Device {}

fn main() {
    set_check_mode(CheckMode::Args);
    let mut bytes = vec![1u8; 8];
    let p = bytes.as_mut_ptr();
    let nn = NonNull::new(p).unwrap();
    assert!(free(p, p, nn, Some(nn), Some(p)));
    // SAFETY: eight valid elements... of u8, read as two u32 through `n = 2`.
    let words = vec![7u32, 9];
    assert_eq!(unsafe { unsafe_fn(words.as_ptr(), 2) }, 9);
    assert!(callback(p.cast(), 8));
    assert!(generic(p, 8, 1u32));
    assert_eq!(impl_trait(p, |x| x + 1), 3);
    assert_eq!(patterns((1, 2), p, p, [3, 4]), 7);
    let vecs = vec![vec![0u8; 4]];
    let (mut a, b) = (vec![0u8; 4], vec![0u8; 4]);
    let mut io = [IoSliceMut::new(&mut a)];
    assert!(flows(&vecs, &mut io, &[&b], &b));
    let iov = [libc::iovec { iov_base: p.cast(), iov_len: 8 }];
    // SAFETY: one live iovec.
    assert!(unsafe { raw_flow(iov.as_ptr(), 1) });
    let mut dev = Device { queue: vec![0; 4] };
    assert!(dev.submit(p) && dev.default_method(p) && dev.by_mut() && dev.typed_self());
    assert!(dev.provided(p));
    assert!(Box::new(Device { queue: vec![] }).boxed(p));
    assert_eq!(dev.by_value(p), 6);
    assert!(!is_pinned(p));
}
