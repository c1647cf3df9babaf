//! Re-running the current test binary as a child process, for behaviour that
//! happens at exit (`PINREPORT=1`), aborts (`PINGUARD=abort`) or needs a
//! registry no other test touches.

use std::process::{Command, Output};

/// Names the child's role; unset in the parent.
pub const CHILD_ENV: &str = "POINTER_ESCAPES_TEST_CHILD";

/// Whether this process is the child re-run for `role`.
pub fn is_child(role: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(role)
}

/// Re-runs this test binary with only the test named `test` selected
/// (`--exact`), marked as the child for `role`, with `env` set on top of a
/// clean pointer-escapes environment.
pub fn run_child(test: &str, role: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("the test binary's own path");
    let mut cmd = Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, role)
        .env_remove("PINREPORT")
        .env_remove("PINGUARD")
        .env_remove("PINCHECK")
        .env_remove("POINTER_ESCAPES_REPORT")
        .env_remove("POINTER_ESCAPES_GUARD")
        .env_remove("POINTER_ESCAPES_CHECK");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd.output().expect("spawning the test binary again");
    // A mistyped filter would run nothing and pass: make sure the child
    // really ran the one test.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("running 1 test"),
        "the child did not run exactly `{test}`:\n{stdout}"
    );
    out
}

/// [`run_child`] for a child that must exit successfully: its stderr as
/// text and the last site it announced with [`announce_site`].
pub fn run_child_ok(test: &str, role: &str, env: &[(&str, &str)]) -> (String, String) {
    let out = run_child(test, role, env);
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "the child failed:\n{stderr}");
    let site = sites_of(&out).pop().expect("the child's site");
    (stderr, site)
}

/// Runs `scenario` in a process of its own, with a registry no other test
/// touched: in the child re-run for `role`, `scenario` runs; in the
/// parent (the test named `test`), the child must exit successfully.
pub fn in_a_fresh_process(test: &str, role: &str, scenario: impl FnOnce()) {
    in_a_fresh_process_with(test, role, &[], scenario);
}

/// [`in_a_fresh_process`], with `env` set in the child (on top of a clean
/// pointer-escapes environment, as [`run_child`] gives).
pub fn in_a_fresh_process_with(
    test: &str,
    role: &str,
    env: &[(&str, &str)],
    scenario: impl FnOnce(),
) {
    if is_child(role) {
        scenario();
        return;
    }
    let out = run_child(test, role, env);
    assert!(
        out.status.success(),
        "the child failed:\n{}",
        stderr_of(&out)
    );
}

/// The child's stderr as text.
pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The sites the child printed with [`announce_site`], in order.
pub fn sites_of(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        // libtest's "test name ... " may precede the first one on its line.
        .filter_map(|l| l.split_once("SITE ").map(|(_, site)| site.to_string()))
        .collect()
}

/// Prints a pin site for the parent to find in the child's report, as the
/// report shows it (`file:line:`; the trailing colon keeps line 12 from
/// matching line 123).
pub fn announce_site(file: &str, line: u32) {
    println!("SITE {file}:{line}:");
}
