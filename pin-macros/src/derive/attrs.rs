//! `#[referents(..)]`: the derive's options, parsed with a span per option
//! so an unknown, duplicate or conflicting option is an error on exactly
//! that token. Every `#[referents]` attribute on an item is read; options
//! may be split across several of them.

use super::errors::Errors;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprLit, ExprPath, Ident, Lit, Meta, Path, Token, WherePredicate};

/// The helper attribute's name.
const ATTR: &str = "referents";

/// One `key` or `key = value` inside `#[referents(..)]`.
struct Entry {
    key: Ident,
    value: Option<Expr>,
}

impl Parse for Entry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        // `parse_any` so that `crate` (a keyword) is accepted as a key.
        let key = input.call(Ident::parse_any)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(Entry { key, value })
    }
}

/// Every option of every `#[referents(..)]` in `attrs`, in order.
fn entries(attrs: &[Attribute], errors: &mut Errors) -> Vec<Entry> {
    let mut out = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident(ATTR)) {
        match &attr.meta {
            Meta::List(list) => {
                let parsed = list.parse_args_with(Punctuated::<Entry, Token![,]>::parse_terminated);
                if let Some(parsed) = errors.take(parsed) {
                    out.extend(parsed);
                }
            }
            _ => errors.spanned(
                attr,
                "expected a list of options: `#[referents(option, ..)]`, \
                 for example `#[referents(len = self.count)]`",
            ),
        }
    }
    out
}

/// Options on the struct or enum itself.
#[derive(Default)]
pub(crate) struct ContainerAttrs {
    /// `crate = path`: where generated code finds `pointer_escapes`.
    pub(crate) krate: Option<Path>,
    /// `bound = "T: Referents, .."`: replaces the inferred where-clause.
    pub(crate) bound: Option<Punctuated<WherePredicate, Token![,]>>,
    /// `remote = path::Type`: the derive reports the referents of that
    /// (foreign) type, whose fields this struct mirrors (the key, for
    /// errors, and the type).
    pub(crate) remote: Option<(Ident, syn::Type)>,
    /// `partial` (with `remote`): the mirror may leave fields of the remote
    /// out (needed when the remote has private fields); without it every
    /// field of the remote must be mirrored, so none is left unreported by
    /// accident.
    pub(crate) partial: Option<Ident>,
}

/// Parses the container's options; `kind` ("struct", "enum") is for messages.
pub(crate) fn container(attrs: &[Attribute], kind: &str, errors: &mut Errors) -> ContainerAttrs {
    let mut out = ContainerAttrs::default();
    for Entry { key, value } in entries(attrs, errors) {
        let name = key.to_string();
        match name.as_str() {
            "crate" => {
                if out.krate.is_some() {
                    errors.spanned(&key, "duplicate `crate` option; give it once");
                    continue;
                }
                out.krate = errors.take(crate_path(&key, value));
            }
            "remote" => {
                if out.remote.is_some() {
                    errors.spanned(&key, "duplicate `remote` option; give it once");
                    continue;
                }
                if let Some(ty) = errors.take(remote(&key, value)) {
                    out.remote = Some((key, ty));
                }
            }
            "partial" => {
                if out.partial.is_some() {
                    errors.spanned(&key, "duplicate `partial` option; give it once");
                    continue;
                }
                if let Some(value) = value {
                    errors.spanned(
                        &value,
                        "`partial` takes no value: write `#[referents(remote = path::Type, partial)]`",
                    );
                    continue;
                }
                out.partial = Some(key);
            }
            "bound" => {
                if out.bound.is_some() {
                    errors.spanned(&key, "duplicate `bound` option; give it once");
                    continue;
                }
                out.bound = errors.take(bound(&key, value));
            }
            "len" | "bytes" | "skip" => errors.spanned(
                &key,
                format!(
                    "`{name}` is a field option: put `#[referents({name}{})]` on the field, \
                     not on the {kind}",
                    if name == "skip" { "" } else { " = .." }
                ),
            ),
            _ => errors.spanned(
                &key,
                format!(
                    "unknown #[referents] option `{name}` on a {kind}; expected \
                     `crate = path`, `bound = \"T: Referents\"`, `remote = path::Type` or \
                     `partial` \
                     (field options `len`, `bytes` and `skip` go on fields)"
                ),
            ),
        }
    }
    out
}

/// `crate = ::some::path` or `crate = "some::path"`.
fn crate_path(key: &Ident, value: Option<Expr>) -> syn::Result<Path> {
    const HINT: &str = "`crate` takes the path of the pointer-escapes crate, \
                        for example `crate = ::my_facade::pointer_escapes`";
    match value {
        Some(Expr::Path(ExprPath {
            attrs,
            qself: None,
            path,
            ..
        })) if attrs.is_empty() => Ok(path),
        Some(Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        })) => s
            .parse::<Path>()
            .map_err(|e| syn::Error::new(s.span(), format!("{e}; {HINT}"))),
        Some(other) => Err(syn::Error::new_spanned(other, HINT)),
        None => Err(syn::Error::new_spanned(key, HINT)),
    }
}

/// `remote = path::Type` or `remote = "path::Type"` (serde's spelling).
fn remote(key: &Ident, value: Option<Expr>) -> syn::Result<syn::Type> {
    const HINT: &str = "`remote` takes the path of the foreign type this struct mirrors, \
                        for example `remote = libc::msghdr`";
    match value {
        Some(Expr::Path(ExprPath {
            attrs,
            qself: None,
            path,
            ..
        })) if attrs.is_empty() => Ok(syn::Type::Path(syn::TypePath { qself: None, path })),
        Some(Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        })) => s
            .parse::<syn::Type>()
            .map_err(|e| syn::Error::new(s.span(), format!("{e}; {HINT}"))),
        Some(other) => Err(syn::Error::new_spanned(other, HINT)),
        None => Err(syn::Error::new_spanned(key, HINT)),
    }
}

/// `bound = "T: Referents, U: Referents"`.
fn bound(key: &Ident, value: Option<Expr>) -> syn::Result<Punctuated<WherePredicate, Token![,]>> {
    const HINT: &str = "`bound` takes a string of where-predicates that replace the inferred \
                        ones, for example `bound = \"T: Referents\"`";
    match value {
        Some(Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        })) => s
            .parse_with(Punctuated::<WherePredicate, Token![,]>::parse_terminated)
            .map_err(|e| syn::Error::new(s.span(), format!("{e}; {HINT}"))),
        Some(other) => Err(syn::Error::new_spanned(other, HINT)),
        None => Err(syn::Error::new_spanned(key, HINT)),
    }
}

/// What a pointer field's extent counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExtentKind {
    /// `len = n`: `n` elements of the pointee.
    Len,
    /// `bytes = n`: `n` bytes.
    Bytes,
}

impl ExtentKind {
    /// The option's spelling.
    pub(crate) fn key(self) -> &'static str {
        match self {
            ExtentKind::Len => "len",
            ExtentKind::Bytes => "bytes",
        }
    }
}

/// `len = expr` or `bytes = expr` on a pointer field.
pub(crate) struct Extent {
    /// The option's key, for error spans.
    pub(crate) key: Ident,
    pub(crate) kind: ExtentKind,
    /// The user's integer expression (may read `self`).
    pub(crate) expr: Expr,
}

/// Options on one field.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    pub(crate) extent: Option<Extent>,
    /// `skip`: the field reports nothing (its key, for error spans).
    pub(crate) skip: Option<Ident>,
}

/// Parses a field's options.
pub(crate) fn field(attrs: &[Attribute], errors: &mut Errors) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    for Entry { key, value } in entries(attrs, errors) {
        let name = key.to_string();
        match name.as_str() {
            "len" | "bytes" => {
                let kind = if name == "len" {
                    ExtentKind::Len
                } else {
                    ExtentKind::Bytes
                };
                let Some(expr) = value else {
                    errors.spanned(
                        &key,
                        format!(
                            "`{name}` takes an integer expression, for example \
                             `{name} = self.count` (other fields are read through `self`)"
                        ),
                    );
                    continue;
                };
                if let Some(previous) = &out.extent {
                    errors.spanned(&key, extent_conflict(previous.kind, kind));
                } else if out.skip.is_some() {
                    errors.spanned(&key, skip_conflict(kind));
                } else {
                    out.extent = Some(Extent { key, kind, expr });
                }
            }
            "skip" => {
                if let Some(value) = value {
                    errors.spanned(value, "`skip` takes no value: write `#[referents(skip)]`");
                } else if out.skip.is_some() {
                    errors.spanned(&key, "duplicate `skip` option; give it once");
                } else if let Some(previous) = &out.extent {
                    errors.spanned(&key, skip_conflict(previous.kind));
                } else {
                    out.skip = Some(key);
                }
            }
            "crate" | "bound" | "remote" | "partial" => errors.spanned(
                &key,
                format!(
                    "`{name}` is an option of the struct or enum: put \
                     `#[referents({name} = ..)]` on the type, not on a field"
                ),
            ),
            _ => errors.spanned(
                &key,
                format!(
                    "unknown #[referents] option `{name}` on a field; expected `len = ..` \
                     (element count of a raw pointer), `bytes = ..` (byte count of a raw \
                     pointer) or `skip`"
                ),
            ),
        }
    }
    out
}

fn extent_conflict(previous: ExtentKind, now: ExtentKind) -> String {
    if previous == now {
        format!("duplicate `{}` option; give it once", now.key())
    } else {
        format!(
            "`len` and `bytes` together: `len = ..` counts elements of the pointee and \
             `bytes = ..` counts bytes; keep one (`{}` was already given)",
            previous.key()
        )
    }
}

fn skip_conflict(kind: ExtentKind) -> String {
    format!(
        "`skip` and `{}` together: a skipped field reports nothing, so its extent is unused; \
         keep one",
        kind.key()
    )
}

/// Enum variants take no options: any `#[referents]` on one is an error.
pub(crate) fn variant(attrs: &[Attribute], errors: &mut Errors) {
    for attr in attrs.iter().filter(|a| a.path().is_ident(ATTR)) {
        errors.spanned(
            attr,
            "#[referents] takes no options on an enum variant; put `#[referents(skip)]` on \
             the variant's fields instead",
        );
    }
}
