// A pointee is either written by C (`out`) or read by it (`inout`).
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
unsafe fn produce(#[escapes(out, inout)] p: *mut *const u8) {}

fn main() {}
