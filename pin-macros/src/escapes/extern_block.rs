//! `#[pointer_escapes]` on an `extern "C" { .. }` / `unsafe extern "C" {
//! .. }` block: each foreign function becomes an `unsafe fn` (a plain `fn`
//! for a `safe fn` item) of the same name, visibility, attributes and
//! signature, which holds the raw import in an inner extern block (items
//! inside a function body cannot be named from outside it), pins and checks
//! its arguments as an annotated function does, and calls the import.
//!
//! Statics, types and macro invocations pass through untouched in an extern
//! block of their own, with the block's attributes. A variadic function is
//! refused (its extra arguments cannot be pinned), unless `skip_variadic`
//! says to pass it through unwrapped with them.
//!
//! `raw = [vis] name` also emits `vis mod name { .. }` holding every import
//! of the block as declared (C's ABI, public inside the module), and the
//! wrappers call those instead of holding their own: a wrapper is a Rust-ABI
//! `#[track_caller]` function that may panic, so it cannot serve as a C
//! function pointer; `name::free` can.
//!
//! Attributes of a foreign function are split between the import and the
//! wrapper by `cfgs::split_foreign_attrs`; parameters under `#[cfg]` are
//! handled by `cfgs` too.

use super::cfgs::{self, Condition};
use super::errors::Errors;
use super::options::{Options, RawModule};
use super::param_attr;
use super::prologue::{self, Escape};
use super::valid::{self, FnKind};
use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{
    Attribute, FnArg, ForeignItem, Ident, ItemForeignMod, LitStr, Pat, Signature, Token, Visibility,
};

/// A foreign function, whichever way it was spelled.
struct ForeignFn {
    attrs: Vec<Attribute>,
    vis: Visibility,
    /// `safe fn` (2024 edition): the `safe` keyword.
    safe: Option<Ident>,
    sig: Signature,
    semi: Token![;],
}

/// Rewrites `block`; on error returns it with the consumed attributes
/// removed and nothing else changed.
pub(crate) fn expand(options: &Options, block: ItemForeignMod, errors: &mut Errors) -> TokenStream {
    let ItemForeignMod {
        attrs,
        unsafety,
        abi,
        brace_token,
        items,
    } = block;
    if let Some((key, _)) = &options.returns {
        errors.at(
            key,
            "returns(..) checks a pointer Rust returns to C (an exported `extern \"C\" fn`); \
             an import's return value comes from C: remove it, or put it on the exported \
             function",
        );
    }
    let block_cfgs: Vec<&Attribute> = attrs.iter().filter(|a| is_cfg(a)).collect();
    let import_block_attrs: Vec<&Attribute> =
        attrs.iter().filter(|a| !a.path().is_ident("doc")).collect();
    let mut wrappers = Vec::new();
    let mut passthrough = Vec::new();
    let mut raw_imports = Vec::new();
    let mut stripped = Vec::new();
    for item in items {
        let mut f = match classify(item) {
            Foreign::Fn(f) => f,
            Foreign::Other(item) => {
                stripped.push(item.to_token_stream());
                passthrough.push(item.to_token_stream());
                continue;
            }
        };
        if f.sig.variadic.is_some() && options.skip_variadic.is_some() {
            pass_through_variadic(&mut f, errors);
            stripped.push(f.to_token_stream());
            passthrough.push(f.to_token_stream());
            if options.raw.is_some() {
                raw_imports.push(raw_import(&f));
            }
            continue;
        }
        let wrapper = wrap(
            options,
            &mut f,
            &block_cfgs,
            &import_block_attrs,
            &abi,
            errors,
        );
        wrappers.push(wrapper);
        if options.raw.is_some() {
            raw_imports.push(raw_import(&f));
        }
        stripped.push(f.to_token_stream());
    }
    let raw = options.raw.as_ref().map(|raw| {
        let RawModule { vis, name, .. } = raw;
        let mut body = TokenStream::new();
        brace_token.surround(&mut body, |t| t.extend(quote!(#(#raw_imports)*)));
        // The signatures name types as the block's scope does: the glob
        // import brings that scope in (items declared here shadow it).
        quote! {
            #(#block_cfgs)*
            #[doc = "The raw C-ABI imports of an extern block under `#[pointer_escapes]`: \
                     no pins, no checks. For C function pointers (`Some(raw::free)` as a \
                     destructor callback); call the wrappers of the same names instead."]
            #vis mod #name {
                #[allow(unused_imports)]
                use super::*;
                #(#import_block_attrs)*
                #unsafety #abi #body
            }
        }
    });
    if !errors.is_empty() {
        // The raw module too, so that code naming it gets no errors of its
        // own beside the real ones.
        let mut body = TokenStream::new();
        brace_token.surround(&mut body, |t| t.extend(stripped));
        return quote!(#(#attrs)* #unsafety #abi #body #raw);
    }
    let rest = if passthrough.is_empty() {
        TokenStream::new()
    } else {
        let mut body = TokenStream::new();
        brace_token.surround(&mut body, |t| t.extend(quote!(#(#passthrough)*)));
        quote!(#(#attrs)* #unsafety #abi #body)
    };
    quote! {
        #(#wrappers)*
        #rest
        #raw
    }
}

/// Readies a variadic import for `skip_variadic`: emitted as written, with
/// no wrapper. A `#[flow_through]` / `#[escapes]` on one of its parameters
/// asks for a check that would silently not exist, so it is refused.
fn pass_through_variadic(f: &mut ForeignFn, errors: &mut Errors) {
    let name = f.sig.ident.clone();
    for arg in f.sig.inputs.iter_mut() {
        let FnArg::Typed(pt) = arg else { continue };
        let shown = match &*pt.pat {
            Pat::Ident(p) => p.ident.to_string(),
            other => other.to_token_stream().to_string(),
        };
        let found = param_attr::take(&mut pt.attrs, &shown, errors);
        let asked = found.flow_through.or(found.escapes.map(|e| e.tokens));
        if let Some(attr) = asked {
            errors.at(
                attr,
                format_args!(
                    "`{name}` is variadic, and skip_variadic passes it through unwrapped, so \
                     nothing would pin or check `{shown}`: remove this attribute, and pin the \
                     argument yourself around each call (a Pinner, or an OwnedPin when C keeps \
                     the pointer)"
                ),
            );
        }
    }
}

/// The import as the raw module holds it: public (the module's own
/// visibility bounds it), with the attributes that belong to an import and
/// only the compiler's own parameter attributes.
fn raw_import(f: &ForeignFn) -> TokenStream {
    let (import_attrs, _) = cfgs::split_foreign_attrs(&f.attrs);
    let mut sig = f.sig.clone();
    for arg in sig.inputs.iter_mut() {
        if let FnArg::Typed(pt) = arg {
            pt.attrs.retain(is_builtin_param_attr);
        }
    }
    let safe = &f.safe;
    let semi = &f.semi;
    let doc = format!(
        "The raw import of `{}`: C's ABI, no pins or checks.",
        f.sig.ident.unraw()
    );
    quote! {
        #(#import_attrs)*
        #[doc = #doc]
        pub #safe #sig #semi
    }
}

/// An item of the block: a function to wrap, or anything else.
enum Foreign {
    Fn(ForeignFn),
    Other(ForeignItem),
}

fn classify(item: ForeignItem) -> Foreign {
    match item {
        ForeignItem::Fn(f) => Foreign::Fn(ForeignFn {
            attrs: f.attrs,
            vis: f.vis,
            safe: None,
            sig: f.sig,
            semi: f.semi_token,
        }),
        // syn keeps `safe fn` (and `safe`/`unsafe static`) as verbatim tokens.
        ForeignItem::Verbatim(tokens) => match parse_safe_fn.parse2(tokens.clone()) {
            Ok(f) => Foreign::Fn(f),
            Err(_) => Foreign::Other(ForeignItem::Verbatim(tokens)),
        },
        other => Foreign::Other(other),
    }
}

/// `attrs vis safe fn name(..) -> R;`
fn parse_safe_fn(input: ParseStream) -> syn::Result<ForeignFn> {
    let attrs = input.call(Attribute::parse_outer)?;
    let vis = input.parse()?;
    let safe: Ident = input.call(Ident::parse_any)?;
    if safe != "safe" {
        return Err(syn::Error::new_spanned(safe, "not a `safe fn`"));
    }
    let sig: Signature = input.parse()?;
    let semi = input.parse()?;
    Ok(ForeignFn {
        attrs,
        vis,
        safe: Some(safe),
        sig,
        semi,
    })
}

impl ToTokens for ForeignFn {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let ForeignFn {
            attrs,
            vis,
            safe,
            sig,
            semi,
        } = self;
        tokens.extend(quote!(#(#attrs)* #vis #safe #sig #semi));
    }
}

/// The wrapper of one foreign function. Consumes the parameter attributes
/// of `f`, leaving it fit to be emitted as a plain import on error.
fn wrap(
    options: &Options,
    f: &mut ForeignFn,
    block_cfgs: &[&Attribute],
    block_attrs: &[&Attribute],
    abi: &syn::Abi,
    errors: &mut Errors,
) -> TokenStream {
    let kind = FnKind {
        name: f.sig.ident.to_string(),
        is_unsafe: f.safe.is_none(),
        foreign: true,
    };
    if let Some(variadic) = &f.sig.variadic {
        errors.at(
            variadic.dots,
            format_args!(
                "#[pointer_escapes] cannot wrap the variadic function `{}`: it cannot pin \
                 arguments it does not see; write #[pointer_escapes(skip_variadic)] on the block \
                 to pass it through unwrapped (or declare it in an extern block without \
                 #[pointer_escapes]) and pin its pointer arguments yourself: with a Pinner \
                 around each call when C uses them only during the call, or, when C keeps a \
                 pointer after the call returns (a `curl_easy_setopt` string, a callback \
                 context), in an OwnedPin (`OwnedPin::new(CString::new(body)?)`) until C lets \
                 go of it",
                f.sig.ident
            ),
        );
    }
    let mut escapes = Vec::new();
    let mut args = Vec::new();
    for arg in f.sig.inputs.iter_mut() {
        let FnArg::Typed(pt) = arg else {
            // syn accepts `self` here, rustc does not: leave it to rustc.
            continue;
        };
        let name = match &*pt.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p.ident.clone()),
            _ => None,
        };
        let shown = name
            .as_ref()
            .map_or_else(|| "_".to_string(), Ident::to_string);
        let attrs = param_attr::take(&mut pt.attrs, &shown, errors);
        cfgs::refuse_hidden_param_attrs(&mut pt.attrs, &shown, errors);
        let Some(ident) = name else {
            errors.at(
                &pt.pat,
                format_args!(
                    "name this parameter: the wrapper #[pointer_escapes] writes for `{}` passes \
                     each argument on to C by name (write e.g. `fd: c_int`)",
                    f.sig.ident
                ),
            );
            continue;
        };
        if let Some(action) = valid::typed_param(&kind, &shown, &pt.ty, attrs, errors) {
            let (span, span_end) = prologue::span_range(&pt.ty);
            escapes.push(Escape {
                name: shown,
                access: ident.to_token_stream(),
                span,
                span_end,
                action,
                cfgs: cfgs::presence(&pt.attrs),
            });
        }
        args.push(Arg {
            exists: cfgs::predicate(&pt.attrs),
            ident,
        });
    }
    if !errors.is_empty() {
        return TokenStream::new();
    }

    if let Some(conditional) = args.iter().filter(|a| a.exists.is_some()).nth(MAX_CFG_ARGS) {
        errors.at(
            &conditional.ident,
            format_args!(
                "`{}` has more than {MAX_CFG_ARGS} parameters under #[cfg]: the wrapper calls \
                 the import once per combination of them; declare it once per target instead",
                f.sig.ident
            ),
        );
        return TokenStream::new();
    }

    let (import_attrs, mut wrapper_attrs) = cfgs::split_foreign_attrs(&f.attrs);
    wrapper_attrs.extend(block_cfgs.iter().map(|a| (*a).clone()));
    // The symbol is the function's name unless a `link_name` says
    // otherwise; a `link_name` under `cfg_attr` only says so under its
    // predicate.
    let symbol = LitStr::new(&f.sig.ident.unraw().to_string(), f.sig.ident.span());
    let link_name = match cfgs::link_name_condition(&import_attrs) {
        Condition::Always => TokenStream::new(),
        Condition::Never => quote!(#[link_name = #symbol]),
        Condition::When(p) => quote!(#[cfg_attr(not(#p), link_name = #symbol)]),
    };
    // The import shares the function's name, unless a parameter does (a
    // local would shadow it).
    let import_ident = if args.iter().any(|a| a.ident == f.sig.ident) {
        Ident::new("__pe_import", Span::mixed_site())
    } else {
        f.sig.ident.clone()
    };
    let mut import_sig = f.sig.clone();
    import_sig.ident = import_ident.clone();
    import_sig.unsafety = None;
    for arg in import_sig.inputs.iter_mut() {
        if let FnArg::Typed(pt) = arg {
            // Only what the compiler knows on a foreign parameter: unknown
            // attributes are reported once, on the wrapper's parameter.
            pt.attrs.retain(is_builtin_param_attr);
        }
    }
    let mut wrapper_sig = f.sig.clone();
    wrapper_sig.unsafety = match &f.safe {
        Some(_) => None,
        None => Some(
            f.sig
                .unsafety
                .unwrap_or_else(|| Token![unsafe](f.sig.fn_token.span)),
        ),
    };
    // Checked: `#[track_caller]`, so a failed check panics at the user's
    // call of the import, not inside this wrapper. Marked `unchecked`: the
    // import itself, inlined.
    let (inline, prologue) = if options.unchecked {
        (
            quote!(#[inline(always)]),
            prologue::emit_lints(&options.krate, &escapes),
        )
    } else {
        (
            quote!(#[track_caller]),
            prologue::emit(&options.krate, &f.sig.ident, &escapes),
        )
    };
    let vis = &f.vis;
    // With a raw module, the wrapper calls the import there; otherwise it
    // holds its own.
    let (import, callee) = match &options.raw {
        Some(raw) => {
            let module = &raw.name;
            let ident = &f.sig.ident;
            (TokenStream::new(), quote!(#module::#ident))
        }
        None => (
            quote! {
                #(#block_attrs)*
                unsafe #abi {
                    #(#import_attrs)*
                    #link_name
                    #import_sig;
                }
            },
            import_ident.to_token_stream(),
        ),
    };
    let call = call(&callee, &args);
    // The wrapper stands in for a foreign item, which carries a C name and
    // its safety contract in C's documentation: lint it as rustc lints the
    // foreign item it replaces.
    quote! {
        #(#wrapper_attrs)*
        #inline
        #[allow(non_snake_case, clippy::missing_safety_doc)]
        #vis #wrapper_sig {
            #import
            #prologue
            #call
        }
    }
}

/// A parameter the wrapper passes on.
struct Arg {
    ident: Ident,
    /// The cfg predicate under which it exists (`None`: always).
    exists: Option<TokenStream>,
}

/// The most parameters under `#[cfg]` one import may have: the call is
/// written once per combination of them (2^n).
const MAX_CFG_ARGS: usize = 4;

/// `unsafe { callee(args) }`. A call's arguments cannot carry `#[cfg]`, so
/// when some parameters exist only under a cfg, the call is written once
/// per combination of them, each under the cfg that selects it, and
/// exactly one is compiled.
fn call(callee: &TokenStream, args: &[Arg]) -> TokenStream {
    let conditional: Vec<&TokenStream> = args.iter().filter_map(|a| a.exists.as_ref()).collect();
    if conditional.is_empty() {
        let idents = args.iter().map(|a| &a.ident);
        return quote!(unsafe { #callee(#(#idents),*) });
    }
    let result = Ident::new("__pe_result", Span::mixed_site());
    let variants = (0..1u32 << conditional.len()).map(|present| {
        let mut bit = 0;
        let mut idents = Vec::new();
        let mut conditions = Vec::new();
        for a in args {
            let Some(exists) = &a.exists else {
                idents.push(&a.ident);
                continue;
            };
            if present & (1 << bit) != 0 {
                idents.push(&a.ident);
                conditions.push(quote!(#exists));
            } else {
                conditions.push(quote!(not(#exists)));
            }
            bit += 1;
        }
        // `all(..)` of one condition is what Clippy's `non_minimal_cfg`
        // flags: written bare then.
        let condition = match conditions.as_slice() {
            [one] => one.clone(),
            _ => quote!(all(#(#conditions),*)),
        };
        quote! {
            #[cfg(#condition)]
            let #result = unsafe { #callee(#(#idents),*) };
        }
    });
    quote! {
        #(#variants)*
        #result
    }
}

fn is_cfg(attr: &Attribute) -> bool {
    attr.path().is_ident("cfg")
}

/// Attributes the compiler accepts on a parameter.
fn is_builtin_param_attr(attr: &Attribute) -> bool {
    [
        "cfg", "cfg_attr", "allow", "warn", "deny", "forbid", "expect",
    ]
    .iter()
    .any(|name| attr.path().is_ident(name))
}
