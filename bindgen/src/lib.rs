//! Build-script helper for [pointer-escapes](https://docs.rs/pointer-escapes):
//! put `#[pointer_escapes]` and `#[derive(Referents)]` on bindgen's output.
//!
//! Most Rust users of a C library get its declarations from
//! [bindgen](https://docs.rs/bindgen), in their own `build.rs`. The attribute
//! cannot be written around the result (`#[pointer_escapes] unsafe extern "C"
//! { include!(..) }` is refused by rustc before the macro runs), and bindgen
//! has no hook for extern blocks or parameters. This crate does both halves
//! from `build.rs`:
//!
//! - [`Annotations::callbacks`]: a [`ParseCallbacks`](bindgen::callbacks::ParseCallbacks) that derives
//!   `Referents` on every generated struct and enum and puts the field
//!   options of your table on their fields (`len = self.avail_in`, `skip`);
//! - [`Annotations::process`]: a post-processor over the generated source
//!   that puts `#[pointer_escapes]` on every `extern "C"` block
//!   (`skip_variadic` where a block holds a variadic import), attaches the
//!   parameter options of your table (`flow_through`, `len = n`, `out`,
//!   ...), and writes `Referents` impls for what the derive cannot take:
//!   bindgen's bitfield, flexible-array, opaque-blob and complex helper
//!   types, and C unions.
//!
//! Your crate then `include!`s the whole processed file.
//!
//! ```no_run
//! // build.rs
//! use pointer_escapes_bindgen::{bindgen, Annotations};
//!
//! let annotations = Annotations::new()
//!     .param("readv", "__iovec", "flow_through, len = __count")
//!     .param("writev", "__iovec", "flow_through, len = __count")
//!     .field("iovec", "iov_base", "bytes = self.iov_len");
//! let bindings = bindgen::Builder::default()
//!     .header_contents("uio.h", "#include <sys/uio.h>")
//!     .allowlist_function("readv|writev")
//!     .parse_callbacks(annotations.callbacks())
//!     .generate()
//!     .expect("bindgen");
//! let source = annotations.process(&bindings.to_string()).expect("annotate");
//! let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
//! std::fs::write(out.join("bindings.rs"), source).unwrap();
//! ```
//!
//! and in the crate, `include!(concat!(env!("OUT_DIR"), "/bindings.rs"));`.
//!
//! # What each generated type gets
//!
//! | generated type | its `Referents` |
//! |---|---|
//! | struct, enum | `#[derive(Referents)]`, with the field options of [`Annotations::field`] |
//! | callback field `Option<unsafe extern "C" fn(..)>` | none to report: code is static memory (pointer-escapes' own impl) |
//! | `__BindgenBitfieldUnit<[u8; N]>` (bitfields) | none: bitfields are integers |
//! | `__BindgenOpaqueArray*<[T; N]>`, `_bindgen_opaque_blob` (opaque types, padding) | none: Rust has no view of what is inside; see [Opaque types](#opaque-types) |
//! | `__BindgenComplex<T>`, `__BindgenFloat16` | their numbers: none |
//! | `__IncompleteArrayField<T>` (a C flexible array member `T items[]`) | none when `T` holds no pointers; otherwise a compile error on the struct, see [Flexible array members](#flexible-array-members) |
//! | union | none when no field can hold a pointer; otherwise a compile error where a check reaches it, see [Unions](#unions) |
//!
//! ## Unions
//!
//! Which field of a union is live is known only at run time, so no
//! generated impl can say which pointers it holds (the derive refuses
//! unions for the same reason). A union none of whose field types holds a
//! pointer gets an impl that reports nothing. A union that can hold one
//! (glibc's `pthread_mutex_t`) gets an impl whose `HOLDS_POINTERS` is `true`
//! and whose `visit_referents` fails to compile, with a message naming the
//! union and what to write, when a check can reach it: it never passes a
//! check while hiding a pointer. List it with [`Annotations::manual_impl`]
//! and write `unsafe impl Referents` for it by hand, or
//! [`skip`](Annotations::field) the field that holds it.
//!
//! ## Flexible array members
//!
//! `struct msg { int n; struct iovec items[]; }` becomes a struct whose last
//! field is an `__IncompleteArrayField<iovec>`: the elements follow the
//! struct, and their number is known only to C code (here, `n`). When the
//! element type holds no pointers there is nothing to report (pin the whole
//! allocation with `#[escapes(bytes = ..)]` where it escapes). When it does,
//! the processed file fails to compile with a message naming the struct and
//! the field: list the struct with [`Annotations::manual_impl`] and write its
//! impl, reporting the elements with `visitor.pointer(self.items.as_ptr(),
//! self.n as usize, Via::Field("items"))` next to its other fields.
//!
//! ## Opaque types
//!
//! A type bindgen makes opaque (`.opaque_type(..)`, or one it cannot lay
//! out) is a blob of bytes; the checker cannot see pointers inside it, and
//! it reports none. If C follows pointers stored in one, give it a real
//! definition or list it with [`Annotations::manual_impl`] and write its
//! impl. [`Annotations::process`] lists the opaque types it saw in
//! [`Processed::opaque_types`] so that a build script can warn about them.
//!
//! Linux only, like pointer-escapes itself.

mod callbacks;
mod options;
mod process;

pub use bindgen;
pub use callbacks::ReferentsCallbacks;
pub use process::Processed;

use std::fmt;

/// The table of annotations for one run of bindgen: parameter options for
/// the imports, field options for the structs, and the path of
/// pointer-escapes in the crate that includes the output.
///
/// Build it with the chained methods, hand [`callbacks`](Self::callbacks)
/// to bindgen, and run [`process`](Self::process) on its output. Every
/// entry must name something in the output: an unknown function, parameter,
/// type or field is an [`Error`] naming it, never silently ignored.
///
/// ```no_run
/// use pointer_escapes_bindgen::Annotations;
///
/// let annotations = Annotations::new()
///     .param("readv", "__iovec", "flow_through, len = __count")
///     .field("z_stream_s", "next_in", "len = self.avail_in")
///     .field("z_stream_s", "state", "skip");
/// # let _ = annotations;
/// ```
#[derive(Clone, Debug, Default)]
pub struct Annotations {
    pub(crate) crate_path: Option<String>,
    pub(crate) params: Vec<Entry>,
    pub(crate) fields: Vec<Entry>,
    pub(crate) manual: Vec<String>,
}

/// One table row: (function or type, parameter or field, options).
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) item: String,
    pub(crate) member: String,
    pub(crate) options: String,
}

impl Annotations {
    /// An empty table: every extern block gets `#[pointer_escapes]`, every
    /// struct `#[derive(Referents)]`, and no parameter or field options.
    ///
    /// ```
    /// let annotations = pointer_escapes_bindgen::Annotations::new();
    /// # let _ = annotations;
    /// ```
    pub fn new() -> Annotations {
        Annotations::default()
    }

    /// Names the `pointer-escapes` crate when the crate including the
    /// output does not reach it as `::pointer_escapes` (a re-export, a
    /// renamed dependency). `path` is a Rust path such as
    /// `crate::ffi::pe`; it becomes `#[pointer_escapes(crate = path)]` on
    /// the blocks, `#[referents(crate = path)]` on the structs and the
    /// prefix of every generated path. A string that is not a path is an
    /// [`Error::Options`] from [`process`](Self::process).
    ///
    /// ```
    /// let annotations = pointer_escapes_bindgen::Annotations::new().crate_path("crate::pe");
    /// # let _ = annotations;
    /// ```
    pub fn crate_path(mut self, path: &str) -> Annotations {
        self.crate_path = Some(path.to_owned());
        self
    }

    /// Options for parameter `param` of the imported function `function`,
    /// as the Rust names bindgen gives them (glibc's `readv` calls its
    /// array `__iovec`). `options` is a comma-separated list of the keys of
    /// `#[escapes(..)]` (`len = n`, `bytes = n`, `out`, `inout`,
    /// `retained`) plus `flow_through`, which becomes its own
    /// `#[flow_through]`: `"flow_through, len = __count"` becomes
    /// `#[flow_through] #[escapes(len = __count)]`. The macro checks the
    /// options themselves when the crate compiles; [`process`](Self::process)
    /// fails with [`Error::UnknownFunction`] / [`Error::UnknownParameter`]
    /// when the output has no such import or parameter, and with
    /// [`Error::Options`] when `options` does not parse.
    ///
    /// ```
    /// let annotations = pointer_escapes_bindgen::Annotations::new()
    ///     .param("writev", "__iovec", "flow_through, len = __count");
    /// # let _ = annotations;
    /// ```
    pub fn param(mut self, function: &str, param: &str, options: &str) -> Annotations {
        self.params.push(Entry {
            item: function.to_owned(),
            member: param.to_owned(),
            options: options.to_owned(),
        });
        self
    }

    /// Options for field `field` of the generated struct `type_name` (the
    /// Rust name: zlib's `z_stream` is the alias, `z_stream_s` the struct),
    /// as `#[derive(Referents)]` takes them in `#[referents(..)]`: `len =
    /// self.avail_in`, `bytes = self.size as usize`, `skip` (memory C owns,
    /// such as zlib's `state`). The callbacks put them on the field;
    /// [`process`](Self::process) fails with [`Error::UnknownType`] /
    /// [`Error::UnknownField`] when the output has no such type or field,
    /// and with [`Error::FieldOptionsMissing`] when they are not on it
    /// (bindgen ran without [`callbacks`](Self::callbacks)).
    ///
    /// ```
    /// let annotations = pointer_escapes_bindgen::Annotations::new()
    ///     .field("z_stream_s", "next_in", "len = self.avail_in")
    ///     .field("z_stream_s", "state", "skip");
    /// # let _ = annotations;
    /// ```
    pub fn field(mut self, type_name: &str, field: &str, options: &str) -> Annotations {
        self.fields.push(Entry {
            item: type_name.to_owned(),
            member: field.to_owned(),
            options: options.to_owned(),
        });
        self
    }

    /// Leaves `type_name` (a struct, enum or union) without a generated
    /// `Referents` impl: you write `unsafe impl Referents for` it in the
    /// crate that includes the output (it is a local type there). For
    /// unions that can hold pointers and structs with a flexible array of
    /// pointers (see the [crate docs](crate#unions)). An unknown name is an
    /// [`Error::UnknownType`] from [`process`](Self::process).
    ///
    /// ```
    /// let annotations = pointer_escapes_bindgen::Annotations::new().manual_impl("sigval");
    /// # let _ = annotations;
    /// ```
    pub fn manual_impl(mut self, type_name: &str) -> Annotations {
        self.manual.push(type_name.to_owned());
        self
    }

    /// The bindgen callbacks that derive `Referents` on each generated
    /// struct and enum (not on types listed with
    /// [`manual_impl`](Self::manual_impl), nor on unions: see the [crate
    /// docs](crate#unions)) and put the [`field`](Self::field) options on
    /// their fields. Pass it to `bindgen::Builder::parse_callbacks`; it
    /// keeps a copy of the table.
    ///
    /// ```no_run
    /// use pointer_escapes_bindgen::{bindgen, Annotations};
    /// let annotations = Annotations::new();
    /// let builder = bindgen::Builder::default()
    ///     .header("wrapper.h")
    ///     .parse_callbacks(annotations.callbacks());
    /// # let _ = builder;
    /// ```
    pub fn callbacks(&self) -> Box<dyn bindgen::callbacks::ParseCallbacks> {
        Box::new(ReferentsCallbacks::new(self.clone()))
    }

    /// Annotates bindgen's output (`Bindings::to_string()`), returning the
    /// source to write where your crate `include!`s it. See
    /// [`process_full`](Self::process_full) for the errors.
    ///
    /// ```no_run
    /// # let bindings = pointer_escapes_bindgen::bindgen::Builder::default().generate().unwrap();
    /// let annotations = pointer_escapes_bindgen::Annotations::new();
    /// let source: String = annotations.process(&bindings.to_string())?;
    /// # Ok::<(), pointer_escapes_bindgen::Error>(())
    /// ```
    pub fn process(&self, source: &str) -> Result<String, Error> {
        self.process_full(source).map(|processed| processed.source)
    }

    /// As [`process`](Self::process), and also says which opaque types the
    /// output holds (see the [crate docs](crate#opaque-types)).
    ///
    /// # Errors
    /// [`Error::Parse`] when `source` is not a Rust file; an unknown name in
    /// the table ([`Error::UnknownFunction`], [`Error::UnknownParameter`],
    /// [`Error::UnknownType`], [`Error::UnknownField`]); options on a
    /// variadic import ([`Error::VariadicImport`]); options that do not
    /// parse, or a crate path that is not a path ([`Error::Options`]);
    /// field options the output does not carry
    /// ([`Error::FieldOptionsMissing`]).
    ///
    /// ```
    /// let annotations = pointer_escapes_bindgen::Annotations::new();
    /// let out = annotations.process_full("#[repr(C)] pub struct Hidden { pub _bindgen_opaque_blob: [u64; 2] }")?;
    /// assert_eq!(out.opaque_types, ["Hidden"]);
    /// # Ok::<(), pointer_escapes_bindgen::Error>(())
    /// ```
    pub fn process_full(&self, source: &str) -> Result<Processed, Error> {
        process::process(self, source)
    }
}

/// Why [`Annotations::process`] refused a table or an output.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The source is not a Rust file (syn's message).
    Parse(String),
    /// A [`param`](Annotations::param) entry names a function no extern
    /// block declares.
    UnknownFunction {
        /// The name in the table.
        function: String,
    },
    /// A [`param`](Annotations::param) entry names a parameter the
    /// function does not have.
    UnknownParameter {
        /// The function.
        function: String,
        /// The name in the table.
        parameter: String,
        /// The parameters it has, in order.
        known: Vec<String>,
    },
    /// A [`param`](Annotations::param) entry names a variadic import: the
    /// macro passes those through unwrapped (`skip_variadic`), so options
    /// on it would do nothing.
    VariadicImport {
        /// The function.
        function: String,
    },
    /// A [`field`](Annotations::field) or
    /// [`manual_impl`](Annotations::manual_impl) entry names a type the
    /// output does not define.
    UnknownType {
        /// The name in the table.
        type_name: String,
    },
    /// A [`field`](Annotations::field) entry names a field the type does
    /// not have.
    UnknownField {
        /// The type.
        type_name: String,
        /// The name in the table.
        field: String,
        /// The fields it has, in order.
        known: Vec<String>,
    },
    /// A [`field`](Annotations::field) entry's options are not on the
    /// field: bindgen ran without [`Annotations::callbacks`] (or with
    /// another table).
    FieldOptionsMissing {
        /// The type.
        type_name: String,
        /// The field.
        field: String,
    },
    /// Options (or a crate path) that do not parse.
    Options {
        /// The table entry, as `function.param`, `Type.field` or `crate`.
        entry: String,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = "pointer-escapes-bindgen";
        match self {
            Error::Parse(message) => write!(f, "{prefix}: bindgen's output does not parse: {message}"),
            Error::UnknownFunction { function } => write!(
                f,
                "{prefix}: the table names function `{function}`, which no extern block declares \
                 (check bindgen's allowlist and the Rust name)"
            ),
            Error::UnknownParameter { function, parameter, known } => write!(
                f,
                "{prefix}: function `{function}` has no parameter `{parameter}`; its parameters are: {}",
                known.join(", ")
            ),
            Error::VariadicImport { function } => write!(
                f,
                "{prefix}: `{function}` is variadic: #[pointer_escapes(skip_variadic)] passes it through \
                 unwrapped, so its options would do nothing; pin its arguments around each call with a Pinner"
            ),
            Error::UnknownType { type_name } => write!(
                f,
                "{prefix}: the table names type `{type_name}`, which the output does not define as a struct, \
                 enum or union (check bindgen's allowlist and the Rust name, e.g. `z_stream_s`, not the alias)"
            ),
            Error::UnknownField { type_name, field, known } => write!(
                f,
                "{prefix}: type `{type_name}` has no field `{field}`; its fields are: {}",
                known.join(", ")
            ),
            Error::FieldOptionsMissing { type_name, field } => write!(
                f,
                "{prefix}: `{type_name}.{field}` does not carry its options: run bindgen with \
                 `.parse_callbacks(annotations.callbacks())` from the same table"
            ),
            Error::Options { entry, message } => write!(f, "{prefix}: `{entry}`: {message}"),
        }
    }
}

impl std::error::Error for Error {}
