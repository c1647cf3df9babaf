// This crate's annotated items are compiled without pins or checks; the
// crates that use it are not affected.
fn main() {
    println!("cargo:rustc-cfg=pointer_escapes_unchecked");
}
