// A skipped field reports nothing, so an extent on it is a contradiction.
use pointer_escapes::Referents;

#[derive(Referents)]
struct Buffer {
    #[referents(skip, len = self.len)]
    ptr: *const u8,
    len: usize,
}

fn main() {}
