// A misspelling of a parameter attribute is named, with a suggestion.
#![allow(unused_variables)]
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
fn send(#[flow_thru] bufs: &[Vec<u8>], #[escape(len = 2)] p: *const u8) {}

fn main() {}
