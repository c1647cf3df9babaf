// `remote` mirrors a foreign struct: not an enum, not generic.
use pointer_escapes::Referents;

#[derive(Referents)]
#[referents(remote = libc::iovec)]
enum Def {
    A,
}

#[derive(Referents)]
#[referents(remote = libc::iovec)]
struct Generic<T> {
    iov_base: *mut T,
    iov_len: usize,
}

#[derive(Referents)]
#[referents(remote)]
struct NoPath {
    iov_len: usize,
}

fn main() {}
