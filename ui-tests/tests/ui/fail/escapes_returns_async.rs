// An async fn returns a future, not the pointer C keeps.
use pointer_escapes::pointer_escapes;

#[pointer_escapes(returns(retained))]
async fn blob() -> *const u8 {
    std::ptr::null()
}

fn main() {}
