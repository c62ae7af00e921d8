//! The macros' diagnostics, pinned with trybuild: each broken use in `tests/ui/` fails
//! to compile with exactly the messages in its `.stderr` file, pointing at the place.
//! `TRYBUILD=overwrite cargo test -p courier --test ui` rewrites them after a change.

#[test]
fn macro_misuse_is_reported_at_its_place() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
