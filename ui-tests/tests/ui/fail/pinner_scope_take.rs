// A scope's pinner cannot be taken out of the scope with its pins: the
// closure gets a shared reference to a `ScopedPinner`, which has no
// `Default` and cannot be swapped through.
use pointer_escapes::scope;

fn main() {
    let buf = [0u8; 8];
    let _kept = scope(|pinner| {
        pinner.pin_slice(&buf);
        std::mem::take(pinner)
    });
}
