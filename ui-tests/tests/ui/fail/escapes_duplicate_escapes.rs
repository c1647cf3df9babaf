// A parameter takes one #[escapes(..)].
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
fn send(#[escapes(len = n)] #[escapes(bytes = n)] buf: *const u32, n: usize) {}

fn main() {}
