// A value pinned by a Pinner cannot be dropped while the pinner lives.
use pointer_escapes::Pinner;

fn main() {
    let buf = vec![0u8; 64];
    let mut pinner = Pinner::new();
    let p = pinner.pin_slice(&buf);
    drop(buf);
    pinner.unpin();
    let _ = p;
}
