// skip_variadic and raw choose how an extern block's imports are emitted;
// a function has none.
use pointer_escapes::pointer_escapes;

#[pointer_escapes(skip_variadic, raw = ffi_raw)]
unsafe fn send(p: *const u8) -> usize {
    p as usize
}

fn main() {}
