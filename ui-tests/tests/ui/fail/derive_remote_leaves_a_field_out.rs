// A remote mirror must mirror every field of the remote (skipped ones with
// #[referents(skip)]): a pointer field it leaves out would go unreported.
// A remote with private fields takes `partial`, which says so; `partial`
// without `remote` is an error.
use pointer_escapes::Referents;

pub struct Stream {
    pub next_in: *const u8,
    pub avail_in: u32,
    pub next_out: *mut u8,
    pub avail_out: u32,
}

#[derive(Referents)]
#[referents(remote = Stream)]
struct StreamDef {
    #[referents(len = self.avail_in)]
    next_in: *const u8,
    avail_in: u32,
}

#[derive(Referents)]
#[referents(partial)]
struct NotAMirror {
    a: u32,
}

fn main() {}
