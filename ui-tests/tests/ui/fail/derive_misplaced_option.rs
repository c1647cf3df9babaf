// Field options on the type, type options on a field, options on a variant,
// a value for `skip` and `len` without a value are each reported.
use pointer_escapes::Referents;

#[derive(Referents)]
#[referents(skip)]
struct Buffer {
    #[referents(crate = ::pointer_escapes)]
    ptr: *const u8,
    #[referents(skip = true)]
    len: usize,
    #[referents(len)]
    other: *const u8,
}

#[derive(Referents)]
enum Op {
    #[referents(skip)]
    Nop,
}

#[derive(Referents)]
#[referents]
struct Bare;

fn main() {}
