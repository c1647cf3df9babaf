// In an enum variant a `len` expression cannot read the other fields through
// `self`; the error says to use a struct.
use pointer_escapes::Referents;

#[derive(Referents)]
enum Request {
    Read {
        #[referents(len = self.len)]
        buf: *mut u8,
        len: usize,
    },
    Close,
}

fn main() {}
