// `retained`, `pointee = T` and `returns(retained, ..)` in both forms, with
// every extent: no warning.
#![deny(warnings, unsafe_op_in_unsafe_fn)]

use pointer_escapes::{pointer_escapes, set_check_mode, CheckMode, Pinner, Referents};
use std::ffi::c_void;
use std::ptr::NonNull;

#[derive(Referents)]
struct Ctx {
    name: Vec<u8>,
}

#[pointer_escapes]
unsafe fn keep(
    #[escapes(retained)] a: *const u8,
    #[escapes(retained, len = n)] b: *mut u8,
    #[escapes(bytes = n, retained)] c: NonNull<u8>,
    #[escapes(retained, pointee = Ctx)] d: *mut c_void,
    #[escapes(pointee = Ctx)] e: *const c_void,
    #[escapes(retained, out)] f: *mut *const u8,
    #[flow_through] #[escapes(retained, pointee = Ctx)] g: *const c_void,
    n: usize,
) -> usize {
    let _ = (a, b, c, d, e, f, g);
    n
}

#[pointer_escapes(returns(retained))]
fn first(bytes: &[u8]) -> *const u8 {
    bytes.as_ptr()
}

#[pointer_escapes(returns(retained, bytes = 4))]
extern "C" fn four(p: *const u8) -> *const u8 {
    p
}

#[pointer_escapes(returns(retained, pointee = Ctx))]
fn context(ctx: &Ctx) -> *const c_void {
    if ctx.name.is_empty() {
        return std::ptr::null();
    }
    (ctx as *const Ctx).cast()
}

#[pointer_escapes]
unsafe extern "C" {
    fn qsort_r(
        #[escapes(bytes = nmemb * size)] base: *mut c_void,
        nmemb: usize,
        size: usize,
        compar: Option<unsafe extern "C" fn(*const c_void, *const c_void, *mut c_void) -> i32>,
        #[escapes(retained, pointee = Ctx)] arg: *mut c_void,
    );
}

fn main() {
    set_check_mode(CheckMode::Args);
    let mut bytes = vec![1u8; 8];
    // What C keeps lives on the heap: a stack address is refused whatever
    // pins it.
    let ctx = Box::new(Ctx { name: b"ctx".to_vec() });
    let mut slot: Box<*const u8> = Box::new(std::ptr::null());
    let mut pinner = Pinner::new();
    let p = pinner.pin_slice_mut(&mut bytes);
    pinner.pin(&*ctx);
    pinner.pin_slice(&ctx.name);
    let slot_ptr = pinner.pin_mut(&mut *slot);
    let nn = NonNull::new(p).unwrap();
    let c = (&*ctx as *const Ctx).cast_mut().cast::<c_void>();
    // SAFETY: 8 live bytes, a live Ctx, a writable slot, all pinned.
    assert_eq!(unsafe { keep(p, p, nn, c, c, slot_ptr, c, 8) }, 8);
    assert!(!context(&ctx).is_null());
    assert_eq!(four(p), p.cast_const());
    pinner.unpin();
    let _ = (first, qsort_r);
}
