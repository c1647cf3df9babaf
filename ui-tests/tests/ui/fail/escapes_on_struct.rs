// #[pointer_escapes] applies to functions and extern blocks only.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
struct Request {
    buf: *const u8,
}

fn main() {}
