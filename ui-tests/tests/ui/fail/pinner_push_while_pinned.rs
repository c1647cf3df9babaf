// A pinned Vec cannot grow while the pinner lives: `push` may reallocate
// and leave C with a pointer into freed memory.
use pointer_escapes::Pinner;

fn main() {
    let mut buf = vec![0u8; 4];
    let mut pinner = Pinner::new();
    let p = pinner.pin_slice(&buf);
    buf.push(1);
    pinner.unpin();
    let _ = p;
}
