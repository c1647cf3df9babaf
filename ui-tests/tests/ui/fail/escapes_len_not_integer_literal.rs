// A length is an integer expression: float, string and bool literals are
// refused where they are written.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
fn a(#[escapes(len = 1.5)] p: *const u8) {}

#[pointer_escapes]
fn b(#[escapes(bytes = "16")] p: *const u8) {}

#[pointer_escapes]
fn c(#[escapes(len = true)] p: *const u8) {}

fn main() {}
