//! bindgen on real headers, post-processed: what the output carries.
//! (That it compiles and that its checks work is the `bindgen-readv`
//! package's tests, which include it: `cargo test -p bindgen-readv`.)

use pointer_escapes_bindgen::{bindgen, Annotations, Error};

fn generate(annotations: &Annotations, header: &str, allow: &str) -> String {
    let bindings = bindgen::Builder::default()
        .header_contents("wrapper.h", header)
        .allowlist_function(allow)
        .allowlist_type(allow)
        .parse_callbacks(annotations.callbacks())
        .generate()
        .expect("bindgen runs on the system headers (libclang-dev, zlib1g-dev)");
    annotations
        .process(&bindings.to_string())
        .expect("the table matches the output")
}

/// The source with all whitespace removed, so that assertions do not
/// depend on prettyplease's line breaks.
fn squeezed(source: &str) -> String {
    source.split_whitespace().collect()
}

fn uio_annotations() -> Annotations {
    Annotations::new()
        .param("readv", "__iovec", "flow_through, len = __count")
        .param("writev", "__iovec", "flow_through, len = __count")
}

#[test]
fn every_extern_block_gets_the_attribute_and_the_table_its_parameters() {
    let out = generate(
        &uio_annotations(),
        "#include <sys/uio.h>",
        "readv|writev|preadv|pwritev|iovec",
    );
    let s = squeezed(&out);
    let blocks = out.matches("extern \"C\"").count();
    assert!(blocks >= 4, "{out}");
    assert_eq!(
        s.matches("#[::pointer_escapes::pointer_escapes]unsafeextern\"C\"")
            .count(),
        blocks,
        "{out}"
    );
    assert!(s.contains("pubfnreadv(__fd:::std::os::raw::c_int,#[flow_through]#[escapes(len=__count)]__iovec:*constiovec,"), "{out}");
    assert!(s.contains("pubfnwritev(__fd:::std::os::raw::c_int,#[flow_through]#[escapes(len=__count)]__iovec:*constiovec,"), "{out}");
    // A function not in the table is wrapped, with no parameter options.
    assert!(
        s.contains("pubfnpreadv(__fd:::std::os::raw::c_int,__iovec:*constiovec,"),
        "{out}"
    );
    // The struct derives Referents.
    assert!(
        s.contains("::pointer_escapes::Referents)]pubstructiovec{"),
        "{out}"
    );
}

#[test]
fn callback_fields_and_table_field_options_reach_the_derive() {
    let annotations = Annotations::new()
        .param("deflate", "strm", "flow_through")
        .field("z_stream_s", "next_in", "len = self.avail_in")
        .field("z_stream_s", "next_out", "len = self.avail_out")
        .field("z_stream_s", "msg", "skip")
        .field("z_stream_s", "state", "skip");
    let out = generate(
        &annotations,
        "#include <zlib.h>",
        "deflate|deflateInit_|deflateEnd|z_stream.*|alloc_func|free_func",
    );
    let s = squeezed(&out);
    assert!(
        s.contains("::pointer_escapes::Referents)]pubstructz_stream_s{"),
        "{out}"
    );
    assert!(
        s.contains("#[referents(len=self.avail_in)]pubnext_in:*mutBytef"),
        "{out}"
    );
    assert!(
        s.contains("#[referents(len=self.avail_out)]pubnext_out:*mutBytef"),
        "{out}"
    );
    assert!(
        s.contains("#[referents(skip)]pubstate:*mutinternal_state"),
        "{out}"
    );
    // Callback fields keep their type: pointer-escapes-core's impls for
    // C function pointers cover them, so they need no option.
    assert!(
        s.contains("pubzalloc:alloc_func,pubzfree:free_func"),
        "{out}"
    );
    assert!(
        s.contains("pubtypealloc_func=::std::option::Option<unsafeextern\"C\"fn("),
        "{out}"
    );
    assert!(
        s.contains("pubfndeflate(#[flow_through]strm:*mutz_stream,"),
        "{out}"
    );
}

#[test]
fn a_block_with_a_variadic_import_gets_skip_variadic() {
    let annotations = Annotations::new();
    let bindings = bindgen::Builder::default()
        .header_contents("wrapper.h", "#include <fcntl.h>\n#include <sys/ioctl.h>")
        .allowlist_function("ioctl|fcntl|posix_fadvise")
        .merge_extern_blocks(true)
        .parse_callbacks(annotations.callbacks())
        .generate()
        .unwrap();
    let out = annotations.process(&bindings.to_string()).unwrap();
    let s = squeezed(&out);
    assert!(
        s.contains("#[::pointer_escapes::pointer_escapes(skip_variadic)]unsafeextern\"C\""),
        "{out}"
    );
    assert!(s.contains("pubfnioctl("), "{out}");
}

#[test]
fn helper_types_and_unions_get_impls_the_derive_cannot_write() {
    let header = "
        struct bits { unsigned a:3; unsigned b:5; int x; };
        struct flex { int n; int data[]; };
        union number { int i; float f; };
        union maybe_ptr { int i; char *p; };
        struct uses_all { struct bits b; union number n; union maybe_ptr m; };
    ";
    let annotations = Annotations::new();
    let bindings = bindgen::Builder::default()
        .header_contents("wrapper.h", header)
        .parse_callbacks(annotations.callbacks())
        .generate()
        .unwrap();
    let out = annotations.process(&bindings.to_string()).unwrap();
    let s = squeezed(&out);
    assert!(s.contains("unsafeimpl<Storage>::pointer_escapes::Referentsfor__BindgenBitfieldUnit<Storage>{constHOLDS_POINTERS:bool=false;"), "{out}");
    assert!(s.contains("unsafeimpl<T:::pointer_escapes::Referents>::pointer_escapes::Referentsfor__IncompleteArrayField<T>{constHOLDS_POINTERS:bool=<Tas::pointer_escapes::Referents>::HOLDS_POINTERS;"), "{out}");
    assert!(s.contains("const_:()=::core::assert!(!<::std::os::raw::c_intas::pointer_escapes::Referents>::HOLDS_POINTERS,\"pointer-escapes-bindgen:`flex.data`"), "{out}");
    assert!(s.contains("unsafeimpl::pointer_escapes::Referentsfornumber{constHOLDS_POINTERS:bool=false||<::std::os::raw::c_intas::pointer_escapes::Referents>::HOLDS_POINTERS||<f32as::pointer_escapes::Referents>::HOLDS_POINTERS;"), "{out}");
    assert!(
        s.contains("\"pointer-escapes-bindgen:union`maybe_ptr`canholdpointers"),
        "{out}"
    );
    // Unions are not derived (the derive refuses them); structs are.
    assert!(!s.contains("Referents)]pubunion"), "{out}");
    assert!(s.contains("Referents)]pubstructuses_all{"), "{out}");
}

#[test]
fn manual_impl_types_get_neither_derive_nor_impl() {
    let annotations = Annotations::new()
        .manual_impl("maybe_ptr")
        .manual_impl("holder");
    let bindings = bindgen::Builder::default()
        .header_contents(
            "wrapper.h",
            "union maybe_ptr { int i; char *p; }; struct holder { union maybe_ptr m; };",
        )
        .parse_callbacks(annotations.callbacks())
        .generate()
        .unwrap();
    let out = annotations.process(&bindings.to_string()).unwrap();
    assert!(!out.contains("Referents"), "{out}");
}

#[test]
fn opaque_types_are_listed() {
    let annotations = Annotations::new();
    let bindings = bindgen::Builder::default()
        .header_contents("wrapper.h", "struct hidden { void *p; long n; };")
        .opaque_type("hidden")
        .parse_callbacks(annotations.callbacks())
        .generate()
        .unwrap();
    let processed = annotations.process_full(&bindings.to_string()).unwrap();
    assert_eq!(processed.opaque_types, ["hidden"]);
}

#[test]
fn crate_path_prefixes_every_generated_path() {
    let annotations = uio_annotations().crate_path("crate::pe");
    let out = generate(&annotations, "#include <sys/uio.h>", "readv|writev|iovec");
    let s = squeezed(&out);
    assert!(
        s.contains("#[crate::pe::pointer_escapes(crate=crate::pe)]unsafeextern\"C\""),
        "{out}"
    );
    assert!(
        s.contains("crate::pe::Referents)]#[referents(crate=crate::pe)]pubstructiovec"),
        "{out}"
    );
    assert!(!s.contains("::pointer_escapes::"), "{out}");
}

fn uio_error(annotations: Annotations) -> Error {
    let bindings = bindgen::Builder::default()
        .header_contents("wrapper.h", "#include <sys/uio.h>")
        .allowlist_function("readv|writev")
        .parse_callbacks(annotations.callbacks())
        .generate()
        .unwrap();
    annotations.process(&bindings.to_string()).unwrap_err()
}

#[test]
fn table_entries_must_name_what_the_output_holds() {
    let e = uio_error(Annotations::new().param("readvv", "__iovec", "flow_through"));
    assert!(
        matches!(&e, Error::UnknownFunction { function } if function == "readvv"),
        "{e}"
    );
    assert!(e.to_string().contains("`readvv`"), "{e}");

    let e = uio_error(Annotations::new().param("readv", "iov", "flow_through"));
    assert!(
        matches!(&e, Error::UnknownParameter { function, parameter, known }
            if function == "readv" && parameter == "iov" && known == &["__fd", "__iovec", "__count"]),
        "{e}"
    );
    assert!(e.to_string().contains("__fd, __iovec, __count"), "{e}");

    let e = uio_error(Annotations::new().field("iovec", "base", "skip"));
    assert!(
        matches!(&e, Error::UnknownField { field, .. } if field == "base"),
        "{e}"
    );
    let e = uio_error(Annotations::new().field("msghdr", "msg_iov", "skip"));
    assert!(
        matches!(&e, Error::UnknownType { type_name } if type_name == "msghdr"),
        "{e}"
    );
    let e = uio_error(Annotations::new().manual_impl("msghdr"));
    assert!(matches!(&e, Error::UnknownType { .. }), "{e}");
    let e = uio_error(Annotations::new().param("readv", "__iovec", "len ="));
    assert!(
        matches!(&e, Error::Options { entry, .. } if entry == "readv.__iovec"),
        "{e}"
    );
    let e = uio_error(Annotations::new().crate_path("not a path"));
    assert!(
        matches!(&e, Error::Options { entry, .. } if entry == "crate"),
        "{e}"
    );
}

#[test]
fn options_on_a_variadic_import_are_an_error() {
    let annotations = Annotations::new().param("ioctl", "__request", "flow_through");
    let bindings = bindgen::Builder::default()
        .header_contents("wrapper.h", "#include <sys/ioctl.h>")
        .allowlist_function("ioctl")
        .parse_callbacks(annotations.callbacks())
        .generate()
        .unwrap();
    let e = annotations.process(&bindings.to_string()).unwrap_err();
    assert!(
        matches!(&e, Error::VariadicImport { function } if function == "ioctl"),
        "{e}"
    );
}

#[test]
fn field_options_without_the_callbacks_are_an_error() {
    let annotations = Annotations::new().field("iovec", "iov_base", "bytes = self.iov_len");
    let bindings = bindgen::Builder::default()
        .header_contents("wrapper.h", "#include <sys/uio.h>")
        .allowlist_type("iovec")
        .generate()
        .unwrap();
    let e = annotations.process(&bindings.to_string()).unwrap_err();
    assert!(matches!(&e, Error::FieldOptionsMissing { .. }), "{e}");
}

#[test]
fn malformed_field_options_are_an_error_not_a_bindgen_panic() {
    let e = uio_error(Annotations::new().field("iovec", "iov_base", "bytes = (self.iov_len"));
    assert!(
        matches!(&e, Error::Options { entry, .. } if entry == "iovec.iov_base"),
        "{e}"
    );
}

#[test]
fn pointer_typedef_parameters_are_spelled_as_pointers_for_the_macro() {
    let out = generate(
        &Annotations::new(),
        "#include <zlib.h>",
        "deflateEnd|inflateEnd|z_stream.*",
    );
    let s = squeezed(&out);
    assert!(s.contains("pubtypez_streamp=*mutz_stream;"), "{out}");
    assert!(s.contains("pubfndeflateEnd(strm:*mutz_stream)"), "{out}");
    assert!(s.contains("pubfninflateEnd(strm:*mutz_stream)"), "{out}");
}
