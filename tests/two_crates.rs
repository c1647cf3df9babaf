//! Checks off, per crate: a dependency whose build script sets
//! `--cfg pointer_escapes_unchecked` compiles its own annotated items without
//! pins or checks, and leaves the application's checks on.
//!
//! The fixture (`tests/two_crates/`) is its own workspace; this test copies
//! it under the target directory, points its path dependencies at this
//! crate, and runs the application with `cargo run --offline`, with
//! `-D warnings` so that the generated code is shown not to warn (no
//! `unexpected_cfgs`) in crates that never declared the cfg.

use std::fs;
use std::path::Path;
use std::process::Command;

fn copy_fixture(from: &Path, to: &Path, facade: &Path) {
    fs::create_dir_all(to).expect("create fixture copy");
    for entry in fs::read_dir(from).expect("fixture readable") {
        let entry = entry.expect("fixture entry");
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if src.is_dir() {
            copy_fixture(&src, &dst, facade);
        } else if entry.file_name() == "Cargo.toml" {
            let text = fs::read_to_string(&src).expect("manifest readable");
            let text = text.replace(
                "\"../../..\"",
                &format!("{:?}", facade.display().to_string()),
            );
            fs::write(&dst, text).expect("write manifest");
        } else {
            fs::copy(&src, &dst).expect("copy fixture file");
        }
    }
}

/// The rule: checks go off per crate, never graph-wide. The dependency's
/// calls pin nothing and refuse nothing; the application's pin and refuse
/// the unpinned buffer.
#[test]
fn a_dependency_turning_its_checks_off_leaves_the_applications_on() {
    let facade = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("two_crates");
    let _ = fs::remove_dir_all(work.join("src"));
    copy_fixture(&facade.join("tests/two_crates"), &work.join("src"), facade);
    // The facade's lock file pins the versions already downloaded.
    fs::copy(facade.join("Cargo.lock"), work.join("src/Cargo.lock")).expect("copy Cargo.lock");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["run", "--offline", "--quiet", "-p", "two-crates-app"])
        .current_dir(work.join("src"))
        .env("CARGO_TARGET_DIR", work.join("target"))
        // Only what the dependency's build script sets: not a cfg given to
        // the whole build (CI runs some tests with one).
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env("RUSTFLAGS", "-D warnings")
        .output()
        .expect("run cargo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        stdout, "dep: pins 0, refused false\napp: pins 1, refused true\n",
        "\n{stderr}"
    );
}
