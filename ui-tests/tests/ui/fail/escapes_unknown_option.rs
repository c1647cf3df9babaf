// The attribute takes `crate = path` only.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes(check = false)]
fn send(buf: *const u8) {}

fn main() {}
