// returns(..) knows `retained`, `len`, `bytes` and `pointee`, and needs `retained`.
use pointer_escapes::pointer_escapes;

#[pointer_escapes(returns(retained, out, size = 3))]
fn blob() -> *const u8 {
    std::ptr::null()
}

#[pointer_escapes(returns(len = 2))]
fn pair() -> *const u8 {
    std::ptr::null()
}

fn main() {}
