// The generated impl does not collide with the user's names: a type
// parameter called `V`, a field called `visitor`, a private field type in a
// public generic struct, and no lint fires on the expansion.
#![deny(warnings, private_bounds, private_interfaces, unused_qualifications)]

use pointer_escapes::referents::direct_referents;
use pointer_escapes::Referents;

#[derive(Referents)]
struct Private<T> {
    value: T,
}

/// Public, holding a private type: the inferred bound is `V: Referents`,
/// not `Private<V>: Referents`, so nothing private leaks into the impl.
#[derive(Referents)]
pub struct Visitor<V> {
    #[referents(len = self.visitor)]
    ptr: *const u8,
    visitor: usize,
    inner: Private<V>,
}

fn main() {
    let bytes = [0u8; 3];
    let visitor = 2usize;
    let v = Visitor {
        ptr: bytes.as_ptr(),
        visitor,
        inner: Private {
            value: Box::new(1u8),
        },
    };
    let found = direct_referents(&v);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].len(), 2);
}
