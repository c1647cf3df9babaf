// Two scopes' pinners cannot trade their pins: `mem::swap` needs `&mut`.
use pointer_escapes::scope;

fn main() {
    let buf = [0u8; 8];
    scope(|outer| {
        scope(|inner| {
            inner.pin_slice(&buf);
            std::mem::swap(outer, inner);
        });
    });
}
