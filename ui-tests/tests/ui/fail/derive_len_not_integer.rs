// A length is an integer expression.
use pointer_escapes::Referents;

#[derive(Referents)]
struct Buffer {
    #[referents(len = self.len)]
    ptr: *const u8,
    len: f64,
}

fn main() {}
