//! Expansion tests: what the derive emits for each shape, and which
//! messages it reports (their spans are checked by the UI tests).

use proc_macro2::TokenStream;
use quote::quote;

/// The derive's output, pretty-printed.
fn expand(input: TokenStream) -> String {
    let out = super::expand(input);
    let file: syn::File = syn::parse2(out).expect("the derive emits items");
    prettyplease::unparse(&file)
}

/// The messages of the `compile_error!`s in the derive's output.
fn errors(input: TokenStream) -> Vec<String> {
    let out = super::expand(input).to_string();
    out.split("compile_error !")
        .skip(1)
        .map(|rest| {
            let start = rest.find('"').expect("a message") + 1;
            let end = rest[start..].find("\" }").expect("the end of a message") + start;
            rest[start..end].to_string()
        })
        .collect()
}

#[test]
fn named_struct_with_pointer_and_len() {
    let out = expand(quote! {
        struct Stream {
            #[referents(len = self.avail_in)]
            next_in: *const u8,
            avail_in: u32,
            name: String,
        }
    });
    let expected = r#"#[automatically_derived]
unsafe impl ::pointer_escapes::__private::Referents for Stream {
    const HOLDS_POINTERS: bool = true;
    #[inline]
    fn visit_referents<__PointerEscapesVisitor: ::pointer_escapes::__private::Visitor>(
        &self,
        visitor: &mut __PointerEscapesVisitor,
    ) {
        visitor
            .pointer::<
                u8,
            >(
                ::pointer_escapes::__private::EscapingPointer::target(&self.next_in),
                ::pointer_escapes::__private::referent_count(self.avail_in),
                ::pointer_escapes::__private::Via::Field("next_in"),
            );
        visitor
            .inline::<
                u32,
            >(&self.avail_in, ::pointer_escapes::__private::Via::Field("avail_in"));
        visitor
            .inline::<
                String,
            >(&self.name, ::pointer_escapes::__private::Via::Field("name"));
    }
}
"#;
    assert_eq!(out, expected);
}

#[test]
fn tuple_and_unit_structs() {
    let out = expand(quote!(
        struct Pair(u8, #[referents(skip)] Opaque, Vec<u8>);
    ));
    assert!(
        out.contains(r#"inline::<u8>(&self.0, ::pointer_escapes::__private::Via::Field("0"))"#),
        "{out}"
    );
    assert!(!out.contains("self.1"), "{out}");
    assert!(out.contains("&self.2"), "{out}");

    let out = expand(quote!(
        struct Unit;
    ));
    assert!(out.contains("let _ = visitor;"), "{out}");
}

#[test]
fn bytes_field_casts_to_u8() {
    let out = expand(quote! {
        struct Blob { #[referents(bytes = self.size)] data: *mut c_void, size: usize }
    });
    assert!(
        out.contains(
            "visitor\n            .bytes(\n                ::pointer_escapes::__private::EscapingPointer::target(&self.data)\n                    .cast::<u8>()"
        ),
        "{out}"
    );
}

#[test]
fn packed_structs_visit_copies() {
    let out = expand(quote! {
        #[repr(C, packed(2))]
        struct P { #[referents(len = self.n)] p: *const u16, n: u32 }
    });
    assert!(out.contains("target(&{ self.p })"), "{out}");
    assert!(out.contains("&{ self.n }"), "{out}");
}

#[test]
fn enums_match_each_variant() {
    let out = expand(quote! {
        enum Op<'a> {
            Read { fd: i32, buf: &'a mut [u8] },
            Write(i32, #[referents(skip)] Handle),
            Nop,
        }
    });
    assert!(out.contains("match self {"), "{out}");
    assert!(
        out.contains("Self::Read { fd: __field0, buf: __field1 } =>"),
        "{out}"
    );
    assert!(out.contains(r#"Via::Field("Read.buf")"#), "{out}");
    assert!(out.contains("Self::Write(__field0, _) =>"), "{out}");
    assert!(out.contains(r#"Via::Field("Write.0")"#), "{out}");
    assert!(out.contains("Self::Nop => {}"), "{out}");

    let out = expand(quote!(
        enum Color {
            Red,
            Green,
        }
    ));
    assert!(
        out.contains("let _ = visitor;\n        match self {"),
        "{out}"
    );

    let out = expand(quote!(
        enum Never {}
    ));
    assert!(out.contains("match *self {}"), "{out}");
}

#[test]
fn raw_identifiers_are_reported_without_r_hash() {
    let out = expand(quote!(
        struct S {
            r#type: u8,
        }
    ));
    assert!(
        out.contains(r#"&self.r#type, ::pointer_escapes::__private::Via::Field("type")"#),
        "{out}"
    );
}

#[test]
fn crate_option_renames_the_runtime_path() {
    let out = expand(quote! {
        #[referents(crate = my::facade)]
        struct S(u8);
    });
    assert!(
        out.contains("unsafe impl my::facade::__private::Referents for S"),
        "{out}"
    );
    assert!(!out.contains("::pointer_escapes"), "{out}");
}

#[test]
fn generic_structs_get_a_where_clause() {
    let out = expand(quote!(
        struct S<T: Copy>(Vec<T>);
    ));
    assert!(
        out.contains("for S<T>\nwhere\n    T: ::pointer_escapes::__private::Referents,"),
        "{out}"
    );
}

#[test]
fn every_mistake_is_reported_at_once() {
    let errs = errors(quote! {
        #[referents(bogus)]
        struct S {
            #[referents(len = self.n, bytes = 1)]
            a: *const u8,
            #[referents(len = 1)]
            b: Vec<u8>,
            #[referents(skip, skip)]
            c: u8,
            n: usize,
        }
    });
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert!(errs[0].starts_with("unknown #[referents] option `bogus` on a struct"));
    assert!(errs[1].starts_with("`len` and `bytes` together"));
    assert!(errs[2].starts_with("duplicate `skip`"));
    assert!(errs[3].starts_with("`len` applies only to a raw-pointer field"));
    assert!(errs[3].contains("field `b`"));
}

#[test]
fn rejected_inputs_still_get_an_impl() {
    // So that the only errors the user sees are the ones reported here.
    let out = super::expand(quote!(union U { a: u8 })).to_string();
    assert!(out.contains("cannot be used on a union"), "{out}");
    assert!(
        out.contains("unsafe impl :: pointer_escapes :: __private :: Referents for U"),
        "{out}"
    );
}

#[test]
fn len_in_an_enum_variant_is_refused() {
    let errs = errors(quote! {
        enum E { V { #[referents(len = 4)] p: *const u8 } }
    });
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("`len` is not supported on a field of an enum variant (`V.p`)"));
}

#[test]
fn option_values_are_checked() {
    let errs = errors(quote! {
        #[referents(crate = 1 + 1, bound = T)]
        struct S { #[referents(skip = true)] a: u8, #[referents(bytes)] b: *const u8 }
    });
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert!(errs[0].starts_with("`crate` takes the path"));
    assert!(errs[1].starts_with("`bound` takes a string"));
    assert!(errs[2].starts_with("`skip` takes no value"));
    assert!(errs[3].starts_with("`bytes` takes an integer expression"));
}

#[test]
fn holds_pointers_is_computed_from_the_reported_fields() {
    // Inline fields: the OR of their types' constants; skipped fields do
    // not count.
    let out = expand(quote!(
        struct Plain(u8, #[referents(skip)] *const u8, [u32; 4]);
    ));
    assert!(
        out.contains(
            "const HOLDS_POINTERS: bool = false
        || <u8 as ::pointer_escapes::__private::Referents>::HOLDS_POINTERS
        || <[u32; 4] as ::pointer_escapes::__private::Referents>::HOLDS_POINTERS;"
        ),
        "{out}"
    );
    // A pointer field with an extent always reports a referent.
    let out = expand(quote!(
        struct S {
            #[referents(bytes = 4)]
            p: *const u8,
            n: u8,
        }
    ));
    assert!(out.contains("const HOLDS_POINTERS: bool = true;"), "{out}");
}

#[test]
fn remote_mirrors_get_a_function_and_no_impl() {
    let out = expand(quote! {
        #[referents(remote = libc::iovec)]
        struct IovecDef {
            #[referents(bytes = self.iov_len)]
            iov_base: *mut c_void,
            iov_len: usize,
        }
    });
    assert!(out.contains("impl IovecDef"), "{out}");
    assert!(out.contains("pub fn visit_referents"), "{out}");
    assert!(
        out.contains("impl __PointerEscapesRemote for libc::iovec"),
        "{out}"
    );
    assert!(out.contains("addr_of!(self.iov_len)"), "{out}");
    assert!(!out.contains("unsafe impl"), "no `Referents` impl: {out}");
    let errors = errors(quote! {
        #[referents(remote = libc::iovec, remote = libc::iovec)]
        enum E { A }
    });
    assert!(
        errors.iter().any(|e| e.contains("duplicate `remote`")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("struct only")),
        "{errors:?}"
    );
}

/// Rule: an option the user wrote never silently does nothing: `bound`
/// beside `remote` (a mirror has no impl to bound) is refused.
#[test]
fn remote_mirror_refuses_bound() {
    let errors = errors(quote! {
        #[referents(remote = libc::iovec, bound = "u8: Copy")]
        struct IovecDef {
            #[referents(bytes = self.iov_len)]
            iov_base: *mut c_void,
            iov_len: usize,
        }
    });
    assert!(
        errors
            .iter()
            .any(|e| e.contains("`bound` has no effect with `remote`")),
        "{errors:?}"
    );
}
