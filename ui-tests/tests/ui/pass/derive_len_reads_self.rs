// A pointer field's `len` reads another field through `self`.
use pointer_escapes::referents::direct_referents;
use pointer_escapes::Referents;

#[derive(Referents)]
#[repr(C)]
struct Span {
    #[referents(len = self.count)]
    start: *const u32,
    count: u32,
    #[referents(len = self.count as usize * 2)]
    pairs: core::ptr::NonNull<u16>,
    #[referents(len = self.count)]
    maybe: Option<*mut u64>,
}

fn main() {
    let values = [1u32, 2, 3, 4];
    let mut halves = [0u16; 8];
    let s = Span {
        start: values.as_ptr(),
        count: 4,
        pairs: core::ptr::NonNull::from(&mut halves[0]),
        maybe: None,
    };
    let found = direct_referents(&s);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].len(), 16);
    assert_eq!(found[1].len(), 16);
}
