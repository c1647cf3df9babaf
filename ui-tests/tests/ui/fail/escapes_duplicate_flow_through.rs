// A parameter takes #[flow_through] once.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
fn send(#[flow_through] #[flow_through] bufs: &[Vec<u8>]) {}

fn main() {}
