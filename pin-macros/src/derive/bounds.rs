//! The where-clause of the derived impl.
//!
//! Inferred as serde does: `T: Referents` for each type parameter `T` that a
//! visited field's type mentions, except inside `PhantomData<..>` (which
//! holds nothing), and `T::Assoc: Referents` for each associated type a
//! field names. Bounding the parameters rather than whole field types keeps
//! recursive generic types (`struct Node<T> { next: *const Node<T> }`)
//! solvable, where a `*const Node<T>: Referents` bound would make rustc
//! chase its own tail. `#[referents(bound = "..")]` replaces the inference
//! when it guesses wrong.

use super::attrs::ExtentKind;
use super::parse::{Field, Input, Shape};
use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{
    GenericArgument, Generics, Ident, Path, PathArguments, ReturnType, Type, TypeParamBound,
    WherePredicate,
};

/// `input`'s generics with the where-clause the impl needs; `referents`
/// is the path of the trait.
pub(crate) fn impl_generics(input: &Input<'_>, referents: &Path) -> Generics {
    let mut generics = input.generics.clone();
    let predicates: Vec<WherePredicate> = match &input.options.bound {
        Some(bound) => bound.iter().cloned().collect(),
        None => inferred(input, referents),
    };
    if !predicates.is_empty() {
        generics.make_where_clause().predicates.extend(predicates);
    }
    generics
}

fn inferred(input: &Input<'_>, referents: &Path) -> Vec<WherePredicate> {
    let mut uses = Uses {
        params: input.generics.type_params().map(|p| &p.ident).collect(),
        found: Vec::new(),
        projections: Vec::new(),
    };
    if uses.params.is_empty() {
        return Vec::new();
    }
    uses.found = vec![false; uses.params.len()];
    let fields: Vec<&Field<'_>> = match &input.shape {
        Shape::Struct(fields) => fields.iter().collect(),
        Shape::Enum(variants) => variants.iter().flat_map(|v| &v.fields).collect(),
    };
    for field in fields {
        let visited = field.options.skip.is_none();
        // A `bytes` field reports bytes: its pointee needs no impl.
        let typed = field
            .options
            .extent
            .as_ref()
            .is_none_or(|e| e.kind == ExtentKind::Len);
        if visited && typed {
            uses.ty(field.ty);
        }
    }
    let params = uses
        .params
        .iter()
        .zip(&uses.found)
        .filter(|(_, found)| **found)
        .map(|(param, _)| syn::parse_quote!(#param: #referents));
    let projections = uses
        .projections
        .iter()
        .map(|ty| syn::parse_quote!(#ty: #referents));
    params.chain(projections).collect()
}

/// Which type parameters and associated types the field types mention.
struct Uses<'a> {
    params: Vec<&'a Ident>,
    found: Vec<bool>,
    /// `T::Assoc` and `<T as Trait>::Assoc`, each once.
    projections: Vec<Type>,
}

impl Uses<'_> {
    fn ty(&mut self, ty: &Type) {
        match ty {
            Type::Array(t) => self.ty(&t.elem),
            Type::Slice(t) => self.ty(&t.elem),
            Type::Ptr(t) => self.ty(&t.elem),
            Type::Reference(t) => self.ty(&t.elem),
            Type::Paren(t) => self.ty(&t.elem),
            Type::Group(t) => self.ty(&t.elem),
            Type::Tuple(t) => t.elems.iter().for_each(|e| self.ty(e)),
            Type::BareFn(f) => {
                f.inputs.iter().for_each(|a| self.ty(&a.ty));
                if let ReturnType::Type(_, out) = &f.output {
                    self.ty(out);
                }
            }
            Type::TraitObject(t) => self.bounds(t.bounds.iter()),
            Type::ImplTrait(t) => self.bounds(t.bounds.iter()),
            Type::Path(p) => {
                let first = p.path.segments.first().map(|s| &s.ident);
                let is_param = first.is_some_and(|f| self.params.contains(&f));
                if p.qself.is_some() || (is_param && p.path.segments.len() > 1) {
                    self.projection(ty);
                } else if p
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "PhantomData")
                {
                    // Holds nothing, whatever it names.
                } else {
                    self.path(&p.path);
                }
            }
            Type::Infer(_) | Type::Never(_) => {}
            // Macros and anything syn adds later: look at the tokens.
            other => self.tokens(other.to_token_stream()),
        }
    }

    fn path(&mut self, path: &Path) {
        if let Some(ident) = path.get_ident() {
            self.mark(ident);
        }
        for segment in &path.segments {
            match &segment.arguments {
                PathArguments::None => {}
                PathArguments::AngleBracketed(args) => {
                    for arg in &args.args {
                        match arg {
                            GenericArgument::Type(t) => self.ty(t),
                            GenericArgument::AssocType(a) => self.ty(&a.ty),
                            _ => {}
                        }
                    }
                }
                PathArguments::Parenthesized(args) => {
                    args.inputs.iter().for_each(|t| self.ty(t));
                    if let ReturnType::Type(_, out) = &args.output {
                        self.ty(out);
                    }
                }
            }
        }
    }

    fn bounds<'b>(&mut self, bounds: impl Iterator<Item = &'b TypeParamBound>) {
        for bound in bounds {
            if let TypeParamBound::Trait(t) = bound {
                self.path(&t.path);
            }
        }
    }

    fn projection(&mut self, ty: &Type) {
        let key = ty.to_token_stream().to_string();
        if !self
            .projections
            .iter()
            .any(|p| p.to_token_stream().to_string() == key)
        {
            self.projections.push(ty.clone());
        }
    }

    fn mark(&mut self, ident: &Ident) {
        if let Some(i) = self.params.iter().position(|p| *p == ident) {
            self.found[i] = true;
        }
    }

    fn tokens(&mut self, tokens: TokenStream) {
        for token in tokens {
            match token {
                TokenTree::Ident(ident) => self.mark(&ident),
                TokenTree::Group(group) => self.tokens(group.stream()),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::derive::errors::Errors;
    use crate::derive::parse::parse;
    use quote::ToTokens;
    use syn::{parse_quote, DeriveInput};

    fn where_clause(input: DeriveInput) -> String {
        let mut errors = Errors::default();
        let parsed = parse(&input, &mut errors).expect("parses");
        let generics = super::impl_generics(&parsed, &parse_quote!(R));
        generics
            .where_clause
            .map(|w| w.to_token_stream().to_string())
            .unwrap_or_default()
    }

    #[test]
    fn bounds_each_parameter_a_visited_field_mentions() {
        let w = where_clause(parse_quote! {
            struct S<'a, T, U, W, const N: usize> {
                a: &'a [T],
                b: core::marker::PhantomData<U>,
                c: [u8; N],
                #[referents(skip)]
                d: W,
            }
        });
        assert_eq!(w, "where T : R");
    }

    #[test]
    fn recursive_types_bound_the_parameter_not_the_field() {
        let w = where_clause(parse_quote! {
            struct Node<T> { value: T, next: *const Node<T> }
        });
        assert_eq!(w, "where T : R");
    }

    #[test]
    fn bytes_fields_need_no_bound_and_len_fields_do() {
        let w = where_clause(parse_quote! {
            struct S<T, U> {
                #[referents(bytes = 4)] raw: *mut T,
                #[referents(len = 4)] typed: *const U,
            }
        });
        assert_eq!(w, "where U : R");
    }

    #[test]
    fn associated_types_are_bounded_themselves() {
        let w = where_clause(parse_quote! {
            struct S<I: Iterator> where I: Clone { item: I::Item, other: Vec<<I as IntoIterator>::IntoIter> }
        });
        assert_eq!(
            w,
            "where I : Clone , I :: Item : R , < I as IntoIterator > :: IntoIter : R"
        );
    }

    #[test]
    fn an_explicit_bound_replaces_the_inference() {
        let w = where_clause(parse_quote! {
            #[referents(bound = "T: Copy")]
            struct S<T> { value: T }
        });
        assert_eq!(w, "where T : Copy");
    }

    #[test]
    fn no_type_parameters_no_where_clause() {
        assert_eq!(
            where_clause(parse_quote!(
                struct S<'a>(&'a u8);
            )),
            ""
        );
    }
}
