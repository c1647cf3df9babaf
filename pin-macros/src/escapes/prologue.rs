//! The code put in front of a function body: a `CallPins` guard that
//! records each escaping parameter, pins them all at once and runs the
//! checks; dropping the guard (return, `?`, unwinding, a dropped future)
//! releases the pins.

use super::valid::{Action, Extent, Lint, Read};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, LitStr, Path};

/// The first and last token spans of `tokens` (a parameter's type).
pub(crate) fn span_range(tokens: &impl quote::ToTokens) -> (Span, Span) {
    let mut trees = tokens.to_token_stream().into_iter();
    let first = trees.next().map_or_else(Span::call_site, |t| t.span());
    let last = trees.last().map_or(first, |t| t.span());
    (first, last)
}

/// One escaping parameter.
pub(crate) struct Escape {
    /// Its name in messages (`iov`, `self`, `#2` for `_`).
    pub(crate) name: String,
    /// An expression naming it inside the body.
    pub(crate) access: TokenStream,
    /// Where its type starts and ends: trait errors (`Referents`,
    /// `EscapingPointer`) about the argument point at the type.
    pub(crate) span: Span,
    pub(crate) span_end: Span,
    pub(crate) action: Action,
    /// The parameter's `#[cfg]`s (see `cfgs::presence`): every statement
    /// that names it carries them, so it goes away with the parameter.
    pub(crate) cfgs: Vec<Attribute>,
}

/// `step` under the escape's cfgs (unchanged when it has none).
fn under_cfgs(escape: &Escape, step: TokenStream) -> TokenStream {
    if escape.cfgs.is_empty() {
        return step;
    }
    let cfgs = &escape.cfgs;
    quote!(#(#cfgs)* { #step })
}

/// The guard's name. Made at `Span::mixed_site()`, so code in the body
/// cannot name it (not even by writing `__pe_pins`).
pub(crate) fn guard_ident() -> Ident {
    Ident::new("__pe_pins", Span::mixed_site())
}

/// The recorder the prologue's closure receives, as hygienic as the guard.
fn recorder_ident() -> Ident {
    Ident::new("__pe_call", Span::mixed_site())
}

/// The prologue for `function`'s escaping parameters, in parameter order
/// (nothing at all when none escapes): one guard, built by `CallPins::new`
/// from a closure that records each parameter, unless the crate turned its
/// checks off (see [`crate_unchecked`]). When no pins are wanted the
/// closure never runs, lengths are not evaluated, and the guard is one word.
pub(crate) fn emit(krate: &Path, function: &Ident, escapes: &[Escape]) -> TokenStream {
    if escapes.is_empty() {
        return TokenStream::new();
    }
    let private = quote!(#krate::__private);
    let guard = guard_ident();
    let recorder = recorder_ident();
    let name = LitStr::new(&function.unraw().to_string(), function.span());
    let wrappers = referents_wrappers(&private, escapes);
    let steps = escapes
        .iter()
        .map(|e| under_cfgs(e, step(&private, &recorder, e)));
    // Spanned on the function's name: `CallPins::new` is `#[track_caller]`,
    // so every pin of this call records the function as its site.
    let new = quote_spanned! {function.span()=>
        #private::CallPins::new(#name, |#recorder: &mut #private::CallRecorder| {
            #wrappers
            #(#steps)*
        })
    };
    let off = crate_unchecked_ident();
    let off_const = crate_unchecked();
    quote! {
        #off_const
        let #guard = if #off {
            ::core::option::Option::None
        } else {
            ::core::option::Option::Some(#new)
        };
    }
}

/// The name of the constant that holds whether the crate being compiled
/// turned its checks off (see [`crate_unchecked`]).
pub(crate) fn crate_unchecked_ident() -> Ident {
    Ident::new("__POINTER_ESCAPES_UNCHECKED", Span::mixed_site())
}

/// `const __POINTER_ESCAPES_UNCHECKED: bool =
/// cfg!(pointer_escapes_unchecked);`, put first in a generated body.
///
/// Why a constant and not `#[cfg(..)]` on the prologue: `cfg` in generated
/// code is evaluated in the crate that uses the macro (which is the point:
/// checks go off per crate, never graph-wide), so rustc's check-cfg would
/// warn `unexpected_cfgs` in every user crate that has not declared the
/// name. The lint's level is taken from the innermost ITEM around the
/// condition: `#[allow]` on a statement does not reach it, and `#[allow]` on
/// the annotated function would also hide the user's own misspelt cfgs in
/// its body. A constant is an item of its own, so the `allow` covers this
/// one condition and nothing else. The prologue then branches on the
/// constant, which the optimiser folds away: with the cfg set, the guard is
/// `None` and no pin or check code remains.
pub(crate) fn crate_unchecked() -> TokenStream {
    let off = crate_unchecked_ident();
    quote! {
        #[allow(unexpected_cfgs)]
        const #off: bool = ::core::cfg!(pointer_escapes_unchecked);
    }
}

/// The prologue of an item marked `#[pointer_escapes(unchecked)]`: nothing runs, but the escaping
/// parameters and the length expressions are still named (inside a closure
/// that is never called), as the checked prologue names them: a parameter
/// the body never reads is not reported unused and a misspelt name is still
/// an error, whichever way the crate is built.
pub(crate) fn emit_unchecked(krate: &Path, escapes: &[Escape]) -> TokenStream {
    if escapes.is_empty() {
        return TokenStream::new();
    }
    let (unconditional, conditional): (Vec<&Escape>, Vec<&Escape>) =
        escapes.iter().partition(|e| e.cfgs.is_empty());
    let accesses = unconditional.iter().map(|e| {
        let access = &e.access;
        quote!(&#access)
    });
    fn length(e: &Escape) -> Option<&syn::Expr> {
        match &e.action {
            Action::Pointer { extent, .. } | Action::FlowPointer { extent, .. } => match extent {
                Extent::Len(len) | Extent::Bytes(len) => Some(len),
                Extent::One => None,
            },
            Action::FlowRef { .. } => None,
        }
    }
    let lengths = unconditional.iter().filter_map(|e| length(e));
    let named_under_cfgs = conditional.iter().map(|e| {
        let access = &e.access;
        let len = length(e).into_iter();
        under_cfgs(e, quote!(let _ = (&#access, #(#len,)*);))
    });
    // The warnings are about the code, not the build: raised here too.
    let private = quote!(#krate::__private);
    let lints = escapes.iter().map(|e| lint(&private, e));
    // Declared (and type-checked) whichever way the item is built.
    let wrappers = referents_wrappers(&private, escapes);
    quote!(let _ = || { #wrappers #(#lints)* #(#named_under_cfgs)* (#(#accesses,)* #(#lengths,)*) };)
}

/// The compile-time warnings alone, for an extern-block wrapper marked
/// `unchecked` (it passes every parameter on, so it needs no
/// naming): nothing when no parameter can warn.
pub(crate) fn emit_lints(krate: &Path, escapes: &[Escape]) -> TokenStream {
    let private = quote!(#krate::__private);
    let lints: Vec<TokenStream> = escapes
        .iter()
        .map(|e| lint(&private, e))
        .filter(|l| !l.is_empty())
        .collect();
    let wrappers = referents_wrappers(&private, escapes);
    if lints.is_empty() && wrappers.is_empty() {
        return TokenStream::new();
    }
    quote!(let _ = || { #wrappers #(#lints)* };)
}

/// The compile-time warning of one parameter whose pointee is not read,
/// raised only when the pointee's type has referents (see
/// `pin_core::call_lints`); nothing for other parameters.
fn lint(private: &TokenStream, escape: &Escape) -> TokenStream {
    let Action::Pointer {
        lint: Some(lint), ..
    } = &escape.action
    else {
        return TokenStream::new();
    };
    let name = &escape.name;
    let note = match lint {
        Lint::SafeFn => format!(
            "the referents of `{name}` cannot be checked in a safe fn (nothing promises the \
             pointer is valid); make the fn `unsafe fn`, or take a reference `&T` / `&[T]`"
        ),
        Lint::MutNotChecked => format!(
            "`*mut` parameter `{name}`'s pointee is not checked: it may be an uninitialised \
             out-parameter; write #[escapes(out)] if C writes it, or #[escapes(inout)] / \
             #[flow_through] if it holds pointers C reads"
        ),
    };
    let note = LitStr::new(&note, escape.span);
    let warning = Ident::new("PointeeNotChecked", Span::mixed_site());
    // The method name carries the span of the parameter's type: the
    // deprecation warning points there.
    let warn = Ident::new("warn", escape.span);
    let access = &pointer_access(private, escape);
    let cfgs = &escape.cfgs;
    quote! {
        #(#cfgs)*
        {
            struct #warning;
            #[allow(dead_code)]
            impl #warning {
                #[deprecated(note = #note)]
                #[inline(always)]
                fn warn(self) {}
            }
            #[allow(unused_imports)]
            use #private::{
                PointeeHasReferents as _, PointeeHoldsNoPointers as _, PointeeUnknown as _,
            };
            (&&#private::LintProbe::of(&#access)).lint(#warning).#warn();
        }
    }
}

fn step(private: &TokenStream, recorder: &Ident, escape: &Escape) -> TokenStream {
    let Escape {
        name, span, action, ..
    } = escape;
    let name = LitStr::new(name, *span);
    let access = &pointer_access(private, escape);
    let lint = lint(private, escape);
    let (extent, kept) = match action {
        Action::Pointer { kept, .. } | Action::FlowPointer { kept, .. } if kept.cstr => {
            (cstr_extent(private, escape), kept)
        }
        Action::Pointer { extent, kept, .. } | Action::FlowPointer { extent, kept } => {
            (extent_tokens(private, extent), kept)
        }
        Action::FlowRef { trusted: false } => {
            return quote_spanned! {*span=>
                #recorder.flow_through_ref(#name, &*#access);
            };
        }
        // The annotated fn is `unsafe`: its callers vouch for the raw
        // pointers below the argument.
        Action::FlowRef { trusted: true } => {
            return quote_spanned! {*span=>
                unsafe { #recorder.flow_through_ref_trusted(#name, &*#access) };
            };
        }
    };
    // A retained pointer's extent is used twice: evaluated once, here. A
    // C string's is bound too, so that its `unsafe` block stands alone.
    let (bind_extent, extent) = if kept.retained || kept.cstr {
        let local = Ident::new("__pe_extent", Span::mixed_site());
        (quote!(let #local = #extent;), quote!(#local))
    } else {
        (TokenStream::new(), extent)
    };
    let retained = kept.retained.then(|| {
        quote_spanned! {*span=>
            #recorder.retained(#name, &#access, #extent);
        }
    });
    let pin = match action {
        Action::Pointer {
            read: read @ (Read::Checked | Read::CheckedIfConst),
            ..
        } => {
            let check = Ident::new("__pe_check", Span::mixed_site());
            // An alias may hide a `*mut` whose pointee is uninitialised:
            // its type decides whether the check is kept.
            let if_const = (*read == Read::CheckedIfConst).then(|| {
                quote_spanned! {*span=>
                    #[allow(unused_imports)]
                    use #private::{ConstPointee as _, WritablePointee as _};
                    let #check = (&#private::ConstProbe::of(&#access)).keep_if_const(#check);
                }
            });
            // Autoref specialisation: the `HasReferents` impl applies when
            // the pointee implements `Referents`, `NoReferents` otherwise.
            quote_spanned! {*span=>
                #[allow(unused_imports)]
                use #private::{HasReferents as _, NoReferents as _};
                let #check = (&#private::Probe::of(&#access)).check_fn();
                #if_const
                unsafe { #recorder.pointer(#name, &#access, #extent, #check) };
            }
        }
        Action::Pointer { .. } => quote_spanned! {*span=>
            #lint
            #recorder.pointer_without_check(#name, &#access, #extent);
        },
        _ => quote_spanned! {*span=>
            unsafe { #recorder.flow_through_pointer(#name, &#access, #extent) };
        },
    };
    if bind_extent.is_empty()
        && matches!(
            action,
            Action::Pointer {
                read: Read::Never,
                ..
            } | Action::FlowPointer { .. }
        )
    {
        return pin;
    }
    quote_spanned! {*span=>
        {
            #bind_extent
            #pin
            #retained
        }
    }
}

/// The parameter as the steps name it: at its type's span (`&` / `&*` sit
/// at the type's start and the name at its end, so the argument expression
/// spans the whole type), and as a `*const T` when `pointee = T` says what
/// an untyped pointer points to.
fn pointer_access(private: &TokenStream, escape: &Escape) -> TokenStream {
    let access = relocate(escape.access.clone(), escape.span_end);
    let kept = match &escape.action {
        Action::Pointer { kept, .. } | Action::FlowPointer { kept, .. } => kept,
        Action::FlowRef { .. } => return access,
    };
    if let Some((referents, _)) = &kept.referents {
        // Taken as a pointer to the wrapper, whose `Referents` impl calls
        // the user's function: everything downstream sees a `Referents`
        // pointee.
        let wrapper = wrapper_ident(escape);
        return quote_spanned!(referents.path.span()=>
            #private::pointee_as::<#wrapper, _>(&#access)
        );
    }
    match &kept.pointee {
        Some(ty) => quote_spanned!(ty.span()=> #private::pointee_as::<#ty, _>(&#access)),
        None => access,
    }
}

/// The wrapper type of a `referents = path` parameter: a name no user code
/// can write (mixed-site), one per parameter. The parameter's name is
/// encoded injectively (ASCII letters and digits as they are, `_` as `__`,
/// anything else as `_u{hex}_`), so two parameters never share a wrapper:
/// `_2` and the unnamed second parameter (`#2`), `r#type` and `r_type`, or
/// two non-ASCII names would otherwise collide.
fn wrapper_ident(escape: &Escape) -> Ident {
    Ident::new(
        &format!("__PeReferents_{}", encode_name(&escape.name)),
        Span::mixed_site(),
    )
}

/// `name` spelt with ASCII letters, digits and `_` only, injectively (see
/// [`wrapper_ident`]).
fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            c if c.is_ascii_alphanumeric() => out.push(c),
            '_' => out.push_str("__"),
            c => out.push_str(&format!("_u{:x}_", u32::from(c))),
        }
    }
    out
}

/// For each `referents = path` parameter, a `#[repr(transparent)]` wrapper
/// of its pointee type whose `Referents` impl calls `path`: the foreign
/// type cannot implement `Referents` (orphan rule), a type declared here
/// can. The function's type is checked against the pointee at the user's
/// path token (`unsafe fn(&T, &mut V)`).
///
/// Why calling the user's `unsafe fn` from the safe `visit_referents` is
/// sound: the wrapper is declared inside the prologue and cannot be named
/// by user code, so the only `*const Wrapper` values are the parameter
/// itself, cast by `pointer_access`; the checker reads through such a
/// pointer, and so calls `visit_referents`, only where the annotated
/// `unsafe fn`'s (or import's) caller vouched for the pointee, which is the
/// promise `path` needs. A safe fn's pointee is never read.
fn referents_wrappers(private: &TokenStream, escapes: &[Escape]) -> TokenStream {
    escapes
        .iter()
        .filter_map(|escape| {
            let kept = match &escape.action {
                Action::Pointer { kept, .. } | Action::FlowPointer { kept, .. } => kept,
                Action::FlowRef { .. } => return None,
            };
            let (referents, param_ty) = kept.referents.as_ref()?;
            let wrapper = wrapper_ident(escape);
            let pointee = match &kept.pointee {
                Some(ty) => quote!(#ty),
                None => quote_spanned!(escape.span=>
                    <#param_ty as #private::EscapingPointer>::Target
                ),
            };
            let path = &referents.path;
            let visitor = Ident::new("__PeVisitor", Span::mixed_site());
            let visit = Ident::new("__pe_visit", Span::mixed_site());
            let visitor_arg = Ident::new("__pe_visitor", Span::mixed_site());
            let fn_ty = quote_spanned!(path.span()=>
                unsafe fn(&#pointee, &mut #visitor)
            );
            // The parameter's own cfgs go on each item (not around them in a
            // block, which would hide the wrapper from the step that casts
            // to it): a parameter that is cfg'd out takes its wrapper along.
            let cfgs = &escape.cfgs;
            Some(quote! {
                #(#cfgs)*
                #[repr(transparent)]
                #[allow(non_camel_case_types)]
                struct #wrapper(#pointee);
                // SAFETY: see `referents_wrappers` in pointer-escapes-macros:
                // only the checker calls this, through the parameter cast to
                // the wrapper, where the annotated fn's caller vouched for
                // the pointee; the extents are `path`'s (its author's
                // promise, as for an `unsafe impl Referents`).
                #(#cfgs)*
                unsafe impl #private::Referents for #wrapper {
                    #[inline]
                    fn visit_referents<#visitor: #private::Visitor>(
                        &self,
                        #visitor_arg: &mut #visitor,
                    ) {
                        let #visit: #fn_ty = #path;
                        // SAFETY: as above: `self` is the vouched-for
                        // pointee of the parameter.
                        unsafe { #visit(&self.0, #visitor_arg) }
                    }
                }
            })
        })
        .collect()
}

/// `#[escapes(cstr)]`: the string's extent, found with `strlen` (only in
/// an `unsafe fn`, whose caller vouches for the string: `valid` refuses
/// `cstr` elsewhere).
fn cstr_extent(private: &TokenStream, escape: &Escape) -> TokenStream {
    let access = relocate(escape.access.clone(), escape.span_end);
    quote_spanned! {escape.span=>
        // SAFETY: `cstr` is only accepted on a parameter of an `unsafe fn`
        // (or import), whose caller promises a valid NUL-terminated string
        // (or null).
        unsafe { #private::cstr_extent(&#access) }
    }
}

/// `tokens` shown at `span`, keeping their hygiene.
fn relocate(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            tree.set_span(tree.span().located_at(span));
            tree
        })
        .collect()
}

/// The length expression is evaluated here only, once, and only when the
/// call records pins.
fn extent_tokens(private: &TokenStream, extent: &Extent) -> TokenStream {
    match extent {
        Extent::One => quote!(#private::Extent::One),
        Extent::Len(e) => quote_spanned!(e.span()=> #private::Extent::len(#e)),
        Extent::Bytes(e) => quote_spanned!(e.span()=> #private::Extent::bytes(#e)),
    }
}

#[cfg(test)]
mod tests {
    use super::encode_name;

    /// Rule: each `referents = path` parameter gets its own wrapper type,
    /// whatever the parameters are called (distinct names never encode to
    /// the same wrapper name).
    #[test]
    fn referents_wrapper_names_are_distinct_per_parameter() {
        let names = [
            "_2", "#2", "r#type", "r_type", "é", "à", "_", "__", "_u5f_", "a_b", "a__b",
        ];
        let encoded: Vec<String> = names.iter().map(|n| encode_name(n)).collect();
        for (i, a) in encoded.iter().enumerate() {
            assert!(
                a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{a}"
            );
            for (j, b) in encoded.iter().enumerate().skip(i + 1) {
                assert_ne!(a, b, "`{}` and `{}` share a wrapper", names[i], names[j]);
            }
        }
    }
}
