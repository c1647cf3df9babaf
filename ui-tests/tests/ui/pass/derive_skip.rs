// `#[referents(skip)]`: a field that holds nothing C reads through this
// value, whose type has no `Referents` impl, and needs no bound.
use pointer_escapes::referents::direct_referents;
use pointer_escapes::Referents;

/// An opaque handle from a C library, never dereferenced by C through the
/// struct (and not `Referents`).
struct Handle(#[allow(dead_code)] usize);

#[derive(Referents)]
struct Session<H> {
    #[referents(skip)]
    handle: Handle,
    #[referents(skip)]
    extra: H,
    name: String,
}

fn main() {
    let s = Session {
        handle: Handle(1),
        extra: Handle(2),
        name: "s".to_string(),
    };
    assert_eq!(direct_referents(&s).len(), 1);
}
