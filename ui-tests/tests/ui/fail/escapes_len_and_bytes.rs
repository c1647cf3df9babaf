// An extent is an element count or a byte count, not both.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
fn send(#[escapes(len = n, bytes = n * 4)] p: *const u32, n: usize) {}

fn main() {}
