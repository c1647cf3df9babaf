// #[escapes(..)] knows `len` and `bytes`.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
fn send(#[escapes(count = n)] p: *const u32, n: usize) {}

fn main() {}
