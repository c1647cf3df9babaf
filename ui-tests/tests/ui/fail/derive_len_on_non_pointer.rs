// `len` only applies to raw-pointer fields: other types know their extent.
use pointer_escapes::Referents;

#[derive(Referents)]
struct Buffer {
    #[referents(len = self.used)]
    data: Vec<u8>,
    used: usize,
}

fn main() {}
