// A length expression of a non-integer type is refused by the `EscapeLen`
// bound, whose message says what to write.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
fn scale(#[escapes(len = factor)] p: *const f32, factor: f64) {}

fn main() {}
