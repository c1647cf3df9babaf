//! The derive's input as the expansion needs it: the container's options,
//! and each field with its options, its access path and the name its
//! referents are reported under.

use super::attrs::{self, ContainerAttrs, FieldAttrs};
use super::errors::Errors;
use syn::ext::IdentExt;
use syn::{Attribute, Data, DeriveInput, Fields, Generics, Ident, Index, Member, Meta, Type};

/// A struct or enum deriving `Referents`.
pub(crate) struct Input<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) generics: &'a Generics,
    pub(crate) options: ContainerAttrs,
    /// `#[repr(packed)]`: fields may be unaligned, so they are read by copy.
    pub(crate) packed: bool,
    pub(crate) shape: Shape<'a>,
}

/// What holds the fields.
pub(crate) enum Shape<'a> {
    /// A struct (named, tuple or unit).
    Struct(Vec<Field<'a>>),
    /// An enum: each variant's fields.
    Enum(Vec<Variant<'a>>),
}

/// One enum variant.
pub(crate) struct Variant<'a> {
    pub(crate) ident: &'a Ident,
    /// Named (`V { a }`), tuple (`V(a)`) or unit (`V`).
    pub(crate) style: VariantStyle,
    pub(crate) fields: Vec<Field<'a>>,
}

/// How a variant's fields are written in a pattern.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum VariantStyle {
    Named,
    Tuple,
    Unit,
}

/// One field.
pub(crate) struct Field<'a> {
    /// `self.<member>`: a name or a tuple index.
    pub(crate) member: Member,
    /// The name in check messages (`data`, `0`; `Variant.data` in enums).
    pub(crate) label: String,
    pub(crate) ty: &'a Type,
    pub(crate) options: FieldAttrs,
}

/// Reads `input`; a union is refused here (see `UNION`).
pub(crate) fn parse<'a>(input: &'a DeriveInput, errors: &mut Errors) -> Option<Input<'a>> {
    let kind = match &input.data {
        Data::Struct(_) => "struct",
        Data::Enum(_) => "enum",
        Data::Union(_) => "union",
    };
    let options = attrs::container(&input.attrs, kind, errors);
    let shape = match &input.data {
        Data::Struct(data) => Shape::Struct(fields(&data.fields, None, errors)),
        Data::Enum(data) => Shape::Enum(
            data.variants
                .iter()
                .map(|v| {
                    attrs::variant(&v.attrs, errors);
                    Variant {
                        ident: &v.ident,
                        style: match v.fields {
                            Fields::Named(_) => VariantStyle::Named,
                            Fields::Unnamed(_) => VariantStyle::Tuple,
                            Fields::Unit => VariantStyle::Unit,
                        },
                        fields: fields(&v.fields, Some(&v.ident), errors),
                    }
                })
                .collect(),
        ),
        Data::Union(data) => {
            errors.spanned(data.union_token, UNION);
            return None;
        }
    };
    Some(Input {
        ident: &input.ident,
        generics: &input.generics,
        options,
        packed: is_packed(&input.attrs),
        shape,
    })
}

/// Why unions are refused, and what to write instead.
const UNION: &str = "#[derive(Referents)] cannot be used on a union: which field is live is \
                     known only at run time, so the derive cannot tell which pointers it holds; \
                     write `unsafe impl Referents` by hand and report the live field's pointers";

fn fields<'a>(fields: &'a Fields, variant: Option<&Ident>, errors: &mut Errors) -> Vec<Field<'a>> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let (member, name) = match &f.ident {
                Some(ident) => (Member::Named(ident.clone()), ident.unraw().to_string()),
                None => (Member::Unnamed(Index::from(i)), i.to_string()),
            };
            Field {
                member,
                label: match variant {
                    Some(v) => format!("{}.{name}", v.unraw()),
                    None => name,
                },
                ty: &f.ty,
                options: attrs::field(&f.attrs, errors),
            }
        })
        .collect()
}

/// Whether `#[repr(packed)]` or `#[repr(packed(N))]` is among `attrs`.
fn is_packed(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| {
        let Meta::List(list) = &attr.meta else {
            return false;
        };
        let mut packed = false;
        if list.path.is_ident("repr") {
            // A malformed `repr` is rustc's to report; treat it as not packed.
            let _ = list.parse_nested_meta(|meta| {
                packed |= meta.path.is_ident("packed");
                if meta.input.peek(syn::token::Paren) {
                    let _group: proc_macro2::Group = meta.input.parse()?;
                }
                Ok(())
            });
        }
        packed
    })
}
