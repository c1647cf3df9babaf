// A pinner cannot outlive what it pins.
use pointer_escapes::Pinner;

fn main() {
    let mut pinner = Pinner::new();
    {
        let short_lived = [0u32; 8];
        pinner.pin(&short_lived);
    }
    pinner.unpin();
}
