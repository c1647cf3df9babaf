// returns(..) checks a raw pointer the function returns to C.
use pointer_escapes::pointer_escapes;

#[pointer_escapes(returns(retained))]
fn count() -> usize {
    0
}

#[pointer_escapes(returns(retained))]
fn nothing() {}

fn main() {}
