// Each key of #[escapes(..)] is given once.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
unsafe fn produce(#[escapes(out, len = 2, out)] p: *mut *const u8) {}

fn main() {}
