//! Compile-time behaviour of the macros: every supported form compiles (and runs), every misuse fails
//! with the message pinned in its `.stderr`. Regenerate those with `TRYBUILD=overwrite` and review
//! the diff like code.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
