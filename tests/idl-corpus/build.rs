//! Generates Rust for every `.x` file that Debian's `rpcsvc-proto` and `libtirpc-dev`
//! install, and for the project's own interop interface; `src/lib.rs` includes them all,
//! so building this crate (and linting it) checks the generated code.

use std::fmt::Write;
use std::path::{Path, PathBuf};

const CORPUS_DIRS: &[&str] = &["/usr/include/rpcsvc", "/usr/include/tirpc/rpcsvc", "/usr/include/tirpc/rpc"];

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> =
        vec![manifest.join("../../crates/courier/tests/interop/interop.x"), manifest.join("x/accounts.x")];
    for dir in CORPUS_DIRS {
        println!("cargo:rerun-if-changed={dir}");
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "x"))
            .collect();
        found.sort();
        files.extend(found);
    }
    let mut modules = String::new();
    for file in &files {
        let module = module_name(file);
        let dir = out.join(&module);
        std::fs::create_dir_all(&dir).expect("create the output directory");
        let generated = match courier_idl::compile(file) {
            Ok(path) => {
                std::fs::rename(&path, dir.join("generated.rs")).expect("move the generated file");
                dir.join("generated.rs")
            }
            Err(e) => panic!("{}:\n{e}", file.display()),
        };
        let _ = writeln!(
            modules,
            "/// Generated from `{}`.\npub mod {module} {{\n    include!({:?});\n}}",
            file.display(),
            generated.display()
        );
    }
    let _ = writeln!(
        modules,
        "/// The `.x` files compiled.\npub const FILES: &[&str] = &{:?};",
        files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>()
    );
    std::fs::write(out.join("corpus.rs"), modules).expect("write corpus.rs");
}

fn module_name(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let parent =
        path.parent().and_then(|p| p.file_name()).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = if parent == "rpc" { format!("rpc_{stem}") } else { stem };
    name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
}
