// Every field's type must implement `Referents`: the derive cannot tell
// what a type without an impl points to.
use pointer_escapes::Referents;

struct Opaque {
    _handle: usize,
}

#[derive(Referents)]
struct Holder {
    count: u32,
    opaque: Opaque,
}

fn main() {}
