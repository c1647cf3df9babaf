//! Expansion snapshots. Each `tests/expand/NAME.rs` holds annotated items;
//! their expansion, pretty-printed, must equal `tests/expand/NAME.expanded.rs`
//! (the crate-wide switch is a constant in the expansion, so one snapshot
//! shows both ways; `unchecked.rs` holds items marked `unchecked`).
//! `PE_EXPAND=overwrite cargo test -p pointer-escapes-macros` rewrites the expected
//! files; review the diff before keeping it.

use proc_macro2::TokenStream;
use quote::ToTokens;
use std::fs;
use std::path::{Path, PathBuf};
use syn::{Attribute, Item, Meta};

#[test]
fn expansions_match_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expand");
    let mut inputs: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("tests/expand exists")
        .map(|e| e.expect("readable directory").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".rs") && !name.ends_with(".expanded.rs")
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no inputs in {}", dir.display());
    let overwrite = std::env::var("PE_EXPAND").is_ok_and(|v| v == "overwrite");
    let mut mismatches = Vec::new();
    for input in &inputs {
        let actual = expand_file(input);
        let expected_path = input.with_extension("expanded.rs");
        if overwrite {
            fs::write(&expected_path, &actual).expect("write snapshot");
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            mismatches.push(format!(
                "--- {} differs; expansion is:\n{actual}",
                expected_path.display()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{}\n(rerun with PE_EXPAND=overwrite to accept)",
        mismatches.join("\n")
    );
}

/// Expands every `#[pointer_escapes]` item of `path`, keeps the rest.
fn expand_file(path: &Path) -> String {
    let source = fs::read_to_string(path).expect("readable input");
    let file = syn::parse_file(&source).expect("input parses");
    let mut out = TokenStream::new();
    for mut item in file.items {
        match take_attr(&mut item) {
            Some(args) => out.extend(super::expand(args, item.into_token_stream())),
            None => item.to_tokens(&mut out),
        }
    }
    let expanded = syn::parse2::<syn::File>(out).expect("expansion parses");
    prettyplease::unparse(&expanded)
}

/// Removes `#[pointer_escapes(..)]` from `item`, returning its arguments.
fn take_attr(item: &mut Item) -> Option<TokenStream> {
    let attrs: &mut Vec<Attribute> = match item {
        Item::Fn(f) => &mut f.attrs,
        Item::ForeignMod(m) => &mut m.attrs,
        Item::Struct(s) => &mut s.attrs,
        Item::Impl(i) => {
            // Methods: expand each annotated one in place.
            for impl_item in &mut i.items {
                if let syn::ImplItem::Fn(m) = impl_item {
                    if let Some(args) = remove(&mut m.attrs) {
                        let expanded = super::expand(args, m.to_token_stream());
                        *m = syn::parse2(expanded).expect("method expansion parses");
                    }
                }
            }
            return None;
        }
        _ => return None,
    };
    remove(attrs)
}

fn remove(attrs: &mut Vec<Attribute>) -> Option<TokenStream> {
    let at = attrs
        .iter()
        .position(|a| a.path().is_ident("pointer_escapes"))?;
    let attr = attrs.remove(at);
    Some(match attr.meta {
        Meta::List(list) => list.tokens,
        _ => TokenStream::new(),
    })
}
