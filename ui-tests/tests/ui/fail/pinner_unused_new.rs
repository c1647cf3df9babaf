// A Pinner that is created and dropped at once pins nothing.
#![deny(unused_must_use)]
use pointer_escapes::Pinner;

fn main() {
    Pinner::new();
}
