//! Emits `unsafe impl Referents`: each field reported to the visitor under
//! its name, inline (its own referents) or, for a pointer field with an
//! extent, as a pointer to `len` elements or `bytes` bytes.
//!
//! Hygiene: the visitor variable has a mixed-site span, so a user's `len`
//! expression cannot see (or shadow) it; `self` keeps the call-site span so
//! that the user's `self.other_field` resolves to the method's receiver.
//! The visitor's type parameter cannot be made hygienic (generic parameters
//! resolve at the call site), so it has a name no user writes.

use super::attrs::ExtentKind;
use super::bounds;
use super::parse::{Field, Input, Shape, Variant, VariantStyle};
use super::pointer::pointee;
use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Ident, Path};

/// The path generated code names the run-time through.
pub(crate) fn crate_path(input: Option<&Input<'_>>) -> Path {
    input
        .and_then(|i| i.options.krate.clone())
        .unwrap_or_else(|| syn::parse_quote!(::pointer_escapes))
}

/// The `unsafe impl Referents` for `input`.
pub(crate) fn referents_impl(input: &Input<'_>) -> TokenStream {
    let krate = crate_path(Some(input));
    let private = quote!(#krate::__private);
    let trait_path: Path = syn::parse_quote!(#private::Referents);
    let generics = bounds::impl_generics(input, &trait_path);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let ident = input.ident;
    let visitor = Ident::new("visitor", Span::mixed_site());
    let emit = Emit {
        private: &private,
        visitor: &visitor,
        infer: false,
    };
    let body = match &input.shape {
        Shape::Struct(fields) => emit.struct_body(fields, input.packed),
        Shape::Enum(variants) => emit.enum_body(variants),
    };
    let holds_pointers = holds_pointers(input, &trait_path);
    quote! {
        #[automatically_derived]
        unsafe impl #impl_generics #trait_path for #ident #ty_generics #where_clause {
            const HOLDS_POINTERS: bool = #holds_pointers;

            #[inline]
            fn visit_referents<__PointerEscapesVisitor: #private::Visitor>(
                &self,
                #visitor: &mut __PointerEscapesVisitor,
            ) {
                #body
            }
        }
    }
}

/// For `#[referents(remote = path::Type)]`: no `Referents` impl for the
/// mirror (nothing ever holds one), but an inherent
/// `Mirror::visit_referents(value: &path::Type, visitor)`, shaped like
/// `Referents::visit_referents`, to be named by `#[escapes(referents =
/// Mirror::visit_referents)]`.
///
/// Inside, a local trait implemented for the remote type gives the field
/// options a `self` that is the remote value, so `len = self.count` reads
/// the remote's field. Each mirror field, skipped ones included, is checked
/// against the remote by name and type (`addr_of!(self.field)` as a `*const
/// FieldType`, spanned on the mirror's field), as serde's remote derive
/// does: a misspelt or mistyped mirror does not compile.
///
/// The function is safe: it only reads the fields of a borrowed value and
/// reports them; a safe fn coerces to the `unsafe fn` shape `referents =`
/// takes. Whether the extents are right is the mirror author's promise, as
/// for any derive.
pub(crate) fn remote_fn(input: &Input<'_>, remote: &syn::Type) -> TokenStream {
    let krate = crate_path(Some(input));
    let private = quote!(#krate::__private);
    let ident = input.ident;
    let visitor = Ident::new("visitor", Span::mixed_site());
    let emit = Emit {
        private: &private,
        visitor: &visitor,
        // The field checks below already compare each mirror type with the
        // remote's: infer the types here, so a mismatch is reported once.
        infer: true,
    };
    let Shape::Struct(fields) = &input.shape else {
        // `validate` refused `remote` on an enum.
        return TokenStream::new();
    };
    let body = emit.struct_body(fields, input.packed);
    let matches = fields.iter().map(|field| {
        let member = &field.member;
        let ty = field.ty;
        quote_spanned! {ty.span()=>
            let _: *const #ty = ::core::ptr::addr_of!(self.#member);
        }
    });
    // Every field of the remote is mirrored (skipped ones included), unless
    // the mirror says `partial`: an exhaustive pattern, which fails to
    // compile on a remote field the mirror leaves out ("pattern does not
    // mention field"), so no pointer field goes unreported by accident.
    let exhaustive = match (&input.options.partial, remote) {
        (None, syn::Type::Path(syn::TypePath { qself: None, path })) => {
            // The path and braces at the remote's path (a missing field is
            // reported there), each member at the mirror's field (a field
            // the remote lacks is reported there).
            let span = remote.span();
            let members = fields.iter().map(|f| &f.member);
            quote_spanned! {span=>
                let #path { #(#members: _,)* } = self;
            }
        }
        _ => TokenStream::new(),
    };
    let trait_ident = Ident::new("__PointerEscapesRemote", Span::mixed_site());
    // The mirror is never built, only read from: name each of its fields
    // once (in a closure never called), so that rustc does not report them
    // as never read.
    let mirror = Ident::new("mirror", Span::mixed_site());
    let members = fields.iter().map(|f| &f.member);
    let uses = quote! {
        let _ = |#mirror: &Self| {
            #( let _ = ::core::ptr::addr_of!(#mirror.#members); )*
        };
    };
    let doc = format!(
        "Reports the referents of a `{}` as the fields of [`{ident}`] say \
         (`#[derive(Referents)]` with `#[referents(remote = ..)]`): pass it as \
         `#[escapes(referents = {ident}::visit_referents)]`.",
        quote!(#remote).to_string().replace(' ', "")
    );
    quote! {
        #[automatically_derived]
        impl #ident {
            #[doc = #doc]
            #[allow(dead_code)]
            #[inline]
            pub fn visit_referents<__PointerEscapesVisitor: #private::Visitor>(
                value: &#remote,
                #visitor: &mut __PointerEscapesVisitor,
            ) {
                trait #trait_ident {
                    fn visit<__PointerEscapesVisitor: #private::Visitor>(
                        &self,
                        #visitor: &mut __PointerEscapesVisitor,
                    );
                }
                impl #trait_ident for #remote {
                    #[inline]
                    fn visit<__PointerEscapesVisitor: #private::Visitor>(
                        &self,
                        #visitor: &mut __PointerEscapesVisitor,
                    ) {
                        #exhaustive
                        #(#matches)*
                        #body
                    }
                }
                #uses
                #trait_ident::visit(value, #visitor)
            }
        }
    }
}

/// `HOLDS_POINTERS` of the derived type: whether any field it reports can
/// report a referent. A pointer field with an extent always can; an inline
/// field can when its type can; skipped fields are not reported at all.
fn holds_pointers(input: &Input<'_>, trait_path: &Path) -> TokenStream {
    let fields: Vec<&Field<'_>> = match &input.shape {
        Shape::Struct(fields) => fields.iter().collect(),
        Shape::Enum(variants) => variants.iter().flat_map(|v| &v.fields).collect(),
    };
    let reported = fields.iter().filter(|f| f.options.skip.is_none());
    let mut terms = Vec::new();
    for field in reported {
        if field.options.extent.is_some() {
            return quote!(true);
        }
        let ty = field.ty;
        terms.push(quote!(<#ty as #trait_path>::HOLDS_POINTERS));
    }
    quote!(false #(|| #terms)*)
}

/// An impl that reports nothing, emitted beside the errors of a rejected
/// input so that the user sees those errors, not a cascade of "does not
/// implement `Referents`" at every use of the type. It is never run: the
/// errors stop the build.
pub(crate) fn fallback_impl(input: &syn::DeriveInput, krate: &Path) -> TokenStream {
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let ident = &input.ident;
    quote! {
        #[automatically_derived]
        unsafe impl #impl_generics #krate::__private::Referents for #ident #ty_generics #where_clause {
            fn visit_referents<__PointerEscapesVisitor: #krate::__private::Visitor>(
                &self,
                _: &mut __PointerEscapesVisitor,
            ) {
            }
        }
    }
}

/// For a rejected remote mirror: its function, reporting nothing, so that
/// `referents = Mirror::visit_referents` does not add errors to the real
/// ones. Never run: the errors stop the build.
pub(crate) fn fallback_remote_fn(
    input: &syn::DeriveInput,
    remote: &syn::Type,
    krate: &Path,
) -> TokenStream {
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let ident = &input.ident;
    quote! {
        #[automatically_derived]
        impl #impl_generics #ident #ty_generics #where_clause {
            #[allow(dead_code)]
            pub fn visit_referents<__PointerEscapesVisitor: #krate::__private::Visitor>(
                _: &#remote,
                _: &mut __PointerEscapesVisitor,
            ) {
            }
        }
    }
}

struct Emit<'a> {
    private: &'a TokenStream,
    visitor: &'a Ident,
    /// Leave the field types to inference (a remote mirror, whose types
    /// are checked against the remote's separately).
    infer: bool,
}

impl Emit<'_> {
    fn struct_body(&self, fields: &[Field<'_>], packed: bool) -> TokenStream {
        let visits: Vec<TokenStream> = fields
            .iter()
            .filter(|f| f.options.skip.is_none())
            .map(|field| {
                let member = &field.member;
                // A packed struct's fields may be unaligned, and a reference
                // to one is an error: visit a copy instead (pointers and
                // lengths are `Copy`). An inline field's copy is visited
                // through `Visitor::copied`, which moves what the copy says
                // about its own bytes to the real field, as raw pointers.
                if packed && field.options.extent.is_none() {
                    return self.copied_field(field);
                }
                let reference = if packed {
                    quote!(&{ self.#member })
                } else {
                    quote!(&self.#member)
                };
                self.field(field, reference)
            })
            .collect();
        self.or_unused(visits)
    }

    fn enum_body(&self, variants: &[Variant<'_>]) -> TokenStream {
        if variants.is_empty() {
            // `&Empty` is not an empty type to `match`; `Empty` is.
            let visitor = self.visitor;
            return quote!(let _ = #visitor; match *self {});
        }
        let arms = variants.iter().map(|variant| {
            let ident = variant.ident;
            let bindings: Vec<Option<Ident>> = variant
                .fields
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    f.options
                        .skip
                        .is_none()
                        .then(|| format_ident!("__field{}", i, span = Span::mixed_site()))
                })
                .collect();
            let pattern = match variant.style {
                VariantStyle::Unit => quote!(Self::#ident),
                VariantStyle::Tuple => {
                    let parts = bindings.iter().map(|b| match b {
                        Some(b) => b.to_token_stream(),
                        None => quote!(_),
                    });
                    quote!(Self::#ident(#(#parts),*))
                }
                VariantStyle::Named => {
                    let parts = variant.fields.iter().zip(&bindings).map(|(f, b)| {
                        let member = &f.member;
                        match b {
                            Some(b) => quote!(#member: #b),
                            None => quote!(#member: _),
                        }
                    });
                    quote!(Self::#ident { #(#parts),* })
                }
            };
            // Match ergonomics on `&Self`: each binding is `&FieldType`.
            let visits = variant
                .fields
                .iter()
                .zip(&bindings)
                .filter_map(|(f, b)| b.as_ref().map(|b| self.field(f, b.to_token_stream())));
            quote!(#pattern => { #(#visits)* })
        });
        let reports_nothing = variants
            .iter()
            .flat_map(|v| &v.fields)
            .all(|f| f.options.skip.is_some());
        let unused = reports_nothing.then(|| self.or_unused(Vec::new()));
        quote! {
            #unused
            match self {
                #(#arms)*
            }
        }
    }

    /// Reports one field; `reference` is an expression of type `&FieldType`.
    fn field(&self, field: &Field<'_>, reference: TokenStream) -> TokenStream {
        let Emit {
            private, visitor, ..
        } = self;
        let ty = field.ty;
        let label = &field.label;
        let via = quote!(#private::Via::Field(#label));
        let Some(extent) = &field.options.extent else {
            if self.infer {
                return quote_spanned! {ty.span()=>
                    #visitor.inline(#reference, #via);
                };
            }
            // The explicit type argument carries the field type's span, so a
            // type without an impl is reported on the field's type.
            return quote_spanned! {ty.span()=>
                #visitor.inline::<#ty>(#reference, #via);
            };
        };
        let expr = &extent.expr;
        // Spanned on the expression, so a non-integer is reported there and
        // not on the derive.
        let referent_count = respan(quote!(#private::referent_count), expr.span());
        let count = quote_spanned!(expr.span()=> #referent_count(#expr));
        let target = quote!(#private::EscapingPointer::target(#reference));
        match extent.kind {
            ExtentKind::Len => {
                // `validate` refused `len` on a field that is not a pointer,
                // so `pointee` finds one; `_` lets rustc infer it otherwise.
                // Spanned on the pointee: it is what must implement
                // `Referents`.
                let elem = match pointee(ty) {
                    Some(elem) if !self.infer => elem.to_token_stream(),
                    _ => quote!(_),
                };
                quote_spanned! {elem.span()=>
                    #visitor.pointer::<#elem>(#target, #count, #via);
                }
            }
            ExtentKind::Bytes => quote! {
                #visitor.bytes(#target.cast::<u8>(), #count, #via);
            },
        }
    }

    /// An inline field of a packed struct: its copy, with its real place.
    fn copied_field(&self, field: &Field<'_>) -> TokenStream {
        let Emit {
            private, visitor, ..
        } = self;
        let ty = field.ty;
        let member = &field.member;
        let label = &field.label;
        let via = quote!(#private::Via::Field(#label));
        let ty_arg = if self.infer {
            quote!(_)
        } else {
            ty.to_token_stream()
        };
        quote_spanned! {ty.span()=>
            #visitor.copied::<#ty_arg>(
                ::core::ptr::addr_of!(self.#member),
                &{ self.#member },
                #via,
            );
        }
    }

    /// `visits`, or a use of the visitor when there are none (a unit struct).
    fn or_unused(&self, visits: Vec<TokenStream>) -> TokenStream {
        if visits.is_empty() {
            let visitor = self.visitor;
            quote!(let _ = #visitor;)
        } else {
            quote!(#(#visits)*)
        }
    }
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner = Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}
