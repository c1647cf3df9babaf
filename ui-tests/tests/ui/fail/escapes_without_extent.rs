// #[escapes] says how far the pointer reaches: `len` or `bytes`.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
fn send(#[escapes] buf: *const u8, #[escapes()] other: *const u8) {}

fn main() {}
