// A pointer field with `len` points at elements the checker follows, so the
// pointee must implement `Referents` too.
use pointer_escapes::Referents;

struct Opaque {
    _handle: usize,
}

#[derive(Referents)]
struct Table {
    #[referents(len = self.rows)]
    rows_ptr: *const Opaque,
    rows: usize,
}

fn main() {}
