// The wrapper calls the import once per combination of parameters under
// #[cfg]: more than four is refused, at the fifth.
use pointer_escapes::pointer_escapes;

#[pointer_escapes]
unsafe extern "C" {
    fn many(
        #[cfg(unix)] a: u8,
        #[cfg(windows)] b: u8,
        #[cfg(debug_assertions)] c: u8,
        #[cfg(target_os = "linux")] d: u8,
        #[cfg(target_pointer_width = "64")] e: u8,
    );
}

fn main() {}
