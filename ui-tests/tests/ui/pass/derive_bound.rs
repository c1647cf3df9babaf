// `#[referents(bound = "..")]` replaces the inferred where-clause.
use pointer_escapes::referents::direct_referents;
use pointer_escapes::Referents;

/// Holds a `T` only by value in a `Cell`, whose impl needs `T: Copy`.
#[derive(Referents)]
#[referents(bound = "T: pointer_escapes::Referents + Copy")]
struct Shared<T> {
    cell: core::cell::Cell<T>,
}

fn main() {
    let x = 5u8;
    let s = Shared {
        cell: core::cell::Cell::new(&x),
    };
    assert_eq!(direct_referents(&s).len(), 1);
}
