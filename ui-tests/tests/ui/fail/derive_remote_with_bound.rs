// `bound` beside `remote` would do nothing (a mirror gets a function, not
// an impl, and is never generic): it is refused, not silently ignored.
use pointer_escapes::Referents;

#[derive(Referents)]
#[referents(remote = libc::pollfd, bound = "u8: Copy")]
struct PollDef {
    fd: i32,
    events: i16,
    revents: i16,
}

fn main() {}
