// `FlowRoot` tells the checker which memory a `#[flow_through]` reference
// holds: it is sealed, so a user's impl cannot name memory the argument
// does not borrow (an adversarial review made a safe fn's check read three
// arbitrary words as a `Vec<u8>` through one).
use pointer_escapes::__private::{CheckFn, FlowRoot};
use pointer_escapes::{Referents, Visitor};

struct Lying<T: ?Sized> {
    _head: u8,
    _tail: T,
}

// SAFETY: reports nothing.
unsafe impl Referents for Lying<[u8]> {
    const HOLDS_POINTERS: bool = false;
    fn visit_referents<V: Visitor>(&self, _visitor: &mut V) {}
}

impl FlowRoot for Lying<[u8]> {
    fn elements(&self) -> (usize, usize, Option<CheckFn>) {
        (16, 1, None)
    }
}

fn main() {}
