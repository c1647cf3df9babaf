//! Procedural macros of `pointer-escapes`: `#[pointer_escapes]` and
//! `#[derive(Referents)]`. Use them through the `pointer-escapes` crate;
//! generated code names its run-time as `::pointer_escapes::__private`.
//!
//! The full reference of each macro (`docs/attribute.md` and
//! `docs/derive.md` in this package) sits on the macro item, so it shows on
//! the item's page wherever the macro is re-exported.

use proc_macro::TokenStream;

mod derive;
mod escapes;

#[doc = include_str!("../docs/attribute.md")]
#[proc_macro_attribute]
pub fn pointer_escapes(attr: TokenStream, item: TokenStream) -> TokenStream {
    escapes::expand(attr.into(), item.into()).into()
}

#[doc = include_str!("../docs/derive.md")]
#[proc_macro_derive(Referents, attributes(referents))]
pub fn derive_referents(input: TokenStream) -> TokenStream {
    derive::expand(input.into()).into()
}
