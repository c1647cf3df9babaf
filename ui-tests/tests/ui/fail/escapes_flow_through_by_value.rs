// A value passed by value is copied into the callee: C cannot reach it
// through this call, so there is nothing to flow through.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
fn send(#[flow_through] bufs: Vec<Vec<u8>>, #[flow_through] n: usize) {}

fn main() {}
