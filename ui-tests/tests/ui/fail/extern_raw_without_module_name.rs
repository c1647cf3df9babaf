// `raw` names the module of raw imports.
use pointer_escapes::pointer_escapes;

#[pointer_escapes(raw)]
unsafe extern "C" {
    fn free(p: *mut u8);
}

fn main() {}
