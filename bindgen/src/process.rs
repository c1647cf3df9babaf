//! The post-processor: annotate extern blocks and parameters, check the
//! table against the output, and write the impls the derive cannot.

use crate::options::param_attributes;
use crate::{Annotations, Error};
use proc_macro2::TokenStream;
use quote::quote;
use syn::{parse_quote, FnArg, ForeignItem, GenericArgument, Item, Pat, PathArguments, Type};

/// What [`Annotations::process_full`] made of bindgen's output.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Processed {
    /// The annotated source, for your crate to `include!`.
    pub source: String,
    /// The opaque types (a struct holding only `_bindgen_opaque_blob`),
    /// whose pointers, if any, the checker cannot see: see the [crate
    /// docs](crate#opaque-types). A build script may print them as
    /// `cargo:warning=` lines.
    pub opaque_types: Vec<String>,
}

pub(crate) fn process(annotations: &Annotations, source: &str) -> Result<Processed, Error> {
    let mut file = syn::parse_file(source).map_err(|e| Error::Parse(e.to_string()))?;
    let krate: syn::Path =
        syn::parse_str(&annotations.crate_prefix()).map_err(|e| Error::Options {
            entry: "crate".to_owned(),
            message: format!("`{}` is not a path: {e}", annotations.crate_prefix()),
        })?;

    check_types(annotations, &file)?;
    annotate_extern_blocks(annotations, &krate, &mut file)?;

    let mut extra: Vec<TokenStream> = Vec::new();
    let mut opaque_types = Vec::new();
    for item in &file.items {
        match item {
            Item::Struct(s) => {
                let name = s.ident.to_string();
                if let Some(helper) = helper_impl(&krate, &name) {
                    extra.push(helper);
                    continue;
                }
                let field_names = s
                    .fields
                    .iter()
                    .filter_map(|f| f.ident.as_ref())
                    .map(ToString::to_string);
                if field_names.clone().any(|f| f == "_bindgen_opaque_blob") {
                    opaque_types.push(name.clone());
                }
                if annotations.manual.contains(&name) {
                    continue;
                }
                for field in &s.fields {
                    if let (Some(ident), Some(element)) =
                        (&field.ident, incomplete_array_element(&field.ty))
                    {
                        extra.push(flexible_array_check(
                            &krate,
                            &name,
                            &ident.to_string(),
                            element,
                        ));
                    }
                }
            }
            Item::Union(u) if !annotations.manual.contains(&u.ident.to_string()) => {
                extra.push(union_impl(&krate, u));
            }
            _ => {}
        }
    }
    for tokens in extra {
        let item: Item =
            syn::parse2(tokens).map_err(|e| Error::Parse(format!("generated impl: {e}")))?;
        file.items.push(item);
    }
    Ok(Processed {
        source: prettyplease::unparse(&file),
        opaque_types,
    })
}

/// Every `manual_impl` and `field` entry names a type and field of the
/// output, and every field entry's options are on its field.
fn check_types(annotations: &Annotations, file: &syn::File) -> Result<(), Error> {
    let defined = |name: &str| {
        file.items.iter().any(|item| match item {
            Item::Struct(s) => s.ident == name,
            Item::Enum(e) => e.ident == name,
            Item::Union(u) => u.ident == name,
            _ => false,
        })
    };
    for name in &annotations.manual {
        if !defined(name) {
            return Err(Error::UnknownType {
                type_name: name.clone(),
            });
        }
    }
    for entry in &annotations.fields {
        let (fields, is_union): (Vec<&syn::Field>, bool) =
            match file.items.iter().find_map(|item| match item {
                Item::Struct(s) if s.ident == entry.item => {
                    Some((s.fields.iter().collect(), false))
                }
                Item::Union(u) if u.ident == entry.item => {
                    Some((u.fields.named.iter().collect(), true))
                }
                _ => None,
            }) {
                Some(found) => found,
                None => {
                    return Err(Error::UnknownType {
                        type_name: entry.item.clone(),
                    })
                }
            };
        let entry_name = format!("{}.{}", entry.item, entry.member);
        crate::options::field_options_parse(&entry.options).map_err(|message| Error::Options {
            entry: entry_name.clone(),
            message,
        })?;
        if is_union || annotations.manual.contains(&entry.item) {
            return Err(Error::Options {
                entry: entry_name,
                message: "this type has no #[derive(Referents)] to read field options (a union, or listed with \
                          manual_impl): report the field in its hand-written impl"
                    .to_owned(),
            });
        }
        let Some(field) = fields
            .iter()
            .find(|f| f.ident.as_ref().is_some_and(|i| *i == entry.member))
        else {
            return Err(Error::UnknownField {
                type_name: entry.item.clone(),
                field: entry.member.clone(),
                known: fields
                    .iter()
                    .filter_map(|f| f.ident.as_ref().map(ToString::to_string))
                    .collect(),
            });
        };
        if !field.attrs.iter().any(|a| a.path().is_ident("referents")) {
            return Err(Error::FieldOptionsMissing {
                type_name: entry.item.clone(),
                field: entry.member.clone(),
            });
        }
    }
    Ok(())
}

/// `#[pointer_escapes]` on every extern block, `skip_variadic` where one
/// holds a variadic import, and each `param` entry's attributes on its
/// parameter.
fn annotate_extern_blocks(
    annotations: &Annotations,
    krate: &syn::Path,
    file: &mut syn::File,
) -> Result<(), Error> {
    let mut used = vec![false; annotations.params.len()];
    let aliases: Vec<(syn::Ident, Type)> = file
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Type(alias) if alias.generics.params.is_empty() => {
                Some((alias.ident.clone(), (*alias.ty).clone()))
            }
            _ => None,
        })
        .collect();
    for item in &mut file.items {
        let Item::ForeignMod(block) = item else {
            continue;
        };
        let mut variadic = false;
        for foreign in &mut block.items {
            let ForeignItem::Fn(function) = foreign else {
                continue;
            };
            let name = function.sig.ident.to_string();
            variadic |= function.sig.variadic.is_some();
            // The macro sees spelling, not types: a parameter typed with a
            // pointer typedef (zlib's `z_streamp`) would be neither pinned
            // nor take `flow_through`. Spell the pointer out; it is the
            // same type.
            for arg in &mut function.sig.inputs {
                if let FnArg::Typed(typed) = arg {
                    if let Some(pointer) = pointer_behind_alias(&typed.ty, &aliases) {
                        *typed.ty = pointer;
                    }
                }
            }
            for (index, entry) in annotations.params.iter().enumerate() {
                if entry.item != name {
                    continue;
                }
                if function.sig.variadic.is_some() {
                    return Err(Error::VariadicImport { function: name });
                }
                let known: Vec<String> =
                    function.sig.inputs.iter().filter_map(param_name).collect();
                let Some(arg) = function
                    .sig
                    .inputs
                    .iter_mut()
                    .find(|arg| param_name(arg).is_some_and(|p| p == entry.member))
                else {
                    return Err(Error::UnknownParameter {
                        function: name,
                        parameter: entry.member.clone(),
                        known,
                    });
                };
                let attrs = param_attributes(&entry.options).map_err(|message| Error::Options {
                    entry: format!("{}.{}", entry.item, entry.member),
                    message,
                })?;
                if let FnArg::Typed(typed) = arg {
                    typed.attrs.extend(attrs);
                }
                used[index] = true;
            }
        }
        let mut options: Vec<TokenStream> = Vec::new();
        if annotations.crate_path.is_some() {
            options.push(quote!(crate = #krate));
        }
        if variadic {
            options.push(quote!(skip_variadic));
        }
        block.attrs.push(if options.is_empty() {
            parse_quote!(#[#krate::pointer_escapes])
        } else {
            parse_quote!(#[#krate::pointer_escapes(#(#options),*)])
        });
    }
    if let Some(index) = used.iter().position(|u| !u) {
        return Err(Error::UnknownFunction {
            function: annotations.params[index].item.clone(),
        });
    }
    Ok(())
}

/// The raw-pointer type a parameter type names through a chain of the
/// output's type aliases (`z_streamp` = `*mut z_stream`), if it does.
fn pointer_behind_alias(ty: &Type, aliases: &[(syn::Ident, Type)]) -> Option<Type> {
    let mut current = ty;
    // Bounded: aliases cannot form a cycle in valid Rust, but the input is
    // only text.
    for _ in 0..32 {
        let Type::Path(path) = current else {
            return None;
        };
        if path.qself.is_some() || path.path.segments.len() != 1 {
            return None;
        }
        let segment = &path.path.segments[0];
        if !segment.arguments.is_none() {
            return None;
        }
        let (_, target) = aliases.iter().find(|(name, _)| *name == segment.ident)?;
        if let Type::Ptr(_) = target {
            return Some(target.clone());
        }
        current = target;
    }
    None
}

fn param_name(arg: &FnArg) -> Option<String> {
    match arg {
        FnArg::Typed(typed) => match &*typed.pat {
            Pat::Ident(ident) => Some(ident.ident.to_string()),
            _ => None,
        },
        FnArg::Receiver(_) => None,
    }
}

/// `T` of a field type spelled `__IncompleteArrayField<T>`.
fn incomplete_array_element(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "__IncompleteArrayField" {
        return None;
    }
    match &last.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

/// `Referents` for bindgen's helper types, which are defined in the output
/// (so local to the including crate) and never reach `add_derives`.
fn helper_impl(krate: &syn::Path, name: &str) -> Option<TokenStream> {
    let referents = quote!(#krate::Referents);
    let visitor = quote!(#krate::referents::Visitor);
    let ident = syn::Ident::new(name, proc_macro2::Span::call_site());
    let pointer_free = |generics: TokenStream, ty: TokenStream, why: &str| {
        let safety = format!("SAFETY: {why}; reports nothing, so HOLDS_POINTERS = false holds.");
        quote! {
            #[doc = #safety]
            unsafe impl #generics #referents for #ty {
                const HOLDS_POINTERS: bool = false;
                #[inline]
                fn visit_referents<V: #visitor>(&self, _visitor: &mut V) {}
            }
        }
    };
    // A marker of elements the struct does not hold inline with a known
    // count: it reports nothing, and it refuses to compile where a check
    // reaches one whose elements hold pointers, rather than hide them.
    let unknown_extent = |message: &str| {
        quote! {
            /// SAFETY: reports nothing; `HOLDS_POINTERS` is the element
            /// type's, so a check never skips it as pointer-free.
            unsafe impl<T: #referents> #referents for #ident<T> {
                const HOLDS_POINTERS: bool = <T as #referents>::HOLDS_POINTERS;
                #[inline]
                fn visit_referents<V: #visitor>(&self, _visitor: &mut V) {
                    const { ::core::assert!(!<T as #referents>::HOLDS_POINTERS, #message) }
                }
            }
        }
    };
    Some(match name {
        "__BindgenBitfieldUnit" => pointer_free(
            quote!(<Storage>),
            quote!(#ident<Storage>),
            "C bitfields are integers",
        ),
        "__BindgenFloat16" => pointer_free(quote!(), quote!(#ident), "a half-precision float"),
        _ if name.starts_with("__BindgenOpaqueArray") => pointer_free(
            quote!(<T>),
            quote!(#ident<T>),
            "an opaque blob or padding: Rust has no view of pointers in it (see the crate docs of pointer-escapes-bindgen)",
        ),
        "__BindgenComplex" => quote! {
            /// SAFETY: reports what its two numbers report (nothing).
            unsafe impl<T: #referents> #referents for #ident<T> {
                const HOLDS_POINTERS: bool = <T as #referents>::HOLDS_POINTERS;
                #[inline]
                fn visit_referents<V: #visitor>(&self, visitor: &mut V) {
                    visitor.inline(&self.re, #krate::referents::Via::Field("re"));
                    visitor.inline(&self.im, #krate::referents::Via::Field("im"));
                }
            }
        },
        "__IncompleteArrayField" => unknown_extent(
            "pointer-escapes-bindgen: a flexible array member (`__IncompleteArrayField<T>`) whose elements hold \
             pointers is reached by a check, and its length is known only to C; list the struct with \
             `Annotations::manual_impl` and report the elements in its impl with \
             `visitor.pointer(self.FIELD.as_ptr(), LENGTH, Via::Field(\"FIELD\"))`",
        ),
        "__BindgenUnionField" => unknown_extent(
            "pointer-escapes-bindgen: a union (`__BindgenUnionField<T>`) one of whose fields holds pointers is \
             reached by a check, and which field is live is known only at run time; list the struct with \
             `Annotations::manual_impl` and report the live field's pointers in its impl",
        ),
        _ => return None,
    })
}

/// A compile error (now, not where a check reaches it) for a struct with a
/// flexible array member of pointer-holding elements: its derived impl
/// could not report them.
fn flexible_array_check(krate: &syn::Path, name: &str, field: &str, element: &Type) -> TokenStream {
    let message = format!(
        "pointer-escapes-bindgen: `{name}.{field}` is a flexible array member whose elements hold pointers, \
         and only C knows its length, so a derived Referents impl cannot report them: list `{name}` with \
         `Annotations::manual_impl(\"{name}\")` and write `unsafe impl Referents for {name}` reporting \
         `visitor.pointer(self.{field}.as_ptr(), LENGTH, Via::Field(\"{field}\"))` and its other fields"
    );
    quote! {
        const _: () = ::core::assert!(!<#element as #krate::Referents>::HOLDS_POINTERS, #message);
    }
}

/// A union's impl: it reports nothing, which is the truth when no field can
/// hold a pointer; when one can, `HOLDS_POINTERS` says so and the impl
/// refuses to compile where a check reaches it.
fn union_impl(krate: &syn::Path, union: &syn::ItemUnion) -> TokenStream {
    let ident = &union.ident;
    let (impl_generics, ty_generics, where_clause) = union.generics.split_for_impl();
    let field_types = union
        .fields
        .named
        .iter()
        .map(|f| without_manually_drop(&f.ty));
    let message = format!(
        "pointer-escapes-bindgen: union `{ident}` can hold pointers, and which field is live is known only at run \
         time, so its generated Referents impl cannot report them: list it with \
         `Annotations::manual_impl(\"{ident}\")` and write `unsafe impl Referents for {ident}` reporting the live \
         field's pointers, or skip the field that holds it (`Annotations::field(.., \"skip\")`)"
    );
    quote! {
        /// SAFETY: reports nothing; `HOLDS_POINTERS` is true when any field
        /// can hold a pointer, so a check never skips it as pointer-free.
        unsafe impl #impl_generics #krate::Referents for #ident #ty_generics #where_clause {
            const HOLDS_POINTERS: bool = false #(|| <#field_types as #krate::Referents>::HOLDS_POINTERS)*;
            #[inline]
            fn visit_referents<V: #krate::referents::Visitor>(&self, _visitor: &mut V) {
                const { ::core::assert!(!<Self as #krate::Referents>::HOLDS_POINTERS, #message) }
            }
        }
    }
}

/// `T` for a union field spelled `ManuallyDrop<T>` (bindgen's spelling of
/// a non-`Copy` union field).
fn without_manually_drop(ty: &Type) -> &Type {
    if let Type::Path(path) = ty {
        if let Some(last) = path.path.segments.last() {
            if last.ident == "ManuallyDrop" {
                if let PathArguments::AngleBracketed(args) = &last.arguments {
                    if let Some(GenericArgument::Type(inner)) = args.args.first() {
                        return inner;
                    }
                }
            }
        }
    }
    ty
}
