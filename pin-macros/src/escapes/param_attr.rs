//! The parameter attributes the macro consumes: `#[flow_through]` (with
//! its one key `referents = path`) and `#[escapes(..)]` with its keys
//! `len = expr` / `bytes = expr` / `cstr` (the extent), `out` / `inout`
//! (what C does with the pointee), `retained`, `pointee = T` and
//! `referents = path` (who reports the pointee's referents).
//!
//! [`take`] removes them from a parameter (they are not real attributes, so
//! they must never reach the compiler) and reports every malformed one.
//! Other attributes stay where they are, except near-misses of ours
//! (`#[flow_thru]`), which are reported with a suggestion and removed.

use super::errors::Errors;
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprLit, ExprUnary, Ident, Lit, Meta, Token, Type, UnOp};

/// What a parameter's attributes ask for.
#[derive(Default)]
pub(crate) struct ParamAttrs {
    /// `#[flow_through]`: the attribute, for errors about where it is used.
    pub(crate) flow_through: Option<TokenStream>,
    /// `#[flow_through(referents = path)]`.
    pub(crate) flow_referents: Option<Referents>,
    /// `#[escapes(..)]`.
    pub(crate) escapes: Option<EscapesAttr>,
}

/// A well-formed `#[escapes(..)]`: at least one key.
pub(crate) struct EscapesAttr {
    /// The whole attribute, for errors about where it is used.
    pub(crate) tokens: TokenStream,
    /// `len = ..` / `bytes = ..`.
    pub(crate) extent: Option<ExtentKind>,
    /// `out` / `inout`, with the key's token for errors.
    pub(crate) access: Option<(Access, Ident)>,
    /// `retained`: C keeps the pointer beyond the call.
    pub(crate) retained: Option<Ident>,
    /// `pointee = T`: what the (untyped) pointer points to.
    pub(crate) pointee: Option<Type>,
    /// `referents = path`: the function that reports the pointee's
    /// referents in place of `<T as Referents>`.
    pub(crate) referents: Option<Referents>,
    /// `cstr`: the extent is the NUL-terminated string's, found with
    /// `strlen` (the key's token, for errors).
    pub(crate) cstr: Option<Ident>,
}

/// `referents = path`: a function shaped like `Referents::visit_referents`,
/// `unsafe fn f<V: Visitor>(value: &T, visitor: &mut V)`, for a pointee
/// type the user cannot implement `Referents` for (orphan rule).
#[derive(Clone)]
pub(crate) struct Referents {
    /// The key, for errors about where it is used.
    pub(crate) key: Ident,
    /// The function, as the user wrote it (its span carries type errors).
    pub(crate) path: syn::ExprPath,
}

/// What C does with a pointer parameter's pointee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// `out`: C writes (or manages) the pointee; it may be uninitialised,
    /// so nothing reads it.
    Out,
    /// `inout`: the pointee is initialised and C reads it; it is checked
    /// as a `*const` pointee is.
    InOut,
}

impl Access {
    pub(crate) fn key(self) -> &'static str {
        match self {
            Access::Out => "out",
            Access::InOut => "inout",
        }
    }
}

/// How far a pointer reaches.
#[derive(Clone)]
pub(crate) enum ExtentKind {
    /// `len = expr`: that many elements.
    Len(Expr),
    /// `bytes = expr`: that many bytes.
    Bytes(Expr),
}

impl ExtentKind {
    pub(crate) fn key(&self) -> &'static str {
        match self {
            ExtentKind::Len(_) => "len",
            ExtentKind::Bytes(_) => "bytes",
        }
    }
}

const FLOW_THROUGH: &str = "flow_through";
const ESCAPES: &str = "escapes";

/// Removes `#[flow_through]` and `#[escapes(..)]` (and near-misses of them)
/// from `attrs` and returns what they say; malformed ones go to `errors`.
pub(crate) fn take(attrs: &mut Vec<Attribute>, param: &str, errors: &mut Errors) -> ParamAttrs {
    let mut found = ParamAttrs::default();
    let mut seen_escapes = false;
    attrs.retain(|attr| {
        let Some(name) = attr.path().get_ident().map(|i| i.unraw().to_string()) else {
            return true;
        };
        if name == FLOW_THROUGH {
            if found.flow_through.is_some() {
                errors.at(
                    attr,
                    format_args!("duplicate #[flow_through] on `{param}`: remove this one"),
                );
            } else if let Meta::List(list) = &attr.meta {
                if let Some(referents) = parse_flow_through(list, errors) {
                    found.flow_through = Some(attr.to_token_stream());
                    found.flow_referents = Some(referents);
                }
            } else if !matches!(attr.meta, Meta::Path(_)) {
                errors.at(&attr.meta, FLOW_THROUGH_ARGS);
            } else {
                found.flow_through = Some(attr.to_token_stream());
            }
            false
        } else if name == ESCAPES {
            if seen_escapes {
                errors.at(
                    attr,
                    format_args!(
                        "duplicate #[escapes] on `{param}`: write all its keys in one \
                         #[escapes(..)], e.g. #[escapes(out, len = n)]"
                    ),
                );
            } else {
                seen_escapes = true;
                found.escapes = parse_escapes(attr, errors);
            }
            false
        } else if let Some(meant) = near_miss(&name) {
            errors.at(
                attr.path(),
                format_args!(
                    "unknown parameter attribute `{name}`: did you mean #[{meant}]? \
                     #[pointer_escapes] understands #[flow_through], #[escapes(len = ..)], \
                     #[escapes(bytes = ..)], #[escapes(out)] and #[escapes(inout)]"
                ),
            );
            false
        } else {
            true
        }
    });
    found
}

const FLOW_THROUGH_ARGS: &str =
    "#[flow_through] takes one key, `referents = path` (the function that reports a foreign \
     pointee's referents): write #[flow_through] or #[flow_through(referents = \
     Mirror::visit_referents)], and give the pointer's extent with #[escapes(len = ..)] or \
     #[escapes(bytes = ..)]";

/// `#[flow_through(referents = path)]`: the only key it takes.
fn parse_flow_through(list: &syn::MetaList, errors: &mut Errors) -> Option<Referents> {
    let entries = match list.parse_args_with(Punctuated::<Entry, Token![,]>::parse_terminated) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let mut found: Option<Referents> = None;
    let mut ok = true;
    for Entry { key, value } in entries {
        match (key.unraw().to_string().as_str(), value) {
            ("referents", value) => match referents_value(&key, value, errors) {
                Some(_) if found.is_some() => {
                    errors.at(
                        &key,
                        "duplicate `referents` in #[flow_through(..)]: give it once",
                    );
                    ok = false;
                }
                Some(r) => found = Some(r),
                None => ok = false,
            },
            _ => {
                errors.at(&key, FLOW_THROUGH_ARGS);
                ok = false;
            }
        }
    }
    if found.is_none() && ok {
        errors.at(list, FLOW_THROUGH_ARGS);
    }
    found.filter(|_| ok)
}

/// The value of `referents = ..`: a path to a function.
fn referents_value(key: &Ident, value: Option<Value>, errors: &mut Errors) -> Option<Referents> {
    const HINT: &str = "`referents` needs the path of a function shaped like \
                        `Referents::visit_referents`: write `referents = \
                        Mirror::visit_referents`, where `unsafe fn visit_referents<V: \
                        Visitor>(value: &T, visitor: &mut V)` reports the referents of the \
                        pointee `T` (`#[derive(Referents)] #[referents(remote = T)]` on a \
                        mirror struct generates one)";
    match value {
        Some(Value::Expr(Expr::Path(path))) if path.attrs.is_empty() && path.qself.is_none() => {
            Some(Referents {
                key: key.clone(),
                path,
            })
        }
        Some(Value::Expr(other)) => {
            errors.at(&other, HINT);
            None
        }
        Some(Value::Type(ty)) => {
            errors.at(&ty, HINT);
            None
        }
        None => {
            errors.at(key, HINT);
            None
        }
    }
}

const NEEDS_KEY: &str = "#[escapes] needs an extent or an access: write #[escapes(len = <element \
                         count>)] or #[escapes(bytes = <byte count>)], or #[escapes(out)] / \
                         #[escapes(inout)] (without #[escapes] a raw pointer pins one element)";

/// `#[escapes(key, ..)]`: `len = expr`, `bytes = expr`, `out`, `inout`.
fn parse_escapes(attr: &Attribute, errors: &mut Errors) -> Option<EscapesAttr> {
    let list = match &attr.meta {
        Meta::List(list) => list,
        Meta::Path(_) => {
            errors.at(attr, NEEDS_KEY);
            return None;
        }
        Meta::NameValue(nv) => {
            errors.at(
                nv.eq_token,
                "write #[escapes(len = ..)] or #[escapes(bytes = ..)], with parentheses",
            );
            return None;
        }
    };
    let entries = match list.parse_args_with(Punctuated::<Entry, Token![,]>::parse_terminated) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    if entries.is_empty() {
        errors.at(attr, NEEDS_KEY);
        return None;
    }
    keys(attr.to_token_stream(), entries, Place::Param, errors)
}

/// Where the keys are written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// `#[escapes(..)]` on a parameter.
    Param,
    /// `#[pointer_escapes(returns(..))]`: no `out` / `inout`.
    Returns,
}

/// The meaning of `entries`, every mistake reported; `None` if any.
pub(crate) fn keys(
    tokens: TokenStream,
    entries: Punctuated<Entry, Token![,]>,
    place: Place,
    errors: &mut Errors,
) -> Option<EscapesAttr> {
    let mut retained: Option<Ident> = None;
    let mut pointee: Option<Type> = None;
    let mut extent: Option<ExtentKind> = None;
    let mut access: Option<(Access, Ident)> = None;
    let mut referents: Option<Referents> = None;
    let mut cstr: Option<Ident> = None;
    let mut ok = true;
    for Entry { key, value } in entries {
        let name = key.unraw().to_string();
        let value = match value {
            // Only `pointee` is parsed with a type.
            Some(Value::Type(ty)) => {
                if pointee.is_some() {
                    errors.at(&key, "duplicate `pointee` in #[escapes(..)]: give it once");
                    ok = false;
                } else {
                    pointee = Some(ty);
                }
                continue;
            }
            Some(Value::Expr(e)) => Some(e),
            None => None,
        };
        match (name.as_str(), value) {
            ("referents" | "cstr", _) if place == Place::Returns => {
                errors.at(
                    &key,
                    format_args!(
                        "`{key}` is not supported in returns(..): write `retained`, with `len = \
                         ..`, `bytes = ..` or `pointee = T` (a returned string's extent is \
                         `bytes = libc::strlen(p) + 1`)"
                    ),
                );
                ok = false;
            }
            ("referents", value) => match referents_value(&key, value.map(Value::Expr), errors) {
                Some(_) if referents.is_some() => {
                    errors.at(
                        &key,
                        "duplicate `referents` in #[escapes(..)]: give it once",
                    );
                    ok = false;
                }
                Some(r) => referents = Some(r),
                None => ok = false,
            },
            ("cstr", Some(_)) => {
                errors.at(&key, "`cstr` takes no value: write #[escapes(cstr)]");
                ok = false;
            }
            ("cstr", None) => {
                if cstr.is_some() {
                    errors.at(&key, "duplicate `cstr` in #[escapes(..)]: give it once");
                    ok = false;
                } else {
                    cstr = Some(key);
                }
            }
            ("pointee", None) => {
                errors.at(
                    &key,
                    "`pointee` needs a type: write `pointee = T` (what the pointer points to)",
                );
                ok = false;
            }
            ("retained", Some(_)) => {
                errors.at(&key, "`retained` takes no value: write `retained`");
                ok = false;
            }
            ("retained", None) => {
                if retained.is_some() {
                    errors.at(&key, "duplicate `retained` in #[escapes(..)]: give it once");
                    ok = false;
                } else {
                    retained = Some(key);
                }
            }
            ("out" | "inout", _) if place == Place::Returns => {
                errors.at(
                    &key,
                    format_args!(
                        "unknown key `{key}` in returns(..): a returned pointer is checked as C \
                         will keep it; write `retained`, with `len = ..`, `bytes = ..` or \
                         `pointee = T` if needed"
                    ),
                );
                ok = false;
            }
            ("len" | "bytes", None) => {
                errors.at(
                    &key,
                    format_args!("`{key}` needs a value: write `{key} = <integer expression>`"),
                );
                ok = false;
            }
            ("len" | "bytes", Some(value)) => {
                let new = if name == "len" {
                    ExtentKind::Len(value)
                } else {
                    ExtentKind::Bytes(value)
                };
                if let Some(bad) = non_integer_literal(new.expr()) {
                    errors.at(
                        bad,
                        format_args!(
                            "`{}` must be an integer expression, not a {}: write e.g. `{} = n` \
                             or `{} = 16`",
                            new.key(),
                            literal_kind(bad),
                            new.key(),
                            new.key()
                        ),
                    );
                    ok = false;
                }
                ok &= choose_one(
                    &mut extent,
                    new,
                    |old, new| old.key() == new.key(),
                    &key,
                    "`len` and `bytes` together: an extent is either an element count \
                     (`len = ..`) or a byte count (`bytes = ..`); keep one",
                    errors,
                );
            }
            ("out" | "inout", Some(_)) => {
                errors.at(
                    &key,
                    format_args!("`{key}` takes no value: write #[escapes({key})]"),
                );
                ok = false;
            }
            ("out" | "inout", None) => {
                let new = if name == "out" {
                    Access::Out
                } else {
                    Access::InOut
                };
                ok &= choose_one(
                    &mut access,
                    (new, key.clone()),
                    |(old, _), (new, _)| old == new,
                    &key,
                    "`out` and `inout` together: the pointee is either written by C and \
                     possibly uninitialised before the call (`out`, never read) or initialised \
                     and read by C (`inout`, checked); keep one",
                    errors,
                );
            }
            _ if place == Place::Returns => {
                errors.at(
                    &key,
                    format_args!(
                        "unknown key `{key}` in returns(..): write `retained`, with `len = \
                         <element count>`, `bytes = <byte count>` or `pointee = T` if needed"
                    ),
                );
                ok = false;
            }
            _ => {
                errors.at(
                    &key,
                    format_args!(
                        "unknown key `{key}` in #[escapes(..)]: write `len = <element count>`, \
                         `bytes = <byte count>`, `cstr` (a NUL-terminated string), `out` (C \
                         writes the pointee), `inout` (C reads and writes it), `retained` (C \
                         keeps the pointer), `pointee = T` (what an untyped pointer points to) \
                         or `referents = path` (the function that reports a foreign pointee's \
                         referents)"
                    ),
                );
                ok = false;
            }
        }
    }
    ok &= foreign_conflicts(&cstr, &referents, &extent, &access, &pointee, errors);
    ok.then_some(EscapesAttr {
        tokens,
        extent,
        access,
        retained,
        pointee,
        referents,
        cstr,
    })
}

/// The keys `cstr` and `referents` exclude, each reported on the
/// `cstr` / `referents` key.
fn foreign_conflicts(
    cstr: &Option<Ident>,
    referents: &Option<Referents>,
    extent: &Option<ExtentKind>,
    access: &Option<(Access, Ident)>,
    pointee: &Option<Type>,
    errors: &mut Errors,
) -> bool {
    let mut ok = true;
    if let Some(cstr) = cstr {
        let other = match (extent, pointee, referents, access) {
            (Some(extent), ..) => Some(format!(
                "`cstr` and `{}` together: `cstr` takes the string's extent from its NUL, \
                 `{} = ..` gives one; keep one",
                extent.key(),
                extent.key()
            )),
            (_, Some(_), ..) => Some(
                "`cstr` and `pointee` together: a C string points at `c_char`s; remove \
                 `pointee = ..` (or `cstr` if the pointer is not a string)"
                    .to_string(),
            ),
            (_, _, Some(_), _) => Some(
                "`cstr` and `referents` together: a C string holds no pointers; remove \
                 `referents = ..`"
                    .to_string(),
            ),
            (_, _, _, Some((Access::Out, _))) => Some(
                "`cstr` and `out` together: `cstr` finds the extent with `strlen`, which reads \
                 the string, but an out-parameter's pointee is written by C and may hold no NUL \
                 yet; for a buffer C fills, write #[escapes(out, bytes = <capacity>)]"
                    .to_string(),
            ),
            _ => None,
        };
        if let Some(message) = other {
            errors.at(cstr, message);
            ok = false;
        }
    }
    if let (Some(referents), Some((Access::Out, _))) = (referents, access) {
        errors.at(
            &referents.key,
            "`referents` and `out` together: `referents = ..` reads the pointee to report what \
             it points to, but an out-parameter's pointee is written by C and may be \
             uninitialised; keep `out` if C writes it, or write `inout` with `referents = ..`",
        );
        ok = false;
    }
    ok
}

/// Records `new` in `slot`, one of two keys that exclude each other
/// (`len`/`bytes`, `out`/`inout`): the same key again is a duplicate, the
/// other one the `conflict`. False (with the error on `key`) when refused.
fn choose_one<T>(
    slot: &mut Option<T>,
    new: T,
    same_key: impl Fn(&T, &T) -> bool,
    key: &Ident,
    conflict: &str,
    errors: &mut Errors,
) -> bool {
    match &*slot {
        None => {
            *slot = Some(new);
            true
        }
        Some(old) if same_key(old, &new) => {
            errors.at(
                key,
                format_args!("duplicate `{key}` in #[escapes(..)]: give it once"),
            );
            false
        }
        Some(_) => {
            errors.at(key, conflict);
            false
        }
    }
}

impl ExtentKind {
    pub(crate) fn expr(&self) -> &Expr {
        match self {
            ExtentKind::Len(e) | ExtentKind::Bytes(e) => e,
        }
    }
}

/// `key`, `key = expr` or `pointee = Type` inside `#[escapes(..)]`.
pub(crate) struct Entry {
    key: Ident,
    value: Option<Value>,
}

enum Value {
    Expr(Expr),
    Type(Type),
}

impl syn::parse::Parse for Entry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key = input.call(Ident::parse_any)?;
        if !input.peek(Token![=]) {
            return Ok(Entry { key, value: None });
        }
        input.parse::<Token![=]>()?;
        let value = if key.unraw() == "pointee" {
            Value::Type(input.parse()?)
        } else {
            Value::Expr(input.parse()?)
        };
        Ok(Entry {
            key,
            value: Some(value),
        })
    }
}

/// A literal that can never be a length (`1.5`, `-2.0`, `"3"`, `true`):
/// refused here with a precise span rather than by a trait error.
fn non_integer_literal(expr: &Expr) -> Option<&Lit> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => (!matches!(lit, Lit::Int(_))).then_some(lit),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => non_integer_literal(expr),
        Expr::Paren(p) => non_integer_literal(&p.expr),
        Expr::Group(g) => non_integer_literal(&g.expr),
        _ => None,
    }
}

fn literal_kind(lit: &Lit) -> &'static str {
    match lit {
        Lit::Float(_) => "float literal",
        Lit::Str(_) | Lit::CStr(_) => "string literal",
        Lit::ByteStr(_) => "byte string literal",
        Lit::Bool(_) => "bool literal",
        Lit::Char(_) => "char literal",
        Lit::Byte(_) => "byte literal",
        _ => "literal that is not an integer",
    }
}

/// Which of our attributes `name` looks like a misspelling of.
fn near_miss(name: &str) -> Option<&'static str> {
    let squashed: String = name
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    if squashed.starts_with("flow") || edit_distance(&squashed, "flowthrough") <= 3 {
        Some(FLOW_THROUGH)
    } else if squashed.starts_with("escape") || edit_distance(&squashed, "escapes") <= 2 {
        Some("escapes(len = ..)")
    } else {
        None
    }
}

/// Levenshtein distance (names are short: the quadratic table is tiny).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn take_from(mut attrs: Vec<Attribute>) -> (ParamAttrs, Vec<Attribute>, String) {
        let mut errors = Errors::default();
        let found = take(&mut attrs, "p", &mut errors);
        (found, attrs, errors.to_compile_errors().to_string())
    }

    #[test]
    fn takes_ours_and_keeps_the_rest() {
        let (found, rest, errors) = take_from(vec![
            parse_quote!(#[flow_through]),
            parse_quote!(#[cfg(unix)]),
            parse_quote!(#[escapes(len = n * 2)]),
        ]);
        assert!(errors.is_empty(), "{errors}");
        assert!(found.flow_through.is_some());
        assert!(matches!(
            found.escapes.unwrap().extent,
            Some(ExtentKind::Len(_))
        ));
        assert_eq!(rest.len(), 1);
        assert!(rest[0].path().is_ident("cfg"));
    }

    #[test]
    fn bytes_key() {
        let (found, _, errors) = take_from(vec![parse_quote!(#[escapes(bytes = size,)])]);
        assert!(errors.is_empty(), "{errors}");
        assert!(matches!(
            found.escapes.unwrap().extent,
            Some(ExtentKind::Bytes(_))
        ));
    }

    #[test]
    fn malformed_escapes() {
        for (attr, expected) in [
            (parse_quote!(#[escapes]), "needs an extent"),
            (parse_quote!(#[escapes()]), "needs an extent"),
            (parse_quote!(#[escapes = 3]), "with parentheses"),
            (parse_quote!(#[escapes(count = 3)]), "unknown key `count`"),
            (
                parse_quote!(#[escapes(len = 1, len = 2)]),
                "duplicate `len`",
            ),
            (
                parse_quote!(#[escapes(len = 1, bytes = 2)]),
                "`len` and `bytes` together",
            ),
            (parse_quote!(#[escapes(len = 1.5)]), "not a float literal"),
            (parse_quote!(#[escapes(len = -1.5)]), "not a float literal"),
            (
                parse_quote!(#[escapes(bytes = "8")]),
                "not a string literal",
            ),
            (parse_quote!(#[escapes(len = true)]), "not a bool literal"),
            (parse_quote!(#[escapes(len)]), "`len` needs a value"),
        ] {
            let (found, rest, errors) = take_from(vec![attr]);
            assert!(errors.contains(expected), "{expected}: {errors}");
            assert!(found.escapes.is_none());
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn integer_expressions_are_accepted() {
        for attr in [
            parse_quote!(#[escapes(len = 3)]),
            parse_quote!(#[escapes(len = -1)]),
            parse_quote!(#[escapes(len = n as usize)]),
            parse_quote!(#[escapes(bytes = nmemb * size)]),
        ] {
            let (found, _, errors) = take_from(vec![attr]);
            assert!(errors.is_empty(), "{errors}");
            assert!(found.escapes.is_some());
        }
    }

    #[test]
    fn duplicates() {
        let (_, _, errors) = take_from(vec![
            parse_quote!(#[flow_through]),
            parse_quote!(#[flow_through]),
        ]);
        assert!(errors.contains("duplicate #[flow_through]"), "{errors}");
        let (found, _, errors) = take_from(vec![
            parse_quote!(#[escapes(len = 1)]),
            parse_quote!(#[escapes(bytes = 1)]),
        ]);
        assert!(errors.contains("duplicate #[escapes]"), "{errors}");
        assert!(matches!(
            found.escapes.unwrap().extent,
            Some(ExtentKind::Len(_))
        ));
    }

    #[test]
    fn out_and_inout() {
        let (found, _, errors) = take_from(vec![parse_quote!(#[escapes(out, len = n)])]);
        assert!(errors.is_empty(), "{errors}");
        let escapes = found.escapes.unwrap();
        assert!(matches!(escapes.access, Some((Access::Out, _))));
        assert!(matches!(escapes.extent, Some(ExtentKind::Len(_))));
        let (found, _, errors) = take_from(vec![parse_quote!(#[escapes(inout)])]);
        assert!(errors.is_empty(), "{errors}");
        assert!(matches!(
            found.escapes.unwrap().access,
            Some((Access::InOut, _))
        ));
        for (attr, expected) in [
            (parse_quote!(#[escapes(out, out)]), "duplicate `out`"),
            (
                parse_quote!(#[escapes(out, inout)]),
                "`out` and `inout` together",
            ),
            (parse_quote!(#[escapes(out = 1)]), "`out` takes no value"),
        ] {
            let (found, _, errors) = take_from(vec![attr]);
            assert!(errors.contains(expected), "{expected}: {errors}");
            assert!(found.escapes.is_none());
        }
    }

    #[test]
    fn retained_and_pointee() {
        let (found, _, errors) = take_from(vec![parse_quote!(
            #[escapes(retained, pointee = libc::msghdr, len = 2)]
        )]);
        assert!(errors.is_empty(), "{errors}");
        let escapes = found.escapes.unwrap();
        assert!(escapes.retained.is_some());
        assert!(escapes.pointee.is_some());
        for (attr, expected) in [
            (
                parse_quote!(#[escapes(retained, retained)]),
                "duplicate `retained`",
            ),
            (parse_quote!(#[escapes(retained = 1)]), "takes no value"),
            (parse_quote!(#[escapes(pointee)]), "`pointee` needs a type"),
            (
                parse_quote!(#[escapes(pointee = u8, pointee = u16)]),
                "duplicate `pointee`",
            ),
        ] {
            let (found, _, errors) = take_from(vec![attr]);
            assert!(errors.contains(expected), "{expected}: {errors}");
            assert!(found.escapes.is_none());
        }
    }

    #[test]
    fn flow_through_takes_only_referents() {
        let (found, _, errors) = take_from(vec![parse_quote!(#[flow_through(len = 2)])]);
        assert!(
            errors.contains("takes one key, `referents = path`"),
            "{errors}"
        );
        assert!(found.flow_through.is_none());
        let (found, _, errors) = take_from(vec![parse_quote!(
            #[flow_through(referents = Mirror::visit_referents)]
        )]);
        assert!(errors.is_empty(), "{errors}");
        assert!(found.flow_through.is_some() && found.flow_referents.is_some());
        for (attr, expected) in [
            (parse_quote!(#[flow_through()]), "takes one key"),
            (parse_quote!(#[flow_through(referents)]), "needs the path"),
            (
                parse_quote!(#[flow_through(referents = 1 + 2)]),
                "needs the path",
            ),
            (
                parse_quote!(#[flow_through(referents = a, referents = b)]),
                "duplicate `referents`",
            ),
        ] {
            let (found, _, errors) = take_from(vec![attr]);
            assert!(errors.contains(expected), "{expected}: {errors}");
            assert!(found.flow_referents.is_none());
        }
    }

    #[test]
    fn referents_and_cstr_keys() {
        let (found, _, errors) = take_from(vec![parse_quote!(
            #[escapes(referents = m::visit, retained, len = n, pointee = libc::msghdr)]
        )]);
        assert!(errors.is_empty(), "{errors}");
        assert!(found.escapes.unwrap().referents.is_some());
        let (found, _, errors) = take_from(vec![parse_quote!(#[escapes(cstr, retained)])]);
        assert!(errors.is_empty(), "{errors}");
        assert!(found.escapes.unwrap().cstr.is_some());
        for (attr, expected) in [
            (
                parse_quote!(#[escapes(cstr, len = 2)]),
                "`cstr` and `len` together",
            ),
            (
                parse_quote!(#[escapes(bytes = 2, cstr)]),
                "`cstr` and `bytes` together",
            ),
            (
                parse_quote!(#[escapes(cstr, pointee = u8)]),
                "`cstr` and `pointee`",
            ),
            (
                parse_quote!(#[escapes(cstr, referents = f)]),
                "`cstr` and `referents`",
            ),
            (parse_quote!(#[escapes(cstr, out)]), "`cstr` and `out`"),
            (parse_quote!(#[escapes(cstr, cstr)]), "duplicate `cstr`"),
            (parse_quote!(#[escapes(cstr = 1)]), "`cstr` takes no value"),
            (
                parse_quote!(#[escapes(referents = f, out)]),
                "`referents` and `out`",
            ),
            (
                parse_quote!(#[escapes(referents = f, referents = g)]),
                "duplicate `referents`",
            ),
            (parse_quote!(#[escapes(referents = "f")]), "needs the path"),
        ] {
            let (found, _, errors) = take_from(vec![attr]);
            assert!(errors.contains(expected), "{expected}: {errors}");
            assert!(found.escapes.is_none());
        }
    }

    #[test]
    fn near_misses_are_reported_and_removed() {
        for name in [
            "flow_thru",
            "flowthrough",
            "flow_through_",
            "escape",
            "escpes",
        ] {
            let ident = Ident::new(name, proc_macro2::Span::call_site());
            let (_, rest, errors) = take_from(vec![parse_quote!(#[#ident])]);
            assert!(errors.contains("did you mean"), "{name}: {errors}");
            assert!(rest.is_empty());
        }
        for name in ["cfg", "allow", "expect", "doc", "deny"] {
            assert_eq!(near_miss(name), None, "{name}");
        }
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("flowthru", "flowthrough"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("escapes", "escapes"), 0);
    }
}
