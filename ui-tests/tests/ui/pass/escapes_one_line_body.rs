// A one-line body compiles without warnings: the braces the expansion puts
// around the body are the macro's, not an `unused_braces` for the user.
#![deny(warnings)]

use pointer_escapes::pointer_escapes;

#[pointer_escapes]
fn addr(p: *const u8) -> usize { p as usize }

#[pointer_escapes]
unsafe fn first(#[escapes(len = 1)] p: *const u8) -> u8 { unsafe { *p } }

#[pointer_escapes]
fn length(#[flow_through] s: &[u8]) -> usize { s.len() }

fn main() {
    let b = [5u8];
    assert_eq!(addr(b.as_ptr()), b.as_ptr() as usize);
    // SAFETY: `b` holds one byte.
    assert_eq!(unsafe { first(b.as_ptr()) }, 5);
    assert_eq!(length(&b), 1);
}
