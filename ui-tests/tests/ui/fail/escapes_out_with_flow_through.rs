// `out` says the pointee may be uninitialised; #[flow_through] reads it.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
unsafe fn produce(#[flow_through] #[escapes(out)] out: *mut *mut u8) {}

fn main() {}
