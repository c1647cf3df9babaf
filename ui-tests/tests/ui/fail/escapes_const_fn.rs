// Pins are made at run time, so a `const fn` cannot take the attribute.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
const fn first(p: *const u8) -> *const u8 {
    p
}

fn main() {}
