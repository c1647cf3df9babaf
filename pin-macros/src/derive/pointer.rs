//! Recognises, from its spelling, a field type that is a raw pointer:
//! `*const T`, `*mut T`, `NonNull<T>` (any path ending in `NonNull`) and
//! `Option` of those. Only such fields take `len` / `bytes`; a type alias
//! of a pointer is not recognised (a proc macro sees spelling, not types).

use syn::{GenericArgument, PathArguments, Type};

/// The pointee `T` when `ty` is spelled as a raw pointer, else `None`.
pub(crate) fn pointee(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Ptr(ptr) => Some(&ptr.elem),
        Type::Paren(paren) => pointee(&paren.elem),
        Type::Group(group) => pointee(&group.elem),
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            let arg = single_type_argument(&last.arguments)?;
            if last.ident == "NonNull" {
                Some(arg)
            } else if last.ident == "Option" {
                pointee(arg)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// `X` of `Name<X>`.
fn single_type_argument(arguments: &PathArguments) -> Option<&Type> {
    let PathArguments::AngleBracketed(args) = arguments else {
        return None;
    };
    let mut types = args.args.iter();
    match (types.next(), types.next()) {
        (Some(GenericArgument::Type(ty)), None) => Some(ty),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::pointee;
    use quote::ToTokens;
    use syn::{parse_quote, Type};

    fn pointee_of(ty: Type) -> Option<String> {
        pointee(&ty).map(|t| t.to_token_stream().to_string())
    }

    #[test]
    fn recognises_every_pointer_spelling() {
        assert_eq!(pointee_of(parse_quote!(*const u8)).as_deref(), Some("u8"));
        assert_eq!(pointee_of(parse_quote!(*mut Node)).as_deref(), Some("Node"));
        assert_eq!(pointee_of(parse_quote!(NonNull<T>)).as_deref(), Some("T"));
        assert_eq!(
            pointee_of(parse_quote!(core::ptr::NonNull<u32>)).as_deref(),
            Some("u32")
        );
        assert_eq!(
            pointee_of(parse_quote!(Option<NonNull<c_void>>)).as_deref(),
            Some("c_void")
        );
        assert_eq!(
            pointee_of(parse_quote!(::std::option::Option<*mut i8>)).as_deref(),
            Some("i8")
        );
    }

    #[test]
    fn refuses_everything_else() {
        assert_eq!(pointee_of(parse_quote!(Vec<u8>)), None);
        assert_eq!(pointee_of(parse_quote!(&'a [u8])), None);
        assert_eq!(pointee_of(parse_quote!(Option<u32>)), None);
        assert_eq!(pointee_of(parse_quote!(Option<Box<u8>>)), None);
        assert_eq!(pointee_of(parse_quote!(usize)), None);
        assert_eq!(pointee_of(parse_quote!(<T as Tr>::NonNull<u8>)), None);
    }
}
