//! `#[pointer_escapes]`: pins a function's escaping pointer arguments for the
//! duration of each call and checks them; on an extern block, wraps every
//! foreign function so that each call into C does so.
//!
//! Modules by job: [`options`] (the attribute's own arguments),
//! [`param_attr`] (`#[flow_through]`, `#[escapes(..)]`), [`shape`] (what a
//! type looks like syntactically), [`valid`] (the rules), [`prologue`] (the
//! `CallPins` code), [`cfgs`] (`#[cfg]`/`#[cfg_attr]` carried into generated
//! code and split between an import and its wrapper), [`function`] and
//! [`extern_block`] (the two item kinds).
//! The user-facing reference is `docs/attribute.md` in this package (on the macro item).

mod cfgs;
mod errors;
mod extern_block;
mod function;
mod options;
mod param_attr;
mod prologue;
mod shape;
mod valid;

#[cfg(test)]
mod snapshot;

use errors::Errors;
use options::Options;
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Item, TraitItemFn};

/// Expands `#[pointer_escapes(attr)] item`. Errors come back as
/// `compile_error!`s next to the item, stripped of the parameter attributes
/// the macro consumes, so the user sees only the real errors.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = Options::parse(attr, &mut errors);
    let output = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(f)) => function::expand(&options, f, &mut errors),
        Ok(Item::ForeignMod(block)) => extern_block::expand(&options, block, &mut errors),
        Ok(other) => refuse(&other, item, &mut errors),
        Err(e) => {
            errors.push(e);
            item
        }
    };
    let mut tokens = errors.to_compile_errors();
    tokens.extend(output);
    tokens
}

/// Records why `item` (not a function with a body, nor an extern block) is
/// refused, spanned on the keyword that says what it is, and gives back what
/// to emit in its place: the item, without the parameter attributes the
/// compiler would not know.
fn refuse(item: &Item, tokens: TokenStream, errors: &mut Errors) -> TokenStream {
    if let Item::Verbatim(_) = item {
        if let Ok(mut method) = syn::parse2::<TraitItemFn>(tokens.clone()) {
            if method.default.is_none() {
                let at = method
                    .semi_token
                    .map_or_else(|| method.sig.ident.span(), |s| s.span);
                errors.at_span(
                    at,
                    format_args!(
                        "#[pointer_escapes] needs a function body to wrap, and `{}` has none \
                         (a trait method declaration); put the attribute on the method in each \
                         `impl`, or give this method a default body",
                        method.sig.ident
                    ),
                );
                for arg in method.sig.inputs.iter_mut() {
                    let attrs = match arg {
                        syn::FnArg::Receiver(r) => &mut r.attrs,
                        syn::FnArg::Typed(t) => &mut t.attrs,
                    };
                    // Stripped only: the method is refused as a whole.
                    param_attr::take(attrs, "", &mut Errors::default());
                }
                return method.into_token_stream();
            }
        }
    }
    let (keyword, what): (&dyn ToTokens, &str) = match item {
        Item::Struct(i) => (&i.struct_token, "a struct"),
        Item::Enum(i) => (&i.enum_token, "an enum"),
        Item::Union(i) => (&i.union_token, "a union"),
        Item::Mod(i) => (&i.mod_token, "a module"),
        Item::Const(i) => (&i.const_token, "a constant"),
        Item::Static(i) => (&i.static_token, "a static"),
        Item::Impl(i) => (&i.impl_token, "an impl block"),
        Item::Trait(i) => (&i.trait_token, "a trait"),
        Item::Type(i) => (&i.type_token, "a type alias"),
        Item::Use(i) => (&i.use_token, "a use declaration"),
        Item::Macro(i) => (&i.mac.path, "a macro invocation"),
        other => (other, "this item"),
    };
    let hint = if matches!(item, Item::Impl(_) | Item::Trait(_)) {
        "; put it on each method instead"
    } else {
        ""
    };
    errors.at(
        keyword,
        format_args!(
            "#[pointer_escapes] applies to functions and extern blocks, not to {what}{hint}"
        ),
    );
    tokens
}
