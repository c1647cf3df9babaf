// Types without fields hold no pointers, and their impls raise no lint.
#![deny(warnings)]

use pointer_escapes::referents::direct_referents;
use pointer_escapes::Referents;

#[derive(Referents)]
struct Marker;

#[derive(Referents)]
struct Empty {}

#[derive(Referents)]
struct EmptyTuple();

#[derive(Referents)]
enum Color {
    Red,
    Green,
}

#[derive(Referents)]
enum Handles {
    One(#[referents(skip)] Opaque),
}

struct Opaque;

fn main() {
    assert!(direct_referents(&Color::Red).is_empty());
    assert!(direct_referents(&Color::Green).is_empty());
    assert!(direct_referents(&Handles::One(Opaque)).is_empty());
    assert!(direct_referents(&Marker).is_empty());
    assert!(direct_referents(&Empty {}).is_empty());
    assert!(direct_referents(&EmptyTuple()).is_empty());
}
