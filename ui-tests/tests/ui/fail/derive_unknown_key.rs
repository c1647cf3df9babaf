// Unknown options are errors on the option's name, on fields and types.
use pointer_escapes::Referents;

#[derive(Referents)]
#[referents(krate = ::pointer_escapes)]
struct Buffer {
    #[referents(length = self.len)]
    ptr: *const u8,
    len: usize,
}

fn main() {}
