// `retained` says C keeps a raw pointer after the call.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
unsafe fn keep(#[escapes(retained)] n: usize, #[escapes(retained)] r: &u8) {}

fn main() {}
