// A trait method declaration has no body to wrap.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

trait Device {
    #[pointer_escapes]
    unsafe fn submit(&self, #[escapes(len = n)] buf: *const u8, n: usize);
}

fn main() {}
