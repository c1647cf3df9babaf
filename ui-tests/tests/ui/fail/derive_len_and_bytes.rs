// `len` counts elements, `bytes` counts bytes: a field takes one of them.
use pointer_escapes::Referents;

#[derive(Referents)]
struct Buffer {
    #[referents(len = self.len, bytes = self.len * 4)]
    ptr: *const u32,
    len: usize,
}

fn main() {}
