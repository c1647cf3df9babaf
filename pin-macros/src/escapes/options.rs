//! The attribute's own options: `#[pointer_escapes(crate = path)]`,
//! `#[pointer_escapes(returns(retained, ..))]`,
//! `#[pointer_escapes(unchecked)]`, and on an extern block
//! `#[pointer_escapes(skip_variadic)]` and `#[pointer_escapes(raw = [vis] name)]`.
//!
//! Parsed into one struct, each option checked on its own token, so an
//! unknown or duplicated option is an error on exactly that token.

use super::errors::Errors;
use super::param_attr::{self, Entry, EscapesAttr, Place};
use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Ident, LitStr, Path, Token, Visibility};

/// What `#[pointer_escapes(..)]` was given.
pub(crate) struct Options {
    /// Path of the `pointer-escapes` crate; every generated path starts
    /// with it (`::pointer_escapes` unless `crate = ..` says otherwise).
    pub(crate) krate: Path,
    /// `returns(retained, ..)`: the pointer the function returns is kept
    /// by C; the `returns` keyword, for errors, and its keys.
    pub(crate) returns: Option<(Ident, EscapesAttr)>,
    /// `unchecked`: this item is emitted without call pins or checks,
    /// whatever the crate's `pointer_escapes_unchecked` cfg says.
    pub(crate) unchecked: bool,
    /// `skip_variadic` (extern blocks): variadic imports are emitted as
    /// plain imports, unwrapped; the keyword, for errors elsewhere.
    pub(crate) skip_variadic: Option<Ident>,
    /// `raw = [vis] name` (extern blocks): the module that holds the raw
    /// C-ABI imports, with its visibility; the `raw` keyword, for errors.
    pub(crate) raw: Option<RawModule>,
}

/// `raw = [vis] name`: where the block's raw imports are kept.
pub(crate) struct RawModule {
    pub(crate) key: Ident,
    pub(crate) vis: Visibility,
    pub(crate) name: Ident,
}

impl Options {
    /// Parses the attribute's arguments, recording every mistake in `errors`
    /// (and falling back to the defaults for what could not be read).
    pub(crate) fn parse(attr: TokenStream, errors: &mut Errors) -> Options {
        let mut krate: Option<(Ident, Path)> = None;
        let mut returns: Option<(Ident, EscapesAttr)> = None;
        let mut unchecked: Option<Ident> = None;
        let mut skip_variadic: Option<Ident> = None;
        let mut raw: Option<RawModule> = None;
        let parser = |input: ParseStream| -> syn::Result<()> {
            while !input.is_empty() {
                let key = input.call(Ident::parse_any)?;
                if key == "returns" {
                    let content;
                    syn::parenthesized!(content in input);
                    let entries = Punctuated::<Entry, Token![,]>::parse_terminated(&content)?;
                    let tokens = quote::ToTokens::to_token_stream(&key);
                    if returns.is_some() {
                        errors.at(&key, "duplicate option `returns`: give it once");
                    } else if let Some(attr) =
                        param_attr::keys(tokens, entries, Place::Returns, errors)
                    {
                        if attr.retained.is_none() {
                            errors.at(
                                &key,
                                "returns(..) needs `retained`: write returns(retained), with \
                                 `len = ..`, `bytes = ..` or `pointee = T` if needed (C keeps a \
                                 pointer returned to it)",
                            );
                        } else {
                            returns = Some((key, attr));
                        }
                    }
                } else if key == "unchecked" {
                    if unchecked.is_some() {
                        errors.at(&key, "duplicate option `unchecked`: give it once");
                    } else {
                        unchecked = Some(key);
                    }
                } else if key == "skip_variadic" {
                    if skip_variadic.is_some() {
                        errors.at(&key, "duplicate option `skip_variadic`: give it once");
                    } else {
                        skip_variadic = Some(key);
                    }
                } else if key == "raw" {
                    let (vis, name) = parse_raw_module(input, &key)?;
                    if raw.is_some() {
                        errors.at(
                            &key,
                            "duplicate option `raw`: name the module of raw imports once",
                        );
                    } else {
                        raw = Some(RawModule { key, vis, name });
                    }
                } else if key == "crate" {
                    let value = parse_crate_path(input, &key)?;
                    if krate.is_some() {
                        errors.at(
                            &key,
                            "duplicate option `crate`: give the path of the pointer-escapes \
                             crate once",
                        );
                    } else {
                        krate = Some((key, value));
                    }
                } else {
                    errors.at(
                        &key,
                        format_args!(
                            "unknown option `{key}`: #[pointer_escapes] takes `crate = path` \
                             (the path of the pointer-escapes crate, e.g. \
                             `crate = ::my_ffi::pointer_escapes`), `returns(retained, ..)`, \
                             `unchecked` (no pins or checks for this item) and, on an extern \
                             block, `skip_variadic` and `raw = name`; parameters take \
                             #[flow_through] and #[escapes(..)]"
                        ),
                    );
                    skip_to_comma(input)?;
                }
                if input.is_empty() {
                    break;
                }
                input.parse::<Token![,]>()?;
            }
            Ok(())
        };
        if let Err(e) = parser.parse2(attr) {
            errors.push(e);
        }
        Options {
            krate: krate
                .map(|(_, path)| path)
                .unwrap_or_else(default_crate_path),
            returns,
            unchecked: unchecked.is_some(),
            skip_variadic,
            raw,
        }
    }
}

/// `= path` or `= "path"` (the string form as serde spells it).
fn parse_crate_path(input: ParseStream, key: &Ident) -> syn::Result<Path> {
    if !input.peek(Token![=]) {
        return Err(syn::Error::new_spanned(
            key,
            "`crate` needs a value: write `crate = path::to::pointer_escapes`",
        ));
    }
    input.parse::<Token![=]>()?;
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        lit.parse_with(Path::parse_mod_style)
    } else {
        input.call(Path::parse_mod_style)
    }
}

/// `= name` or `= vis name`: the module of raw imports.
fn parse_raw_module(input: ParseStream, key: &Ident) -> syn::Result<(Visibility, Ident)> {
    const HOW: &str = "`raw` needs a module name: write `raw = ffi_raw` (or `raw = pub ffi_raw`); \
                       the raw C-ABI imports are then `ffi_raw::name`";
    if !input.peek(Token![=]) {
        return Err(syn::Error::new_spanned(key, HOW));
    }
    input.parse::<Token![=]>()?;
    let vis: Visibility = input.parse()?;
    let name: Ident = input.parse().map_err(|e| syn::Error::new(e.span(), HOW))?;
    Ok((vis, name))
}

/// Skips the value of an unknown option so the next one is still read.
fn skip_to_comma(input: ParseStream) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<proc_macro2::TokenTree>()?;
    }
    Ok(())
}

fn default_crate_path() -> Path {
    let span = Span::call_site();
    let mut path = Path::from(Ident::new("pointer_escapes", span));
    path.leading_colon = Some(Token![::](span));
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::{quote, ToTokens};

    fn parse(attr: TokenStream) -> (Options, Errors) {
        let mut errors = Errors::default();
        let options = Options::parse(attr, &mut errors);
        (options, errors)
    }

    fn path_text(o: &Options) -> String {
        o.krate.to_token_stream().to_string().replace(' ', "")
    }

    #[test]
    fn default_path() {
        let (o, e) = parse(quote!());
        assert!(e.is_empty());
        assert_eq!(path_text(&o), "::pointer_escapes");
    }

    #[test]
    fn crate_path_and_string_form() {
        let (o, e) = parse(quote!(crate = ::my::pe));
        assert!(e.is_empty());
        assert_eq!(path_text(&o), "::my::pe");
        let (o, e) = parse(quote!(crate = "crate::pe",));
        assert!(e.is_empty());
        assert_eq!(path_text(&o), "crate::pe");
    }

    #[test]
    fn unknown_and_duplicate_are_both_reported() {
        let (o, e) = parse(quote!(foo = 1, crate = a, crate = b, bar));
        let text = e.to_compile_errors().to_string();
        assert!(text.contains("unknown option `foo`"), "{text}");
        assert!(text.contains("unknown option `bar`"), "{text}");
        assert!(text.contains("duplicate option `crate`"), "{text}");
        assert_eq!(path_text(&o), "a");
    }

    #[test]
    fn returns() {
        let (o, e) = parse(quote!(returns(retained, len = n), crate = a));
        assert!(e.is_empty());
        let (_, attr) = o.returns.expect("returns parsed");
        assert!(attr.retained.is_some() && attr.extent.is_some());
        for (attr, expected) in [
            (quote!(returns(len = 2)), "needs `retained`"),
            (
                quote!(returns(retained, inout)),
                "unknown key `inout` in returns",
            ),
            (
                quote!(returns(retained, size = 1)),
                "unknown key `size` in returns",
            ),
            (
                quote!(returns(retained), returns(retained)),
                "duplicate option `returns`",
            ),
        ] {
            let (_, e) = parse(attr);
            let text = e.to_compile_errors().to_string();
            assert!(text.contains(expected), "{expected}: {text}");
        }
    }

    #[test]
    fn unchecked_option() {
        let (o, e) = parse(quote!(unchecked, crate = a));
        assert!(e.is_empty());
        assert!(o.unchecked);
        let (o, _) = parse(quote!());
        assert!(!o.unchecked);
        let (_, e) = parse(quote!(unchecked, unchecked));
        assert!(e
            .to_compile_errors()
            .to_string()
            .contains("duplicate option `unchecked`"));
    }

    #[test]
    fn extern_block_options() {
        let (o, e) = parse(quote!(skip_variadic, raw = pub(crate) ffi_raw));
        assert!(e.is_empty());
        assert!(o.skip_variadic.is_some());
        let raw = o.raw.expect("raw parsed");
        assert_eq!(raw.name, "ffi_raw");
        assert!(matches!(raw.vis, syn::Visibility::Restricted(_)));
        let (o, _) = parse(quote!(raw = ffi_raw));
        assert!(matches!(
            o.raw.map(|r| r.vis),
            Some(syn::Visibility::Inherited)
        ));
        for (input, expected) in [
            (quote!(raw), "`raw` needs a module name"),
            (quote!(raw = "ffi_raw"), "`raw` needs a module name"),
            (
                quote!(skip_variadic, skip_variadic),
                "duplicate option `skip_variadic`",
            ),
            (quote!(raw = a, raw = b), "duplicate option `raw`"),
        ] {
            let (_, e) = parse(input);
            let text = e.to_compile_errors().to_string();
            assert!(text.contains(expected), "{text}");
        }
    }

    #[test]
    fn crate_without_value() {
        let (_, e) = parse(quote!(crate));
        assert!(e
            .to_compile_errors()
            .to_string()
            .contains("`crate` needs a value"));
    }
}
