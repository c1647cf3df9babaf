// #[flow_through] takes no arguments; the extent goes in #[escapes(..)].
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
unsafe fn readv(#[flow_through(len = n)] iov: *const libc::iovec, n: i32) {}

fn main() {}
