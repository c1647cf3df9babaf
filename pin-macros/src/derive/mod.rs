//! `#[derive(Referents)]`: reports each field's referents.
//!
//! - `attrs`: the `#[referents(..)]` options, one span per option;
//! - `parse`: the input as the expansion needs it (unions refused here);
//! - `validate`: rules that need the whole input (`len` only on pointers,
//!   not in enum variants);
//! - `pointer`: which field types are spelled as raw pointers;
//! - `bounds`: the impl's where-clause;
//! - `expand`: the impl itself.
//!
//! The user-facing reference is `docs/derive.md` in this package (on the macro item).

mod attrs;
mod bounds;
mod errors;
mod expand;
mod parse;
mod pointer;
mod validate;

use errors::Errors;
use proc_macro2::TokenStream;
use syn::DeriveInput;

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let input = match syn::parse2::<DeriveInput>(input) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let mut errors = Errors::default();
    let parsed = parse::parse(&input, &mut errors);
    if let Some(parsed) = &parsed {
        validate::validate(parsed, &mut errors);
    }
    match (errors.finish(()), &parsed) {
        (Ok(()), Some(parsed)) => match &parsed.options.remote {
            Some((_, remote)) => expand::remote_fn(parsed, remote),
            None => expand::referents_impl(parsed),
        },
        (result, _) => {
            // `parse` records an error whenever it returns `None`; the
            // message below is only a guard against silently emitting
            // nothing.
            let error = result.err().unwrap_or_else(|| {
                syn::Error::new_spanned(
                    &input.ident,
                    "#[derive(Referents)] could not read this item",
                )
            });
            let mut out = error.to_compile_error();
            let krate = expand::crate_path(parsed.as_ref());
            match parsed.as_ref().and_then(|p| p.options.remote.as_ref()) {
                Some((_, remote)) => out.extend(expand::fallback_remote_fn(&input, remote, &krate)),
                None => out.extend(expand::fallback_impl(&input, &krate)),
            }
            out
        }
    }
}

#[cfg(test)]
mod tests;
