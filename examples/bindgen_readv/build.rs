//! Binds readv/writev from <sys/uio.h> and zlib's deflate from <zlib.h>
//! with bindgen, and annotates the output with pointer-escapes-bindgen.

use pointer_escapes_bindgen::{bindgen, Annotations};
use std::path::{Path, PathBuf};

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    // readv(2)/writev(2): the kernel follows each iovec's `iov_base` during
    // the call, so the array and every buffer it points to are pinned for
    // it (`flow_through`). `preadv` is bound without options: its `*const
    // iovec` is pinned and checked, but its buffers are not pinned for it.
    // bindgen's `iovec` is its own struct; `iov_base` is a `*mut c_void`,
    // which has no element size: `bytes` gives its extent.
    let uio = Annotations::new()
        .field("iovec", "iov_base", "bytes = self.iov_len")
        .param("readv", "__iovec", "flow_through, len = __count")
        .param("writev", "__iovec", "flow_through, len = __count")
        .param("preadv", "__iovec", "len = __count");
    generate(
        &uio,
        "#include <sys/uio.h>",
        "readv|writev|preadv",
        &out.join("uio.rs"),
    );

    // zlib's z_stream: `next_in`/`next_out` point at `avail_in`/`avail_out`
    // bytes; `state` and `msg` are zlib's own memory (not Rust's to pin);
    // `zalloc`/`zfree` are callbacks (static code). Two tables: `deflate`
    // pins through the stream (`flow_through`), and `checked` only checks
    // that what the stream points to is pinned (`inout`).
    let stream = |a: Annotations| {
        a.field("z_stream_s", "next_in", "len = self.avail_in")
            .field("z_stream_s", "next_out", "len = self.avail_out")
            .field("z_stream_s", "msg", "skip")
            .field("z_stream_s", "state", "skip")
    };
    // The other calls read and write the stream itself (zlib's own
    // allocations hang off `state`, skipped): `inout`.
    let others = |a: Annotations| {
        [
            "deflateInit_",
            "deflateEnd",
            "inflate",
            "inflateInit_",
            "inflateEnd",
        ]
        .into_iter()
        .fold(a, |a, f| a.param(f, "strm", "inout"))
    };
    let zlib = others(stream(Annotations::new())).param("deflate", "strm", "flow_through");
    let zlib_checked = others(stream(Annotations::new())).param("deflate", "strm", "inout");
    let allow = "deflate|deflateInit_|deflateEnd|inflate|inflateInit_|inflateEnd|zlibVersion";
    generate(&zlib, "#include <zlib.h>", allow, &out.join("zlib.rs"));
    generate(
        &zlib_checked,
        "#include <zlib.h>",
        allow,
        &out.join("zlib_checked.rs"),
    );

    // <fcntl.h> holds variadic imports (`open`, `fcntl`) beside plain ones
    // (`creat`), and bindgen puts them in one extern block: the
    // post-processor adds `skip_variadic`, so the variadic ones pass
    // through unwrapped and `creat` is still wrapped.
    generate(
        &Annotations::new(),
        "#include <fcntl.h>",
        "open|fcntl|creat",
        &out.join("fcntl.rs"),
    );
    println!("cargo:rustc-link-lib=z");
}

fn generate(annotations: &Annotations, header: &str, allow: &str, path: &Path) {
    let bindings = bindgen::Builder::default()
        .header_contents("wrapper.h", header)
        .allowlist_function(allow)
        .parse_callbacks(annotations.callbacks())
        // The output is printed again after annotation: no rustfmt run.
        .formatter(bindgen::Formatter::None)
        .generate()
        .expect("bindgen (needs libclang-dev, and zlib1g-dev for zlib.h)");
    let processed = annotations
        .process_full(&bindings.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    for opaque in &processed.opaque_types {
        println!("cargo:warning=opaque type `{opaque}`: the checker cannot see pointers in it");
    }
    std::fs::write(path, processed.source).expect("write the bindings");
}
