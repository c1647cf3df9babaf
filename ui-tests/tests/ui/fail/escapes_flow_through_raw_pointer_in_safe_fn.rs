// Following a raw pointer to what it points to reads through it: only an
// `unsafe fn` may, since only its caller promises the pointer is valid.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
fn readv(fd: i32, #[flow_through] #[escapes(len = n)] iov: *const libc::iovec, n: i32) {}

fn main() {}
