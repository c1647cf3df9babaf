//! Compile-fail and compile-pass cases: the documentation of what the
//! macros and the borrow rules of `Pinner` refuse and accept.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
