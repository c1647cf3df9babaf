//! `#[pointer_escapes]` on a function: the signature and attributes are
//! kept verbatim (minus the parameter attributes the macro consumes) and the
//! body is wrapped: `{ <rebinds> <prologue> { <original body> } }`.
//!
//! The prologue goes inside the body, so for an `async fn` the guard is part
//! of the future: created at its first poll, dropped when it completes or is
//! dropped.

use super::cfgs;
use super::errors::Errors;
use super::options::Options;
use super::param_attr;
use super::prologue::{self, Escape};
use super::shape::{classify, Shape};
use super::valid::{self, type_text, Extent, FnKind};
use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::{quote, ToTokens};
use syn::ext::IdentExt;
use syn::{AttrStyle, FnArg, Ident, ItemFn, LitStr, Pat, PatIdent, ReturnType};

/// Rewrites `f`. On error (recorded in `errors`) returns `f` with the
/// consumed attributes removed and nothing added, so the compile errors are
/// the only complaints.
pub(crate) fn expand(options: &Options, mut f: ItemFn, errors: &mut Errors) -> TokenStream {
    for key in [
        options.skip_variadic.as_ref(),
        options.raw.as_ref().map(|r| &r.key),
    ]
    .into_iter()
    .flatten()
    {
        errors.at(
            key,
            format_args!(
                "`{key}` applies to an extern block (it chooses how its imports are emitted), \
                 not to a function: remove it"
            ),
        );
    }
    if let Some(constness) = &f.sig.constness {
        errors.at(
            constness,
            "#[pointer_escapes] cannot apply to a `const fn`: pins are made in a run-time \
             registry when the function is called; remove `const` or the attribute",
        );
    }
    let kind = FnKind {
        name: f.sig.ident.to_string(),
        is_unsafe: f.sig.unsafety.is_some(),
        foreign: false,
    };
    let mut escapes = Vec::new();
    let mut rebinds = Vec::new();
    for (index, arg) in f.sig.inputs.iter_mut().enumerate() {
        match arg {
            FnArg::Receiver(r) => {
                let attrs = param_attr::take(&mut r.attrs, "self", errors);
                cfgs::refuse_hidden_param_attrs(&mut r.attrs, "self", errors);
                if let Some(action) = valid::receiver(&kind, r, attrs, errors) {
                    escapes.push(Escape {
                        name: "self".into(),
                        access: r.self_token.to_token_stream(),
                        span: r.self_token.span,
                        span_end: r.self_token.span,
                        action,
                        cfgs: cfgs::presence(&r.attrs),
                    });
                }
            }
            FnArg::Typed(pt) => {
                let name = param_name(&pt.pat, index);
                let attrs = param_attr::take(&mut pt.attrs, &name, errors);
                cfgs::refuse_hidden_param_attrs(&mut pt.attrs, &name, errors);
                let presence = cfgs::presence(&pt.attrs);
                let Some(action) = valid::typed_param(&kind, &name, &pt.ty, attrs, errors) else {
                    continue;
                };
                let access = match simple_binding(&pt.pat) {
                    Some(ident) => ident.to_token_stream(),
                    None => {
                        // A pointer bound by a pattern (`_`, `ref p`, ...):
                        // take it under a hidden name, rebind the pattern
                        // first thing in the body.
                        let hidden = Ident::new(&format!("__pe_arg{index}"), Span::mixed_site());
                        let pat = std::mem::replace(
                            &mut *pt.pat,
                            Pat::Ident(PatIdent {
                                attrs: Vec::new(),
                                by_ref: None,
                                mutability: None,
                                ident: hidden.clone(),
                                subpat: None,
                            }),
                        );
                        rebinds.push(quote!(#(#presence)* let #pat = #hidden;));
                        hidden.to_token_stream()
                    }
                };
                let (span, span_end) = prologue::span_range(&pt.ty);
                escapes.push(Escape {
                    name,
                    access,
                    span,
                    span_end,
                    action,
                    cfgs: presence,
                });
            }
        }
    }
    let returns = options
        .returns
        .as_ref()
        .and_then(|r| returned(&f, r, errors));
    if !errors.is_empty() {
        return assemble(&f, &rebinds, TokenStream::new());
    }
    let unchecked = options.unchecked;
    let mut prologue = if unchecked {
        // The function as written, attributes stripped (a renamed pattern
        // is rebound, so it is still the same function).
        prologue::emit_unchecked(&options.krate, &escapes)
    } else {
        prologue::emit(&options.krate, &f.sig.ident, &escapes)
    };
    match returns {
        Some(returns) if !unchecked => {
            if escapes.is_empty() {
                // `emit` declared no crate-wide switch to read.
                prologue.extend(prologue::crate_unchecked());
            }
            let check = check_returned(options, &f, &returns, !escapes.is_empty());
            let mut f = f;
            let ret_ty = match &f.sig.output {
                ReturnType::Type(_, ty) => ty.to_token_stream(),
                ReturnType::Default => quote!(()),
            };
            let stmts = &f.block.stmts;
            // A closure, so that `return` and `?` in the body come back here
            // and the returned pointer is checked on every way out.
            let value = Ident::new("__pe_returned", Span::mixed_site());
            let off = prologue::crate_unchecked_ident();
            let body: syn::Block = syn::parse_quote!({
                let #value: #ret_ty = (|| -> #ret_ty { #(#stmts)* })();
                if !#off {
                    #check
                }
                #value
            });
            *f.block = body;
            assemble(&f, &rebinds, prologue)
        }
        _ => assemble(&f, &rebinds, prologue),
    }
}

/// What `returns(..)` checks, once it is known to apply to `f`.
struct Returned {
    extent: Extent,
    pointee: Option<syn::Type>,
}

/// Validates `returns(..)` against `f`: a non-async function returning a
/// raw pointer (or a name that may be one: the `EscapingPointer` bound
/// decides).
fn returned(
    f: &ItemFn,
    (key, attr): &(Ident, super::param_attr::EscapesAttr),
    errors: &mut Errors,
) -> Option<Returned> {
    if let Some(asyncness) = &f.sig.asyncness {
        errors.at(
            asyncness,
            format_args!(
                "returns(..) cannot check an `async fn`: `{}` hands C a future, not a pointer; \
                 put returns(..) on the function that returns the pointer to C",
                f.sig.ident
            ),
        );
        return None;
    }
    let what = match &f.sig.output {
        ReturnType::Default => Some(("nothing".to_string(), "()".to_string())),
        ReturnType::Type(_, ty) => match classify(ty) {
            Shape::RawPointer | Shape::Opaque => None,
            Shape::Reference => Some(("a reference".to_string(), type_text(ty))),
            Shape::NotPointer(what) => Some((what.to_string(), type_text(ty))),
        },
    };
    if let Some((what, ty)) = what {
        errors.at(
            key,
            format_args!(
                "returns(..) checks a raw pointer a function returns to C, but `{}` returns \
                 {what} (`{ty}`): remove returns(..), or return `*const T` / `*mut T`",
                f.sig.ident
            ),
        );
        return None;
    }
    Some(Returned {
        extent: attr.extent.clone().map_or(Extent::One, Extent::from),
        pointee: attr.pointee.clone(),
    })
}

/// `drop(guard); check_returned(name, &value, extent);`: the call's own
/// pins are released first, so only pins that outlive the call count.
fn check_returned(
    options: &Options,
    f: &ItemFn,
    returned: &Returned,
    guarded: bool,
) -> TokenStream {
    let krate = &options.krate;
    let private = quote!(#krate::__private);
    let value = Ident::new("__pe_returned", Span::mixed_site());
    let guard = prologue::guard_ident();
    let release = guarded.then(|| quote!(::core::mem::drop(#guard);));
    let name = LitStr::new(&f.sig.ident.unraw().to_string(), f.sig.ident.span());
    let pointer = match &returned.pointee {
        Some(ty) => quote!(#private::pointee_as::<#ty, _>(&#value)),
        None => quote!(#value),
    };
    let extent = match &returned.extent {
        Extent::One => quote!(#private::Extent::One),
        Extent::Len(e) => quote!(#private::Extent::len(#e)),
        Extent::Bytes(e) => quote!(#private::Extent::bytes(#e)),
    };
    quote! {
        #release
        #private::check_returned(#name, &#pointer, #extent);
    }
}

/// `attrs vis sig { inner-attrs rebinds prologue { body } }`.
fn assemble(f: &ItemFn, rebinds: &[TokenStream], prologue: TokenStream) -> TokenStream {
    if rebinds.is_empty() && prologue.is_empty() {
        return f.to_token_stream();
    }
    let outer = f
        .attrs
        .iter()
        .filter(|a| matches!(a.style, AttrStyle::Outer));
    let inner = f
        .attrs
        .iter()
        .filter(|a| matches!(a.style, AttrStyle::Inner(_)));
    let vis = &f.vis;
    let sig = &f.sig;
    let stmts = &f.block.stmts;
    // The body as written, in braces of its own (its locals and the
    // prologue's stay apart). Those braces are the macro's: at the user's
    // braces, so errors point there, but resolved at the macro's site, so
    // rustc knows they come from an expansion and does not lint a one-line
    // body `{ p as usize }` as `unused_braces` (whose suggestion, removing
    // them, the user cannot apply).
    let mut body = Group::new(Delimiter::Brace, quote!(#(#stmts)*));
    body.set_span(
        f.block
            .brace_token
            .span
            .join()
            .resolved_at(Span::mixed_site()),
    );
    let mut wrapped = TokenStream::new();
    f.block.brace_token.surround(&mut wrapped, |t| {
        t.extend(quote! {
            #(#inner)*
            #(#rebinds)*
            #prologue
            #body
        })
    });
    quote! {
        #(#outer)*
        #vis #sig #wrapped
    }
}

/// The parameter's name in messages: its identifier, `#N` for `_`, or the
/// pattern as written.
fn param_name(pat: &Pat, index: usize) -> String {
    match pat {
        Pat::Ident(p) => p.ident.to_string(),
        Pat::Wild(_) => format!("#{}", index + 1),
        other => other.to_token_stream().to_string(),
    }
}

/// `p` or `mut p`: the pointer can be named directly.
fn simple_binding(pat: &Pat) -> Option<&Ident> {
    match pat {
        Pat::Ident(PatIdent {
            by_ref: None,
            subpat: None,
            ident,
            ..
        }) => Some(ident),
        _ => None,
    }
}
