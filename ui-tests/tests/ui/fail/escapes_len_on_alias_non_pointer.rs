// #[escapes] on a type the macro cannot see through (an alias) is left to
// the `EscapingPointer` bound, which refuses what is not a raw pointer.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

type Handle = u64;

#[pointer_escapes]
fn send(#[escapes(bytes = 8)] handle: Handle) {}

fn main() {}
