// #[escapes] gives a raw pointer's extent: on a parameter that is plainly
// not a pointer (an integer, a reference, an array) it is refused.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
fn send(#[escapes(len = 4)] fd: i32) {}

fn main() {}
