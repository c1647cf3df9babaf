// `#[referents(crate = path)]` names the facade through another path, for
// crates that re-export pointer-escapes under their own name.
mod facade {
    pub use pointer_escapes as reexported;
}

use pointer_escapes::referents::direct_referents;
use pointer_escapes::Referents;

#[derive(Referents)]
#[referents(crate = crate::facade::reexported)]
struct ByPath(Vec<u8>);

#[derive(Referents)]
#[referents(crate = "crate::facade::reexported")]
struct ByString(Vec<u8>);

fn main() {
    assert_eq!(direct_referents(&ByPath(vec![1, 2])).len(), 1);
    assert_eq!(direct_referents(&ByString(vec![1, 2])).len(), 1);
}
