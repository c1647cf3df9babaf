// Each option is given once.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes(crate = ::pointer_escapes, crate = ::pointer_escapes)]
fn send(buf: *const u8) {}

fn main() {}
