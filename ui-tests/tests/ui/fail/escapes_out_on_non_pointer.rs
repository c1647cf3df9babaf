// `out` / `inout` say what C does with a raw pointer's pointee.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
unsafe fn produce(#[escapes(out)] n: usize, #[escapes(inout)] r: &mut u8) {}

fn main() {}
