//! The bindgen half: derives and field options, decided per type by name.

use crate::Annotations;
use bindgen::callbacks::{AttributeInfo, DeriveInfo, FieldAttributeInfo, ParseCallbacks, TypeKind};

/// A [`ParseCallbacks`] that derives `Referents` on each generated struct
/// and enum (except unions, which the derive refuses, and types listed with
/// [`Annotations::manual_impl`]) and puts each [`Annotations::field`]
/// entry's options on its field as `#[referents(..)]`. Made by
/// [`Annotations::callbacks`].
///
/// ```no_run
/// use pointer_escapes_bindgen::{bindgen, Annotations, ReferentsCallbacks};
///
/// let callbacks = ReferentsCallbacks::new(Annotations::new().field("z_stream_s", "state", "skip"));
/// let builder = bindgen::Builder::default()
///     .header("/usr/include/zlib.h")
///     .parse_callbacks(Box::new(callbacks));
/// # let _ = builder;
/// ```
#[derive(Debug)]
pub struct ReferentsCallbacks {
    annotations: Annotations,
}

impl ReferentsCallbacks {
    /// Callbacks for `annotations`' table (a copy of it).
    ///
    /// ```
    /// let callbacks = pointer_escapes_bindgen::ReferentsCallbacks::new(Default::default());
    /// # let _ = callbacks;
    /// ```
    pub fn new(annotations: Annotations) -> ReferentsCallbacks {
        ReferentsCallbacks { annotations }
    }

    /// Whether `name` of `kind` gets the derive.
    fn derives(&self, name: &str, kind: TypeKind) -> bool {
        matches!(kind, TypeKind::Struct | TypeKind::Enum)
            && !self.annotations.manual.iter().any(|m| m == name)
    }
}

impl ParseCallbacks for ReferentsCallbacks {
    fn add_derives(&self, info: &DeriveInfo<'_>) -> Vec<String> {
        if self.derives(info.name, info.kind) {
            vec![format!("{}::Referents", self.annotations.crate_prefix())]
        } else {
            Vec::new()
        }
    }

    fn add_attributes(&self, info: &AttributeInfo<'_>) -> Vec<String> {
        match &self.annotations.crate_path {
            // bindgen takes whole attributes here (and field attributes
            // without `#[..]`). A path that does not parse is left out, and
            // `process` reports it.
            Some(path)
                if self.derives(info.name, info.kind)
                    && syn::parse_str::<syn::Path>(path).is_ok() =>
            {
                vec![format!("#[referents(crate = {path})]")]
            }
            _ => Vec::new(),
        }
    }

    fn field_attributes(&self, info: &FieldAttributeInfo<'_>) -> Vec<String> {
        if !self.derives(info.type_name, info.type_kind) {
            // No derive to read them (`process` reports the entry).
            return Vec::new();
        }
        self.annotations
            .fields
            .iter()
            .filter(|entry| entry.item == info.type_name && entry.member == info.field_name)
            // bindgen panics on options that do not lex; `process` reports
            // them instead.
            .filter(|entry| crate::options::field_options_parse(&entry.options).is_ok())
            .map(|entry| format!("referents({})", entry.options))
            .collect()
    }
}

impl Annotations {
    /// The path generated code names pointer-escapes by.
    pub(crate) fn crate_prefix(&self) -> String {
        match &self.crate_path {
            Some(path) => path.clone(),
            None => "::pointer_escapes".to_owned(),
        }
    }
}
