//! The rules that need the whole input: an extent (`len` / `bytes`) only on
//! a field spelled as a raw pointer, and only in a struct, where the
//! expression can read the other fields through `self`.

use super::errors::Errors;
use super::parse::{Field, Input, Shape};
use super::pointer::pointee;

/// Records every broken rule in `errors`.
pub(crate) fn validate(input: &Input<'_>, errors: &mut Errors) {
    remote_rules(input, errors);
    match &input.shape {
        Shape::Struct(fields) => {
            for field in fields {
                extent_on_pointer(field, errors);
            }
        }
        Shape::Enum(variants) => {
            for field in variants.iter().flat_map(|v| &v.fields) {
                if let Some(extent) = &field.options.extent {
                    errors.spanned(
                        &extent.key,
                        format!(
                            "`{key}` is not supported on a field of an enum variant (`{}`): \
                             the expression could not read the variant's other fields through \
                             `self`; move the pointer and its length into a struct with \
                             #[derive(Referents)] and `#[referents({key} = self.<field>)]`, \
                             and hold that struct in the variant",
                            field.label,
                            key = extent.kind.key(),
                        ),
                    );
                }
            }
        }
    }
}

fn extent_on_pointer(field: &Field<'_>, errors: &mut Errors) {
    let Some(extent) = &field.options.extent else {
        return;
    };
    if pointee(field.ty).is_none() {
        errors.spanned(
            &extent.key,
            format!(
                "`{key}` applies only to a raw-pointer field (`*const T`, `*mut T`, \
                 `NonNull<T>` or an `Option` of those), and field `{}` is not one; its type \
                 reports its own referents, so remove `{key} = ..`",
                field.label,
                key = extent.kind.key(),
            ),
        );
    }
}

/// `remote = ..` is for a struct mirroring a foreign struct: not an enum
/// (a C enum holds no pointers, and a Rust enum's layout is not the
/// remote's), and not generic (C types are not, and the generated function
/// declares its own items, which cannot see the mirror's parameters).
fn remote_rules(input: &Input<'_>, errors: &mut Errors) {
    let Some((key, _)) = &input.options.remote else {
        if let Some(partial) = &input.options.partial {
            errors.spanned(
                partial,
                "`partial` is an option of a remote mirror: it goes with \
                 `#[referents(remote = path::Type, partial)]`",
            );
        }
        return;
    };
    if let Shape::Enum(_) = input.shape {
        errors.spanned(
            key,
            "`remote` is supported on a struct only: mirror the foreign struct's fields in a \
             struct with #[derive(Referents)] and #[referents(remote = ..)]; for a foreign enum \
             or union write the reporting function by hand and name it with \
             #[escapes(referents = path)]",
        );
    }
    if let Some(param) = input.generics.params.first() {
        errors.spanned(
            param,
            "`remote` mirrors are not generic: name the foreign type with its arguments, \
             `remote = path::Type<u8>`, on a mirror struct without parameters",
        );
    }
    // A mirror gets no `Referents` impl, so there is no where-clause for
    // `bound` to replace: refused rather than silently ignored.
    if let Some(bound) = &input.options.bound {
        let message = "`bound` has no effect with `remote`: a mirror gets a function, not a \
                       `Referents` impl with a where-clause (and is not generic); remove \
                       `bound = ..`";
        if bound.is_empty() {
            errors.spanned(key, message);
        } else {
            errors.spanned(bound, message);
        }
    }
}
