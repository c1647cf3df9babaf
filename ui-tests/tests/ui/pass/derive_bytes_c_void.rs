// An untyped pointer takes its extent in bytes.
use core::ffi::c_void;
use pointer_escapes::referents::direct_referents;
use pointer_escapes::Referents;

#[derive(Referents)]
#[repr(C)]
struct Blob {
    #[referents(bytes = self.size)]
    data: *mut c_void,
    size: usize,
    #[referents(bytes = 16)]
    header: Option<core::ptr::NonNull<c_void>>,
}

fn main() {
    let mut buf = [0u8; 40];
    let b = Blob {
        data: buf.as_mut_ptr().cast(),
        size: 40,
        header: None,
    };
    let found = direct_referents(&b);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].addr(), buf.as_ptr() as usize);
    assert_eq!(found[0].len(), 40);
}
