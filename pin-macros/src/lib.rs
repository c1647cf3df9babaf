//! Procedural macros of `pointer-escapes`: `#[pointer_escapes]` and
//! `#[derive(Referents)]`. Use them through the `pointer-escapes` crate;
//! generated code names its run-time as `::pointer_escapes::__private`.

use proc_macro::TokenStream;

mod derive;
mod escapes;

/// Pins a function's escaping pointer arguments for the duration of each
/// call and, in checked mode, checks what they point to; on an `extern`
/// block, wraps every foreign function so each call into C does so.
///
/// Parameters take `#[flow_through]` and `#[escapes(len = expr)]` /
/// `#[escapes(bytes = expr)]`; the attribute takes `crate = path`. In a
/// safe `fn`, raw-pointer arguments are pinned but not checked (the check
/// reads through them, which only an `unsafe fn`'s caller vouches for).
///
/// The full reference (every rule, the expansion, the extern-block form) is the
/// `#[pointer_escapes]` page of the `pointer-escapes` crate documentation
/// (`docs/attribute.md` in its repository).
#[proc_macro_attribute]
pub fn pointer_escapes(attr: TokenStream, item: TokenStream) -> TokenStream {
    escapes::expand(attr.into(), item.into()).into()
}

/// Implements `Referents` for a struct: each field's referents.
#[proc_macro_derive(Referents, attributes(referents))]
pub fn derive_referents(input: TokenStream) -> TokenStream {
    derive::expand(input.into()).into()
}
