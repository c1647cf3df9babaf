//! What the generated impls refuse, compiled for real: a scratch crate
//! (outside the workspace, with its own target directory under
//! `CARGO_TARGET_TMPDIR`) includes processed bindgen output and is built
//! with cargo. A union or flexible array member that holds pointers must
//! never pass a check silently: it is a compile error naming the type and
//! saying what to write.

use pointer_escapes_bindgen::{bindgen, Annotations};
use std::path::{Path, PathBuf};
use std::process::Command;

fn generate(annotations: &Annotations, header: &str) -> String {
    let bindings = bindgen::Builder::default()
        .header_contents("wrapper.h", header)
        .parse_callbacks(annotations.callbacks())
        .generate()
        .expect("bindgen (needs libclang-dev)");
    annotations.process(&bindings.to_string()).unwrap()
}

/// Builds every binary of a scratch crate whose `src/bin/NAME.rs` is
/// `bindings` followed by `main`; returns cargo's stderr and whether the
/// build succeeded, per binary.
fn build(name: &str, bins: &[(&str, &str, &str)]) -> Vec<(String, bool, String)> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(dir.join("src"));
    std::fs::create_dir_all(dir.join("src/bin")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\npointer-escapes = {{ path = {:?} }}\n\n[workspace]\n",
            workspace.display().to_string()
        ),
    )
    .unwrap();
    // The workspace's versions, so the scratch build needs nothing new.
    std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    for (bin, bindings, main) in bins {
        let source = format!(
            "#![allow(non_camel_case_types, dead_code, unused_imports)]\n{bindings}\nfn main() {{\n{main}\n}}\n"
        );
        std::fs::write(dir.join("src/bin").join(format!("{bin}.rs")), source).unwrap();
    }
    // One build per binary (a failing one must not hide another's outcome).
    bins.iter()
        .map(|(bin, _, _)| {
            let out = Command::new(env!("CARGO"))
                .args(["build", "--quiet", "--bin", bin])
                .current_dir(&dir)
                .env(
                    "CARGO_TARGET_DIR",
                    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scratch-target"),
                )
                .env_remove("RUSTFLAGS")
                .output()
                .expect("run cargo");
            (
                bin.to_string(),
                out.status.success(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .collect()
}

#[test]
fn a_union_that_can_hold_pointers_fails_to_compile_where_a_check_reaches_it() {
    let header = "union maybe_ptr { int i; char *p; }; union number { int i; float f; };
                  struct holder { union maybe_ptr m; union number n; unsigned bits:3; int k; };
                  struct plain { union number n; int flex_n; int flex[]; };";
    let bindings = generate(&Annotations::new(), header);
    let results = build(
        "pe_bindgen_unions",
        &[
            // Never checked: compiles (the error is where a check reaches it).
            ("unchecked", &bindings, "// SAFETY: all-zero is a valid C struct of integers and unions.\nlet h: holder = unsafe { std::mem::zeroed() }; let _ = h.k;"),
            // Pointer-free unions, bitfields and flexible arrays: checked.
            ("pointer_free", &bindings, "let p = plain { n: number { f: 1.0 }, flex_n: 0, flex: Default::default() }; pointer_escapes::check_referents(&p); const { assert!(!<plain as pointer_escapes::Referents>::HOLDS_POINTERS) };"),
            // A check reaches the pointer-holding union: refused.
            ("checked", &bindings, "// SAFETY: all-zero is a valid C struct of integers and unions.\nlet h: holder = unsafe { std::mem::zeroed() }; pointer_escapes::check_referents(&h);"),
        ],
    );
    let (_, ok, stderr) = &results[0];
    assert!(ok, "{stderr}");
    let (_, ok, stderr) = &results[1];
    assert!(ok, "{stderr}");
    let (_, ok, stderr) = &results[2];
    assert!(!ok);
    assert!(
        stderr.contains("union `maybe_ptr` can hold pointers")
            && stderr.contains("manual_impl(\"maybe_ptr\")"),
        "{stderr}"
    );
}

#[test]
fn a_flexible_array_of_pointers_is_a_compile_error_unless_written_by_hand() {
    let header = "struct argv { int argc; char *args[]; };";
    let derived = generate(&Annotations::new(), header);
    let manual = generate(&Annotations::new().manual_impl("argv"), header);
    let by_hand = "
        // SAFETY: `args` holds `argc` pointers, each to one char.
        unsafe impl pointer_escapes::Referents for argv {
            fn visit_referents<V: pointer_escapes::referents::Visitor>(&self, visitor: &mut V) {
                visitor.pointer(self.args.as_ptr(), self.argc as usize, pointer_escapes::referents::Via::Field(\"args\"));
            }
        }";
    let results = build(
        "pe_bindgen_flex",
        &[
            ("derived", &derived, ""),
            ("manual", &format!("{manual}\n{by_hand}"), "let a = argv { argc: 0, args: Default::default() }; pointer_escapes::check_referents(&a);"),
        ],
    );
    let (_, ok, stderr) = &results[0];
    assert!(!ok);
    assert!(
        stderr.contains("`argv.args` is a flexible array member whose elements hold pointers")
            && stderr.contains("manual_impl(\"argv\")"),
        "{stderr}"
    );
    let (_, ok, stderr) = &results[1];
    assert!(ok, "{stderr}");
}
