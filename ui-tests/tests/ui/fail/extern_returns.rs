// An import's return value comes from C: returns(..) is for exported functions.
use pointer_escapes::pointer_escapes;

#[pointer_escapes(returns(retained))]
unsafe extern "C" {
    fn malloc(size: usize) -> *mut u8;
}

fn main() {}
