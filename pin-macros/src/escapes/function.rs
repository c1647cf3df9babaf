//! `#[pointer_escapes]` on a function: the signature and attributes are
//! kept verbatim (minus the parameter attributes the macro consumes) and the
//! body is wrapped: `{ <rebinds> <prologue> { <original body> } }`.
//!
//! The prologue goes inside the body, so for an `async fn` the guard is part
//! of the future: created at its first poll, dropped when it completes or is
//! dropped.

use super::errors::Errors;
use super::options::Options;
use super::param_attr;
use super::prologue::{self, Escape};
use super::valid::{self, FnKind};
use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::{AttrStyle, FnArg, Ident, ItemFn, Pat, PatIdent};

/// Rewrites `f`. On error (recorded in `errors`) returns `f` with the
/// consumed attributes removed and nothing added, so the compile errors are
/// the only complaints.
pub(crate) fn expand(options: &Options, mut f: ItemFn, errors: &mut Errors) -> TokenStream {
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
                if let Some(action) = valid::receiver(r, attrs, errors) {
                    escapes.push(Escape {
                        name: "self".into(),
                        access: r.self_token.to_token_stream(),
                        span: r.self_token.span,
                        span_end: r.self_token.span,
                        action,
                    });
                }
            }
            FnArg::Typed(pt) => {
                let name = param_name(&pt.pat, index);
                let attrs = param_attr::take(&mut pt.attrs, &name, errors);
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
                        rebinds.push(quote!(let #pat = #hidden;));
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
                });
            }
        }
    }
    if !errors.is_empty() {
        return assemble(&f, &rebinds, TokenStream::new());
    }
    let prologue = if cfg!(feature = "unchecked") {
        // The function as written, attributes stripped (a renamed pattern
        // is rebound, so it is still the same function).
        prologue::emit_unchecked(&options.krate, &escapes)
    } else {
        prologue::emit(&options.krate, &f.sig.ident, &escapes)
    };
    assemble(&f, &rebinds, prologue)
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
    let mut body = TokenStream::new();
    f.block
        .brace_token
        .surround(&mut body, |t| t.extend(quote!(#(#stmts)*)));
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
