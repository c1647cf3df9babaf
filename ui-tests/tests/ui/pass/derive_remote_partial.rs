// A remote whose private fields cannot be named is mirrored with
// `partial`: the mirror names the public fields it reports, and says that
// it leaves the rest out. A complete mirror needs no `partial`; a field it
// does not report is mirrored with `skip`.
use pointer_escapes::{pointer_escapes, Referents};

mod sys {
    pub struct Request {
        pub buf: *mut u8,
        pub len: usize,
        #[allow(dead_code)]
        reserved: [u64; 2],
    }
    impl Request {
        pub fn new(buf: *mut u8, len: usize) -> Self {
            Request { buf, len, reserved: [0; 2] }
        }
    }
    pub struct Pair {
        pub data: *const u8,
        pub count: usize,
        pub context: *mut u8,
    }
}

#[derive(Referents)]
#[referents(remote = sys::Request, partial)]
struct RequestDef {
    #[referents(bytes = self.len)]
    buf: *mut u8,
    len: usize,
}

#[derive(Referents)]
#[referents(remote = sys::Pair)]
struct PairDef {
    #[referents(len = self.count)]
    data: *const u8,
    count: usize,
    // C hands it back without following it.
    #[referents(skip)]
    context: *mut u8,
}

#[pointer_escapes]
unsafe fn submit(
    #[flow_through(referents = RequestDef::visit_referents)] req: *const sys::Request,
    #[escapes(referents = PairDef::visit_referents)] pair: *const sys::Pair,
) {
    let _ = (req, pair);
}

fn main() {
    let mut buf = [0u8; 8];
    let req = sys::Request::new(buf.as_mut_ptr(), buf.len());
    let pair = sys::Pair { data: buf.as_ptr(), count: 0, context: core::ptr::null_mut() };
    // SAFETY: both point to live values whose pointers are live.
    unsafe { submit(&req, &pair) };
}
