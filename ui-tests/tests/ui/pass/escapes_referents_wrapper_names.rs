// Each `referents = path` parameter gets a wrapper type of its own, whatever
// the parameters are called: `_2` beside an unnamed second parameter (shown
// as `#2`), a raw identifier beside its spelling with `_`, two non-ASCII
// names.
#![deny(warnings)]
use pointer_escapes::{pointer_escapes, Referents, Visitor};

/// # Safety
/// A valid `msghdr`.
unsafe fn visit_msghdr<V: Visitor>(value: &libc::msghdr, visitor: &mut V) {
    value.visit_referents(visitor);
}

/// # Safety
/// A valid `iovec`.
unsafe fn visit_iovec<V: Visitor>(value: &libc::iovec, visitor: &mut V) {
    value.visit_referents(visitor);
}

#[pointer_escapes]
unsafe fn unnamed(
    #[escapes(referents = visit_msghdr)] _2: *const libc::msghdr,
    #[escapes(referents = visit_iovec)] _: *const libc::iovec,
) {
}

#[pointer_escapes]
unsafe fn raw_identifiers(
    #[escapes(referents = visit_msghdr)] r#type: *const libc::msghdr,
    #[escapes(referents = visit_iovec)] r_type: *const libc::iovec,
) {
    let _ = (r#type, r_type);
}

#[allow(non_snake_case)]
#[pointer_escapes]
unsafe fn non_ascii(
    #[escapes(referents = visit_msghdr)] é: *const libc::msghdr,
    #[escapes(referents = visit_iovec)] à: *const libc::iovec,
) {
    let _ = (é, à);
}

fn main() {
    let _ = (unnamed, raw_identifiers, non_ascii);
}
