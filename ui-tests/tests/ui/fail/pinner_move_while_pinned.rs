// A value pinned by a Pinner cannot be moved while the pinner lives: C
// holds its address.
use pointer_escapes::Pinner;

fn main() {
    let header = String::from("header");
    let mut pinner = Pinner::new();
    let p = pinner.pin(&header);
    let moved = header;
    drop(pinner);
    let _ = (p, moved);
}
