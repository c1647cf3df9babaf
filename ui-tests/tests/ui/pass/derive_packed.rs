// A packed struct's fields may be unaligned: the derive reads them by copy.
use pointer_escapes::referents::direct_referents;
use pointer_escapes::Referents;

#[derive(Referents)]
#[repr(C, packed)]
struct Packed {
    tag: u8,
    #[referents(len = self.len)]
    ptr: *const u16,
    len: u32,
}

fn main() {
    let words = [0u16; 5];
    let p = Packed {
        tag: 1,
        ptr: words.as_ptr(),
        len: 5,
    };
    assert_eq!(direct_referents(&p)[0].len(), 10);
    assert_eq!({ p.tag }, 1);
}
