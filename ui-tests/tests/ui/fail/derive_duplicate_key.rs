// An option given twice is an error on the second one, also across
// attributes.
use pointer_escapes::Referents;

#[derive(Referents)]
struct Buffer {
    #[referents(len = self.len, len = self.len)]
    ptr: *const u8,
    #[referents(skip)]
    #[referents(skip)]
    handle: usize,
    len: usize,
}

fn main() {}
