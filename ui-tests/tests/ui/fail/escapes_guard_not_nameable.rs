// The generated guard is hygienic: the body cannot name it.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
fn send(buf: *const u8) {
    drop(__pe_pins);
}

fn main() {}
