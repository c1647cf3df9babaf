//! What a parameter's type looks like, read from the syntax alone: a raw
//! pointer, a reference, clearly something else, or a name the macro cannot
//! see through (a type alias may hide a pointer).
//!
//! Only the syntax is available to a proc macro. Where it is not enough, the
//! generated code lets a trait bound decide (`EscapingPointer`, `EscapeLen`,
//! `Referents`), whose `on_unimplemented` messages say what to do.

use syn::{GenericArgument, PathArguments, Type};

/// The syntactic shape of a parameter type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `*const T`, `*mut T`, `NonNull<T>`, or `Option` of those.
    RawPointer,
    /// `&T` / `&mut T` (slices included).
    Reference,
    /// Certainly not a pointer: the words say what it is.
    NotPointer(&'static str),
    /// A path the macro cannot see through (could be an alias of a pointer).
    Opaque,
}

/// Classifies `ty` syntactically.
pub(crate) fn classify(ty: &Type) -> Shape {
    match ty {
        Type::Ptr(_) => Shape::RawPointer,
        Type::Reference(_) => Shape::Reference,
        Type::Paren(p) => classify(&p.elem),
        Type::Group(g) => classify(&g.elem),
        Type::Path(p) if p.qself.is_none() => {
            let Some(last) = p.path.segments.last() else {
                return Shape::Opaque;
            };
            let name = last.ident.to_string();
            match (name.as_str(), &last.arguments) {
                ("NonNull", PathArguments::AngleBracketed(_)) => Shape::RawPointer,
                ("Option", PathArguments::AngleBracketed(args)) => match args.args.first() {
                    Some(GenericArgument::Type(inner)) if args.args.len() == 1 => {
                        match classify(inner) {
                            Shape::RawPointer => Shape::RawPointer,
                            _ => Shape::NotPointer(
                                "an `Option` of something other than a raw pointer",
                            ),
                        }
                    }
                    _ => Shape::Opaque,
                },
                ("Vec" | "Box" | "String" | "Rc" | "Arc", _) => Shape::NotPointer("an owned value"),
                (prim, PathArguments::None) if p.path.segments.len() == 1 => primitive(prim),
                _ => Shape::Opaque,
            }
        }
        Type::Slice(_) | Type::Array(_) => Shape::NotPointer("an array"),
        Type::Tuple(_) => Shape::NotPointer("a tuple"),
        Type::ImplTrait(_) => Shape::NotPointer("an `impl Trait` value"),
        Type::TraitObject(_) => Shape::NotPointer("a trait object"),
        Type::BareFn(_) => Shape::NotPointer("a function pointer"),
        Type::Never(_) => Shape::NotPointer("`!`"),
        _ => Shape::Opaque,
    }
}

/// For a [`Shape::RawPointer`]: `Some(true)` when C may write the pointee
/// (`*mut T`, `NonNull<T>`, `Option` of those), `Some(false)` for `*const
/// T`; `None` for anything else.
pub(crate) fn pointee_writable(ty: &Type) -> Option<bool> {
    match ty {
        Type::Ptr(p) => Some(p.mutability.is_some()),
        Type::Paren(p) => pointee_writable(&p.elem),
        Type::Group(g) => pointee_writable(&g.elem),
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            match (last.ident.to_string().as_str(), &last.arguments) {
                ("NonNull", PathArguments::AngleBracketed(_)) => Some(true),
                ("Option", PathArguments::AngleBracketed(args)) if args.args.len() == 1 => {
                    match args.args.first() {
                        Some(GenericArgument::Type(inner)) => pointee_writable(inner),
                        _ => None,
                    }
                }
                _ => None,
            }
        }
        _ => None,
    }
}

fn primitive(name: &str) -> Shape {
    match name {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128"
        | "isize" => Shape::NotPointer("an integer"),
        "f32" | "f64" => Shape::NotPointer("a float"),
        "bool" => Shape::NotPointer("a bool"),
        "char" => Shape::NotPointer("a char"),
        _ => Shape::Opaque,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn shape(ty: Type) -> Shape {
        classify(&ty)
    }

    #[test]
    fn raw_pointers() {
        assert_eq!(shape(parse_quote!(*const u8)), Shape::RawPointer);
        assert_eq!(shape(parse_quote!(*mut libc::iovec)), Shape::RawPointer);
        assert_eq!(shape(parse_quote!(NonNull<T>)), Shape::RawPointer);
        assert_eq!(
            shape(parse_quote!(core::ptr::NonNull<T>)),
            Shape::RawPointer
        );
        assert_eq!(shape(parse_quote!(Option<NonNull<T>>)), Shape::RawPointer);
        assert_eq!(shape(parse_quote!(Option<*mut c_void>)), Shape::RawPointer);
        assert_eq!(shape(parse_quote!((*const u8))), Shape::RawPointer);
    }

    #[test]
    fn writable_pointees() {
        let writable = |ty: Type| pointee_writable(&ty);
        assert_eq!(writable(parse_quote!(*const u8)), Some(false));
        assert_eq!(writable(parse_quote!(Option<*const u8>)), Some(false));
        assert_eq!(writable(parse_quote!(*mut *mut c_char)), Some(true));
        assert_eq!(writable(parse_quote!(NonNull<T>)), Some(true));
        assert_eq!(writable(parse_quote!(Option<NonNull<T>>)), Some(true));
        assert_eq!(writable(parse_quote!(IovPtr)), None);
    }

    #[test]
    fn references() {
        assert_eq!(shape(parse_quote!(&[Vec<u8>])), Shape::Reference);
        assert_eq!(
            shape(parse_quote!(&'a mut [IoSliceMut<'b>])),
            Shape::Reference
        );
    }

    #[test]
    fn others() {
        assert!(matches!(shape(parse_quote!(u32)), Shape::NotPointer(_)));
        assert!(matches!(shape(parse_quote!(Vec<u8>)), Shape::NotPointer(_)));
        assert!(matches!(shape(parse_quote!([u8; 4])), Shape::NotPointer(_)));
        assert!(matches!(
            shape(parse_quote!(impl AsRef<[u8]>)),
            Shape::NotPointer(_)
        ));
        assert!(matches!(
            shape(parse_quote!(Option<&u8>)),
            Shape::NotPointer(_)
        ));
        assert_eq!(shape(parse_quote!(IovPtr)), Shape::Opaque);
        assert_eq!(shape(parse_quote!(c_int)), Shape::Opaque);
    }
}
