// A struct with named fields reports each field's referents.
use pointer_escapes::referents::direct_referents;
use pointer_escapes::Referents;

#[derive(Referents)]
struct Request {
    id: u64,
    name: String,
    body: Vec<u8>,
}

fn main() {
    let r = Request {
        id: 7,
        name: String::from("req"),
        body: vec![0; 32],
    };
    let found = direct_referents(&r);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].addr(), r.name.as_ptr() as usize);
    assert_eq!(found[1].len(), 32);
    assert_eq!(r.id, 7);
}
