//! The rules: what each parameter's attributes and type mean together, and
//! which combinations are refused (with an error on the offending token that
//! says what to write instead).

use super::errors::Errors;
use super::param_attr::{Access, ExtentKind, ParamAttrs, Referents};
use super::shape::{classify, pointee_writable, Shape};
use quote::ToTokens;
use syn::{Expr, Receiver, Type};

/// What the function being rewritten promises.
pub(crate) struct FnKind {
    /// Its name, for messages.
    pub(crate) name: String,
    /// `unsafe fn`: its caller vouches for raw-pointer arguments, so the
    /// generated code may read through them.
    pub(crate) is_unsafe: bool,
    /// A wrapper for an extern-block item (changes the wording of the fix).
    pub(crate) foreign: bool,
}

/// What the prologue does with one parameter.
#[derive(Clone)]
pub(crate) enum Action {
    /// A raw pointer: pin `extent`; `read` says whether its referents are
    /// checked, `lint` which compile-time warning the pointee's type may
    /// raise.
    Pointer {
        extent: Extent,
        read: Read,
        lint: Option<Lint>,
        kept: Kept,
    },
    /// `#[flow_through]` raw pointer: pin `extent` and each element's
    /// referents.
    FlowPointer { extent: Extent, kept: Kept },
    /// `#[flow_through]` reference or slice: pin it and its referents;
    /// `trusted` (an `unsafe fn`) lets the check read through the raw
    /// pointers below it on the function's contract.
    FlowRef { trusted: bool },
}

/// What `retained` and `pointee = T` add to a raw pointer.
#[derive(Clone, Default)]
pub(crate) struct Kept {
    /// `retained`: C keeps the pointer beyond the call, so it must be
    /// covered by a pin that outlives the call.
    pub(crate) retained: bool,
    /// `pointee = T`: the pointer is taken as a `*const T`.
    pub(crate) pointee: Option<Type>,
    /// `referents = path`: the pointee's referents are reported by that
    /// function (through a wrapper type the prologue declares), with the
    /// parameter's type to name the pointee by when `pointee` is not given.
    pub(crate) referents: Option<(Referents, Type)>,
    /// `cstr`: the extent is the NUL-terminated string's (`strlen` + 1).
    pub(crate) cstr: bool,
}

/// Whether checked mode reads a raw pointer's pointee to check its
/// referents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Read {
    /// Checked: the caller of an `unsafe fn` vouches for an initialised
    /// pointee (`*const T`, or `#[escapes(inout)]`).
    Checked,
    /// An alias the macro cannot see through, in an `unsafe fn`: checked
    /// only if its type is a `*const` pointer (decided by the type).
    CheckedIfConst,
    /// Never read: a safe fn's pointer (nothing vouches for it), an
    /// out-parameter, or an unmarked `*mut` whose pointee may be
    /// uninitialised.
    Never,
}

/// A compile-time warning raised when the pointee's type has referents
/// (a check would have been possible) but the pointee is not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lint {
    /// The pointer is a parameter of a safe fn.
    SafeFn,
    /// An unmarked `*mut` parameter of an `unsafe fn`.
    MutNotChecked,
}

/// How much of a pointer is pinned.
#[derive(Clone)]
pub(crate) enum Extent {
    One,
    Len(Expr),
    Bytes(Expr),
}

impl From<ExtentKind> for Extent {
    fn from(kind: ExtentKind) -> Extent {
        match kind {
            ExtentKind::Len(e) => Extent::Len(e),
            ExtentKind::Bytes(e) => Extent::Bytes(e),
        }
    }
}

/// Decides what to do with a typed parameter `param: ty`; `None` when it
/// does not escape (or was refused, with the reason in `errors`).
pub(crate) fn typed_param(
    kind: &FnKind,
    param: &str,
    ty: &Type,
    attrs: ParamAttrs,
    errors: &mut Errors,
) -> Option<Action> {
    let shape = classify(ty);
    let ty_text = type_text(ty);
    if let (Some(escapes), Shape::Reference | Shape::NotPointer(_)) = (&attrs.escapes, shape) {
        let what = match shape {
            Shape::NotPointer(what) => what,
            _ => "a reference",
        };
        let (said, meaning) = match (&escapes.extent, &escapes.access) {
            (Some(extent), _) => (
                format!("#[escapes({} = ..)]", extent.key()),
                "gives the extent of a raw pointer",
            ),
            (None, Some((access, _))) => (
                format!("#[escapes({})]", access.key()),
                "says what C does with a raw pointer's pointee",
            ),
            (None, None) if escapes.cstr.is_some() => (
                "#[escapes(cstr)]".to_string(),
                "gives the extent of a raw pointer to a NUL-terminated string",
            ),
            (None, None) if escapes.retained.is_some() => (
                "#[escapes(retained)]".to_string(),
                "says C keeps a raw pointer after the call",
            ),
            (None, None) if escapes.referents.is_some() && escapes.pointee.is_none() => (
                "#[escapes(referents = ..)]".to_string(),
                "says which function reports a raw pointer's pointee's referents",
            ),
            (None, None) => (
                "#[escapes(pointee = ..)]".to_string(),
                "says what a raw pointer points to",
            ),
        };
        let fix = match (shape, &escapes.extent) {
            (Shape::Reference, Some(_)) => {
                ", whose extent its type already gives: remove #[escapes] (#[flow_through] \
                 pins what it points to)"
            }
            (Shape::Reference, None) => {
                ", whose pointee is always initialised and checked through its borrow: \
                 remove #[escapes]"
            }
            _ => ": put it on a `*const T`, `*mut T` or `NonNull<T>` parameter, or remove it",
        };
        errors.at(
            &escapes.tokens,
            format_args!("{said} {meaning}, but `{param}` is {what} (`{ty_text}`){fix}"),
        );
        return None;
    }
    let referents = foreign_referents(kind, param, ty, shape, &attrs, errors)?;
    let cstr = attrs.escapes.as_ref().and_then(|e| e.cstr.clone());
    if let (Some(key), false) = (&cstr, kind.is_unsafe) {
        let fix = if kind.foreign {
            format!("declare it `unsafe fn {}` instead of `safe fn`", kind.name)
        } else {
            format!("write `unsafe fn {}`", kind.name)
        };
        errors.at(
            key,
            format_args!(
                "`cstr` finds the end of the string `{param}` with `strlen`, which reads it, \
                 and only an `unsafe fn` may do that (its caller promises `{param}` is a valid \
                 NUL-terminated string); {fix}, or give the extent without reading it: \
                 #[escapes(bytes = <length + 1>)]"
            ),
        );
        return None;
    }
    let access = attrs.escapes.as_ref().and_then(|e| e.access.clone());
    let kept = Kept {
        retained: attrs.escapes.as_ref().is_some_and(|e| e.retained.is_some()),
        pointee: attrs.escapes.as_ref().and_then(|e| e.pointee.clone()),
        referents: referents.map(|r| (r, ty.clone())),
        cstr: cstr.is_some(),
    };
    // `pointee = T` and `referents = path` say what the memory holds: it is
    // read (checked) as an `inout` pointee is, unless it is `out`.
    let access = match (access, kept.pointee.is_some() || kept.referents.is_some()) {
        (None, true) => Some(Access::InOut),
        (access, _) => access.map(|(a, _)| a),
    };
    let out_key = attrs
        .escapes
        .as_ref()
        .and_then(|e| e.access.as_ref())
        .filter(|(a, _)| *a == Access::Out)
        .map(|(_, key)| key.clone());
    let extent = attrs
        .escapes
        .and_then(|e| e.extent)
        .map_or(Extent::One, Extent::from);
    if let (Some(key), Some(_)) = (&out_key, &attrs.flow_through) {
        errors.at(
            key,
            format_args!(
                "`out` and #[flow_through] together: #[flow_through] reads the pointee of \
                 `{param}` to pin what it points to, but an out-parameter's pointee is written \
                 by C and may be uninitialised before the call; keep `out` if C writes it, or \
                 write #[escapes(inout)] with #[flow_through] if it holds pointers C reads"
            ),
        );
        return None;
    }
    let Some(flow_attr) = attrs.flow_through else {
        let explicit =
            access.is_some() || kept.retained || kept.cstr || !matches!(extent, Extent::One);
        return match shape {
            Shape::RawPointer => {
                let (read, lint) = pointer_read(kind, access, pointee_writable(ty));
                Some(Action::Pointer {
                    extent,
                    read,
                    lint,
                    kept,
                })
            }
            // An explicit #[escapes] on a name the macro cannot see through:
            // the `EscapingPointer` bound decides (aliases of pointers pass),
            // and its type whether the pointee may be read.
            Shape::Opaque if explicit => {
                let (read, lint) = pointer_read(kind, access, None);
                Some(Action::Pointer {
                    extent,
                    read,
                    lint,
                    kept,
                })
            }
            _ => None,
        };
    };
    match shape {
        Shape::RawPointer if kind.is_unsafe => Some(Action::FlowPointer { extent, kept }),
        Shape::RawPointer => {
            let fix = if kind.foreign {
                format!("declare it `unsafe fn {}` instead of `safe fn`", kind.name)
            } else {
                format!("write `unsafe fn {}`", kind.name)
            };
            errors.at(
                &flow_attr,
                format_args!(
                    "make the function unsafe: #[flow_through] reads through the raw pointer \
                     `{param}` to find what it points to, and only an `unsafe fn` may do that \
                     (its caller promises `{param}` is valid); {fix}"
                ),
            );
            None
        }
        Shape::Reference => Some(Action::FlowRef {
            trusted: kind.is_unsafe,
        }),
        Shape::NotPointer(what) => {
            errors.at(
                &flow_attr,
                format_args!(
                    "#[flow_through] needs a raw pointer, reference or slice parameter, but \
                     `{param}` is {what} passed by value (`{ty_text}`), which C cannot reach \
                     through this call; take it by reference (`{}`) or remove \
                     #[flow_through]",
                    borrowed(ty)
                ),
            );
            None
        }
        Shape::Opaque => {
            errors.at(
                &flow_attr,
                format_args!(
                    "#[flow_through] needs a raw pointer, reference or slice parameter, but \
                     `{param}: {ty_text}` is passed by value as written; take it by reference \
                     (`&{ty_text}`), or if `{ty_text}` names a raw pointer type, write the \
                     pointer type out (`*const T`, `*mut T`, `NonNull<T>`)"
                ),
            );
            None
        }
    }
}

/// The `referents = path` of a parameter, from `#[escapes(..)]` or
/// `#[flow_through(..)]` (not both). `Err`-like `None` when refused (the
/// reason in `errors`); `Some(None)` when there is none.
fn foreign_referents(
    kind: &FnKind,
    param: &str,
    ty: &Type,
    shape: Shape,
    attrs: &ParamAttrs,
    errors: &mut Errors,
) -> Option<Option<Referents>> {
    let from_escapes = attrs.escapes.as_ref().and_then(|e| e.referents.clone());
    let referents = match (from_escapes, attrs.flow_referents.clone()) {
        (Some(_), Some(again)) => {
            errors.at(
                &again.key,
                format_args!(
                    "`referents` given twice for `{param}`, in #[escapes(..)] and in \
                     #[flow_through(..)]: give it once"
                ),
            );
            return None;
        }
        (one, other) => one.or(other),
    };
    let Some(referents) = referents else {
        return Some(None);
    };
    match shape {
        Shape::RawPointer | Shape::Opaque => Some(Some(referents)),
        Shape::Reference => {
            errors.at(
                &referents.key,
                format_args!(
                    "`referents = ..` applies to raw-pointer parameters, and `{param}` is a \
                     reference (`{}`); pass a raw pointer (`*const T`) to an `unsafe fn`{}",
                    type_text(ty),
                    if kind.is_unsafe {
                        ""
                    } else {
                        " (only its caller can vouch for what the function reads)"
                    }
                ),
            );
            None
        }
        // The `#[escapes]`-on-a-non-pointer rule reports it, with the fix.
        Shape::NotPointer(_) if attrs.escapes.is_some() => Some(Some(referents)),
        Shape::NotPointer(what) => {
            errors.at(
                &referents.key,
                format_args!(
                    "`referents = ..` applies to raw-pointer parameters, and `{param}` is {what} \
                     (`{}`)",
                    type_text(ty)
                ),
            );
            None
        }
    }
}

/// Whether a raw pointer's pointee is read, and which warning its type may
/// raise. `writable` is `Some(true)` for `*mut T` / `NonNull<T>`,
/// `Some(false)` for `*const T`, `None` when the type is an alias.
///
/// The rule: the pointee is read only on an `unsafe fn`'s promise, and only
/// when it is known to be initialised. C's `T *` does not say whether C
/// reads the pointee or only writes it, and reading an uninitialised
/// pointee is undefined behaviour, so an unmarked `*mut` is not read.
fn pointer_read(
    kind: &FnKind,
    access: Option<Access>,
    writable: Option<bool>,
) -> (Read, Option<Lint>) {
    match (access, kind.is_unsafe, writable) {
        (Some(Access::Out), _, _) => (Read::Never, None),
        (_, false, _) => (Read::Never, Some(Lint::SafeFn)),
        (Some(Access::InOut), true, _) | (None, true, Some(false)) => (Read::Checked, None),
        (None, true, Some(true)) => (Read::Never, Some(Lint::MutNotChecked)),
        (None, true, None) => (Read::CheckedIfConst, None),
    }
}

/// Decides what to do with `self`: only `#[flow_through] &self` (or
/// `&mut self`, `self: &Self`) escapes.
pub(crate) fn receiver(
    kind: &FnKind,
    receiver: &Receiver,
    attrs: ParamAttrs,
    errors: &mut Errors,
) -> Option<Action> {
    if let Some(escapes) = &attrs.escapes {
        errors.at(
            &escapes.tokens,
            "#[escapes(..)] gives the extent of a raw-pointer parameter; `self` is never one: \
             remove it (#[flow_through] on `&self` pins `self` and what it points to)",
        );
    }
    if let Some(referents) = &attrs.flow_referents {
        errors.at(
            &referents.key,
            "`referents = ..` is for a raw pointer to a foreign type; `self`'s type is this \
             crate's own: implement `Referents` for it (#[derive(Referents)]) and write \
             #[flow_through]",
        );
        return None;
    }
    let flow_attr = attrs.flow_through?;
    let by_reference = receiver.reference.is_some() || classify(&receiver.ty) == Shape::Reference;
    if by_reference {
        Some(Action::FlowRef {
            trusted: kind.is_unsafe,
        })
    } else {
        errors.at(
            &flow_attr,
            format_args!(
                "#[flow_through] needs a reference: this `self` is passed by value (`{}`), \
                 which C cannot reach through this call; write `&self` or `&mut self`, or \
                 remove #[flow_through]",
                type_text(&receiver.ty)
            ),
        );
        None
    }
}

/// How to take `ty` by reference: `&[T]` for `Vec<T>`, `&str` for
/// `String`, `&T` otherwise.
fn borrowed(ty: &Type) -> String {
    if let Type::Path(p) = ty {
        if let Some(last) = p.path.segments.last() {
            if last.ident == "String" {
                return "&str".into();
            }
            if let (true, syn::PathArguments::AngleBracketed(args)) =
                (last.ident == "Vec", &last.arguments)
            {
                if let Some(syn::GenericArgument::Type(elem)) = args.args.first() {
                    return format!("&[{}]", type_text(elem));
                }
            }
        }
    }
    format!("&{}", type_text(ty))
}

/// A type as a user would write it (`&[Vec<u8>]`), for messages.
pub(crate) fn type_text(ty: &Type) -> String {
    let mut text = ty.to_token_stream().to_string();
    for (from, to) in [
        (" < ", "<"),
        ("< ", "<"),
        (" <", "<"),
        (" >", ">"),
        ("& ", "&"),
        (" :: ", "::"),
        (":: ", "::"),
        ("[ ", "["),
        (" ]", "]"),
        (" ,", ","),
        ("* const", "*const"),
        ("* mut", "*mut"),
        ("' ", "'"),
        ("( ", "("),
        (" )", ")"),
    ] {
        text = text.replace(from, to);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escapes::param_attr;
    use syn::{parse_quote, Attribute};

    fn safe_kind() -> FnKind {
        FnKind {
            name: "f".into(),
            is_unsafe: false,
            foreign: false,
        }
    }

    fn plan(is_unsafe: bool, ty: Type, mut attrs: Vec<Attribute>) -> (Option<Action>, String) {
        let mut errors = Errors::default();
        let found = param_attr::take(&mut attrs, "p", &mut errors);
        let kind = FnKind {
            name: "f".into(),
            is_unsafe,
            foreign: false,
        };
        let action = typed_param(&kind, "p", &ty, found, &mut errors);
        (action, errors.to_compile_errors().to_string())
    }

    #[test]
    fn raw_pointers_are_pinned_and_checked_in_unsafe_fns() {
        let (a, e) = plan(true, parse_quote!(*const u8), vec![]);
        assert!(e.is_empty());
        assert!(matches!(
            a,
            Some(Action::Pointer {
                extent: Extent::One,
                read: Read::Checked,
                lint: None,
                ..
            })
        ));
        let (a, _) = plan(false, parse_quote!(*const u8), vec![]);
        assert!(matches!(
            a,
            Some(Action::Pointer {
                read: Read::Never,
                lint: Some(Lint::SafeFn),
                ..
            })
        ));
    }

    fn read_and_lint(a: Option<Action>) -> (Read, Option<Lint>) {
        match a {
            Some(Action::Pointer { read, lint, .. }) => (read, lint),
            _ => panic!("not a pointer action"),
        }
    }

    #[test]
    fn mut_pointees_are_read_only_when_marked_inout() {
        let (a, e) = plan(true, parse_quote!(*mut *const u8), vec![]);
        assert!(e.is_empty(), "{e}");
        assert_eq!(read_and_lint(a), (Read::Never, Some(Lint::MutNotChecked)));
        let (a, _) = plan(true, parse_quote!(Option<NonNull<T>>), vec![]);
        assert_eq!(read_and_lint(a), (Read::Never, Some(Lint::MutNotChecked)));
        let (a, _) = plan(
            true,
            parse_quote!(*mut *const u8),
            vec![parse_quote!(#[escapes(out)])],
        );
        assert_eq!(read_and_lint(a), (Read::Never, None));
        let (a, _) = plan(
            true,
            parse_quote!(*mut *const u8),
            vec![parse_quote!(#[escapes(inout, len = 2)])],
        );
        assert_eq!(read_and_lint(a), (Read::Checked, None));
        let (a, _) = plan(
            false,
            parse_quote!(*mut *const u8),
            vec![parse_quote!(#[escapes(out)])],
        );
        assert_eq!(read_and_lint(a), (Read::Never, None));
        let (a, _) = plan(
            true,
            parse_quote!(IovPtr),
            vec![parse_quote!(#[escapes(out)])],
        );
        assert_eq!(read_and_lint(a), (Read::Never, None));
        let (a, _) = plan(
            true,
            parse_quote!(IovPtr),
            vec![parse_quote!(#[escapes(len = 2)])],
        );
        assert_eq!(read_and_lint(a), (Read::CheckedIfConst, None));
    }

    #[test]
    fn out_is_refused_where_it_cannot_apply() {
        let (a, e) = plan(
            true,
            parse_quote!(*mut *mut u8),
            vec![parse_quote!(#[flow_through]), parse_quote!(#[escapes(out)])],
        );
        assert!(a.is_none());
        assert!(e.contains("`out` and #[flow_through] together"), "{e}");
        let (a, e) = plan(
            true,
            parse_quote!(usize),
            vec![parse_quote!(#[escapes(out)])],
        );
        assert!(a.is_none());
        assert!(e.contains("#[escapes(out)] says what C does"), "{e}");
        let (_, e) = plan(
            true,
            parse_quote!(&mut u8),
            vec![parse_quote!(#[escapes(inout)])],
        );
        assert!(e.contains("always initialised"), "{e}");
    }

    #[test]
    fn non_pointers_do_not_escape() {
        let (a, e) = plan(true, parse_quote!(c_int), vec![]);
        assert!(a.is_none() && e.is_empty());
        let (a, e) = plan(true, parse_quote!(&[u8]), vec![]);
        assert!(a.is_none() && e.is_empty());
    }

    #[test]
    fn escapes_on_an_alias_is_left_to_the_trait() {
        let (a, e) = plan(
            true,
            parse_quote!(IovPtr),
            vec![parse_quote!(#[escapes(len = n)])],
        );
        assert!(e.is_empty());
        assert!(matches!(
            a,
            Some(Action::Pointer {
                extent: Extent::Len(_),
                ..
            })
        ));
    }

    #[test]
    fn flow_through() {
        let ft: Attribute = parse_quote!(#[flow_through]);
        let (a, e) = plan(true, parse_quote!(*const libc::iovec), vec![ft.clone()]);
        assert!(e.is_empty());
        assert!(matches!(a, Some(Action::FlowPointer { .. })));
        let (a, e) = plan(false, parse_quote!(&mut [IoSliceMut<'_>]), vec![ft.clone()]);
        assert!(e.is_empty());
        assert!(matches!(a, Some(Action::FlowRef { .. })));
        let (a, e) = plan(false, parse_quote!(*const libc::iovec), vec![ft.clone()]);
        assert!(a.is_none());
        assert!(e.contains("make the function unsafe"), "{e}");
        let (a, e) = plan(true, parse_quote!(Vec<u8>), vec![ft.clone()]);
        assert!(a.is_none());
        assert!(e.contains("passed by value (`Vec<u8>`)"), "{e}");
        assert!(e.contains("take it by reference (`&[u8]`)"), "{e}");
        let (_, e) = plan(true, parse_quote!(IovPtr), vec![ft]);
        assert!(e.contains("write the pointer type out"), "{e}");
    }

    #[test]
    fn escapes_on_non_pointers() {
        let (a, e) = plan(
            true,
            parse_quote!(&[u8]),
            vec![parse_quote!(#[escapes(len = 2)])],
        );
        assert!(a.is_none());
        assert!(e.contains("is a reference (`&[u8]`)"), "{e}");
        let (_, e) = plan(
            true,
            parse_quote!(u32),
            vec![parse_quote!(#[escapes(bytes = 2)])],
        );
        assert!(e.contains("#[escapes(bytes = ..)]"), "{e}");
        assert!(e.contains("is an integer"), "{e}");
    }

    #[test]
    fn receivers() {
        let mut errors = Errors::default();
        let r: Receiver = parse_quote!(&self);
        let attrs = ParamAttrs {
            flow_through: Some(quote::quote!(#[flow_through])),
            escapes: None,
            flow_referents: None,
        };
        assert!(matches!(
            receiver(&safe_kind(), &r, attrs, &mut errors),
            Some(Action::FlowRef { .. })
        ));
        let r: Receiver = parse_quote!(self);
        let attrs = ParamAttrs {
            flow_through: Some(quote::quote!(#[flow_through])),
            escapes: None,
            flow_referents: None,
        };
        assert!(receiver(&safe_kind(), &r, attrs, &mut errors).is_none());
        assert!(errors.to_compile_errors().to_string().contains("by value"));
    }

    #[test]
    fn type_texts() {
        assert_eq!(type_text(&parse_quote!(&[Vec<u8>])), "&[Vec<u8>]");
        assert_eq!(
            type_text(&parse_quote!(*const libc::iovec)),
            "*const libc::iovec"
        );
        assert_eq!(
            type_text(&parse_quote!(&'a mut [IoSliceMut<'b>])),
            "&'a mut [IoSliceMut<'b>]"
        );
    }
}
