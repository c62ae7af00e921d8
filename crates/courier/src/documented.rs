//! For tests: the `.x` text that a module's documentation shows (the lines of its `//!`
//! comment from the first `typedef` to the end of that code block), so that a test can
//! check with courier-idl that what the documentation promises rpcgen is valid.

/// The `.x` text in the module documentation of `source` (a file's text).
pub fn rpc_language(source: &str) -> String {
    source
        .lines()
        .filter_map(|l| l.strip_prefix("//! ").or_else(|| (l == "//!").then_some("")))
        .skip_while(|l| !l.starts_with("typedef"))
        .take_while(|l| !l.starts_with("```"))
        .map(|l| format!("{l}\n"))
        .collect()
}
