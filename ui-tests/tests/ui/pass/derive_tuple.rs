// A tuple struct reports each field's referents.
use pointer_escapes::referents::direct_referents;
use pointer_escapes::Referents;

#[derive(Referents)]
struct Pair(Box<u32>, u8, Vec<u16>);

fn main() {
    let p = Pair(Box::new(1), 2, vec![3; 4]);
    let found = direct_referents(&p);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].addr(), &*p.0 as *const u32 as usize);
    assert_eq!(found[1].len(), 8);
    assert_eq!(p.1, 2);
}
