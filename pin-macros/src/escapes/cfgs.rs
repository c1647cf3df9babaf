//! `#[cfg]` and `#[cfg_attr]` in generated code.
//!
//! A proc macro runs before the compiler evaluates `cfg`s, so it sees every
//! `#[cfg]` / `#[cfg_attr]` unevaluated and cannot tell which parameters
//! will exist. Two consequences, handled here:
//! - Every place the expansion names a parameter (a pin, a check, a rebind,
//!   the call to the import) carries the parameter's cfgs, so it disappears
//!   with the parameter ([`presence`], [`predicate`]).
//! - The attributes of a foreign function are split between the raw import
//!   and its wrapper by what they mean, looking inside `cfg_attr`:
//!   `cfg_attr(target_os = "linux", link_name = "abs")` (the libc crate's
//!   idiom for per-target symbols) must stay on the import or the wrong
//!   symbol is linked ([`split_foreign_attrs`], [`link_name_condition`]).

use super::errors::Errors;
use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::punctuated::Punctuated;
use syn::{Attribute, Meta, Token};

/// `cfg_attr(predicate, items..)`, read.
struct CfgAttr {
    predicate: Meta,
    items: Vec<Meta>,
}

/// Reads `meta` as a `cfg_attr`; `None` for any other attribute, and for a
/// `cfg_attr` whose items are not plain metas (`unsafe(..)`): those are left
/// where they are and untouched.
fn cfg_attr(meta: &Meta) -> Option<CfgAttr> {
    let Meta::List(list) = meta else { return None };
    if !list.path.is_ident("cfg_attr") {
        return None;
    }
    let mut parts = list
        .parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
        .ok()?
        .into_iter();
    let predicate = parts.next()?;
    Some(CfgAttr {
        predicate,
        items: parts.collect(),
    })
}

/// `cfg_attr(predicate, items..)`, or nothing when no item is left.
fn rebuild(predicate: &Meta, items: Vec<Meta>) -> Option<Meta> {
    if items.is_empty() {
        return None;
    }
    Some(syn::parse_quote!(cfg_attr(#predicate, #(#items),*)))
}

/// `attr` with `meta` in place of its own (keeping its `#` and brackets, so
/// its spans).
fn with_meta(attr: &Attribute, meta: Meta) -> Attribute {
    Attribute {
        meta,
        ..attr.clone()
    }
}

/// The attributes that decide whether a parameter exists: each `#[cfg]` as
/// written, and each `#[cfg_attr]` reduced to the `cfg`s it holds (at any
/// depth). Put on a statement that names the parameter, they remove it
/// exactly when the parameter is removed.
pub(crate) fn presence(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter_map(|a| presence_meta(&a.meta).map(|m| with_meta(a, m)))
        .collect()
}

fn presence_meta(meta: &Meta) -> Option<Meta> {
    if meta.path().is_ident("cfg") {
        return Some(meta.clone());
    }
    let c = cfg_attr(meta)?;
    rebuild(
        &c.predicate,
        c.items.iter().filter_map(presence_meta).collect(),
    )
}

/// The condition under which a parameter with `attrs` exists, as a cfg
/// predicate; `None` when it always does. `cfg(p)` exists when `p`;
/// `cfg_attr(p, cfg(q))` when `any(not(p), q)`.
pub(crate) fn predicate(attrs: &[Attribute]) -> Option<TokenStream> {
    let parts: Vec<TokenStream> = presence(attrs)
        .iter()
        .filter_map(|a| meta_predicate(&a.meta))
        .collect();
    match parts.len() {
        0 => None,
        1 => parts.into_iter().next(),
        _ => Some(quote!(all(#(#parts),*))),
    }
}

fn meta_predicate(meta: &Meta) -> Option<TokenStream> {
    if let Meta::List(list) = meta {
        if list.path.is_ident("cfg") {
            return Some(list.tokens.clone());
        }
    }
    let c = cfg_attr(meta)?;
    let inner: Vec<TokenStream> = c.items.iter().filter_map(meta_predicate).collect();
    let p = &c.predicate;
    // `all(..)` of one item is what Clippy's `non_minimal_cfg` flags.
    let inner = match inner.as_slice() {
        [one] => one.clone(),
        _ => quote!(all(#(#inner),*)),
    };
    Some(quote!(any(not(#p), #inner)))
}

/// Refuses `#[flow_through]` / `#[escapes(..)]` inside a parameter's
/// `cfg_attr` and removes them: the macro reads its attributes before
/// `cfg_attr` is expanded, so there they would never be seen and the check
/// the user asked for would silently not exist.
pub(crate) fn refuse_hidden_param_attrs(
    attrs: &mut Vec<Attribute>,
    param: &str,
    errors: &mut Errors,
) {
    let mut kept = Vec::with_capacity(attrs.len());
    for attr in attrs.drain(..) {
        match without_ours(&attr.meta, param, errors) {
            Some(Some(meta)) => kept.push(with_meta(&attr, meta)),
            Some(None) => {}
            None => kept.push(attr),
        }
    }
    *attrs = kept;
}

/// `None`: `meta` holds none of our attributes; `Some(rest)`: it did, they
/// were reported, `rest` is what is left of it.
fn without_ours(meta: &Meta, param: &str, errors: &mut Errors) -> Option<Option<Meta>> {
    let c = cfg_attr(meta)?;
    let mut found = false;
    let mut items = Vec::new();
    for item in &c.items {
        let name = item.path().get_ident().map(ToString::to_string);
        if let Some(name @ ("flow_through" | "escapes")) = name.as_deref() {
            found = true;
            errors.at(
                item,
                format_args!(
                    "#[{name}] inside #[cfg_attr] on `{param}` is never seen: #[pointer_escapes] \
                     reads its parameter attributes before cfg_attr is expanded; write #[{name}] \
                     without cfg_attr (put the #[cfg] on the whole parameter if it only exists \
                     on some targets)"
                ),
            );
            continue;
        }
        match without_ours(item, param, errors) {
            Some(rest) => {
                found = true;
                items.extend(rest);
            }
            None => items.push(item.clone()),
        }
    }
    found.then(|| rebuild(&c.predicate, items))
}

/// Where an attribute of a foreign function goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Home {
    /// What the linker or the foreign declaration reads.
    Import,
    /// What the user's calls and docs read.
    Wrapper,
    /// `cfg` (both exist or neither) and the lint levels a raw import in
    /// its own module also needs (`allow(improper_ctypes)`).
    Both,
}

fn home(meta: &Meta) -> Home {
    let path = meta.path();
    if ["link_name", "link_ordinal", "ffi_pure", "ffi_const"]
        .iter()
        .any(|n| path.is_ident(n))
    {
        Home::Import
    } else if ["cfg", "allow", "warn", "deny", "forbid"]
        .iter()
        .any(|n| path.is_ident(n))
    {
        Home::Both
    } else {
        Home::Wrapper
    }
}

/// Splits a foreign function's attributes into those of the raw import and
/// those of the wrapper (in order), splitting each `cfg_attr` by what it
/// holds: `cfg_attr(p, link_name = "x", doc = "..")` becomes
/// `cfg_attr(p, link_name = "x")` on the import and `cfg_attr(p, doc = "..")`
/// on the wrapper.
pub(crate) fn split_foreign_attrs(attrs: &[Attribute]) -> (Vec<Attribute>, Vec<Attribute>) {
    let mut import = Vec::new();
    let mut wrapper = Vec::new();
    for attr in attrs {
        let (i, w) = split_meta(&attr.meta);
        import.extend(i.map(|m| with_meta(attr, m)));
        wrapper.extend(w.map(|m| with_meta(attr, m)));
    }
    (import, wrapper)
}

fn split_meta(meta: &Meta) -> (Option<Meta>, Option<Meta>) {
    let Some(c) = cfg_attr(meta) else {
        return match home(meta) {
            Home::Import => (Some(meta.clone()), None),
            // An unreadable `cfg_attr` too: where it has always gone.
            Home::Wrapper => (None, Some(meta.clone())),
            Home::Both => (Some(meta.clone()), Some(meta.clone())),
        };
    };
    let mut import = Vec::new();
    let mut wrapper = Vec::new();
    for item in &c.items {
        let (i, w) = split_meta(item);
        import.extend(i);
        wrapper.extend(w);
    }
    (
        rebuild(&c.predicate, import),
        rebuild(&c.predicate, wrapper),
    )
}

/// When a `link_name` among an import's attributes applies.
pub(crate) enum Condition {
    Never,
    Always,
    /// Under this cfg predicate.
    When(TokenStream),
}

/// When one of `attrs` (an import's) gives it a `link_name`. The import's
/// own `link_name` must be added exactly when none does: two would be a
/// conflict, none (for a renamed import) the wrong symbol.
pub(crate) fn link_name_condition(attrs: &[Attribute]) -> Condition {
    attrs
        .iter()
        .map(|a| meta_link_name(&a.meta))
        .fold(Condition::Never, any)
}

fn meta_link_name(meta: &Meta) -> Condition {
    if meta.path().is_ident("link_name") {
        return Condition::Always;
    }
    let Some(c) = cfg_attr(meta) else {
        return Condition::Never;
    };
    let p = &c.predicate;
    match c
        .items
        .iter()
        .map(meta_link_name)
        .fold(Condition::Never, any)
    {
        Condition::Never => Condition::Never,
        Condition::Always => Condition::When(p.to_token_stream()),
        Condition::When(q) => Condition::When(quote!(all(#p, #q))),
    }
}

fn any(a: Condition, b: Condition) -> Condition {
    match (a, b) {
        (Condition::Always, _) | (_, Condition::Always) => Condition::Always,
        (Condition::Never, c) | (c, Condition::Never) => c,
        (Condition::When(p), Condition::When(q)) => Condition::When(quote!(any(#p, #q))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn text(attrs: &[Attribute]) -> String {
        attrs
            .iter()
            .map(|a| a.to_token_stream().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn presence_keeps_cfgs_and_the_cfgs_inside_cfg_attr() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[cfg(unix)]),
            parse_quote!(#[allow(unused)]),
            parse_quote!(#[cfg_attr(feature = "x", cfg(linux), allow(unused))]),
            parse_quote!(#[cfg_attr(feature = "y", allow(unused))]),
            parse_quote!(#[cfg_attr(a, cfg_attr(b, cfg(c)))]),
        ];
        assert_eq!(
            text(&presence(&attrs)),
            "# [cfg (unix)] # [cfg_attr (feature = \"x\" , cfg (linux))] \
             # [cfg_attr (a , cfg_attr (b , cfg (c)))]"
        );
        assert_eq!(
            predicate(&attrs).map(|p| p.to_string()).as_deref(),
            Some(
                "all (unix , any (not (feature = \"x\") , linux) , \
                 any (not (a) , any (not (b) , c)))"
            )
        );
        assert!(predicate(&[parse_quote!(#[allow(unused)])]).is_none());
    }

    #[test]
    fn import_attributes_stay_on_the_import_inside_cfg_attr() {
        let attrs: Vec<Attribute> = vec![
            parse_quote!(#[doc = "d"]),
            parse_quote!(#[cfg(unix)]),
            parse_quote!(#[cfg_attr(target_os = "linux", link_name = "abs", must_use)]),
            parse_quote!(#[allow(improper_ctypes)]),
            parse_quote!(#[cfg_attr(a, cfg_attr(b, link_ordinal(3)))]),
        ];
        let (import, wrapper) = split_foreign_attrs(&attrs);
        assert_eq!(
            text(&import),
            "# [cfg (unix)] # [cfg_attr (target_os = \"linux\" , link_name = \"abs\")] \
             # [allow (improper_ctypes)] # [cfg_attr (a , cfg_attr (b , link_ordinal (3)))]"
        );
        assert_eq!(
            text(&wrapper),
            "# [doc = \"d\"] # [cfg (unix)] # [cfg_attr (target_os = \"linux\" , must_use)] \
             # [allow (improper_ctypes)]"
        );
    }

    #[test]
    fn link_name_conditions() {
        let when = |attrs: Vec<Attribute>| match link_name_condition(&attrs) {
            Condition::Never => "never".to_string(),
            Condition::Always => "always".to_string(),
            Condition::When(p) => p.to_string(),
        };
        assert_eq!(when(vec![parse_quote!(#[cfg(unix)])]), "never");
        assert_eq!(when(vec![parse_quote!(#[link_name = "a"])]), "always");
        assert_eq!(
            when(vec![parse_quote!(#[cfg_attr(linux, link_name = "a")])]),
            "linux"
        );
        assert_eq!(
            when(vec![
                parse_quote!(#[cfg_attr(a, cfg_attr(b, link_name = "x"))]),
                parse_quote!(#[cfg_attr(c, link_name = "y")]),
            ]),
            "any (all (a , b) , c)"
        );
        assert_eq!(
            when(vec![
                parse_quote!(#[cfg_attr(c, link_name = "y")]),
                parse_quote!(#[link_name = "z"]),
            ]),
            "always"
        );
    }

    #[test]
    fn our_attributes_inside_cfg_attr_are_refused_and_removed() {
        let mut attrs: Vec<Attribute> = vec![
            parse_quote!(#[cfg_attr(feature = "x", flow_through)]),
            parse_quote!(#[cfg_attr(a, allow(unused), cfg_attr(b, escapes(len = 2)))]),
            parse_quote!(#[cfg_attr(a, allow(unused))]),
        ];
        let mut errors = Errors::default();
        refuse_hidden_param_attrs(&mut attrs, "p", &mut errors);
        let message = errors.to_compile_errors().to_string();
        assert!(message.contains("#[flow_through] inside #[cfg_attr] on `p`"));
        assert!(message.contains("#[escapes] inside #[cfg_attr] on `p`"));
        assert_eq!(
            text(&attrs),
            "# [cfg_attr (a , allow (unused))] # [cfg_attr (a , allow (unused))]"
        );
    }
}
