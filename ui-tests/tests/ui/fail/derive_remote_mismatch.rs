// A remote mirror is checked against the remote type: a field it does not
// have, and a field of another type, are errors on the mirror's field.
use pointer_escapes::Referents;

#[derive(Referents)]
#[referents(remote = libc::iovec)]
struct IovecDef {
    #[referents(bytes = self.iov_len)]
    iov_base: *mut u8,
    iov_length: usize,
}

#[derive(Referents)]
#[referents(remote = libc::pollfd)]
struct PollDef {
    fd: u64,
    events: i16,
    revents: i16,
}

fn main() {}
