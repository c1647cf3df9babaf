// A reference's extent is its type's; #[escapes] is for raw pointers.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
fn send(#[escapes(len = n)] bufs: &[u8], n: usize) {}

fn main() {}
