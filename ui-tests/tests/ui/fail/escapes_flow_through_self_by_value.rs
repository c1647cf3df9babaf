// `self` by value cannot flow through either.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

struct Batch(Vec<u8>);

impl Batch {
    #[pointer_escapes]
    fn submit(#[flow_through] self) {}
}

fn main() {}
