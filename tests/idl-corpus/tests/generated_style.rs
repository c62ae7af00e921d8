//! The generated code is laid out as rustfmt lays it out (default style): `rustfmt
//! --check` finds nothing to change in the module generated for any corpus file. (That
//! it compiles and passes clippy is checked by building this crate.)

use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn generated_code_passes_rustfmt_check() {
    assert!(idl_corpus::FILES.len() >= 19, "the corpus is missing files: {:?}", idl_corpus::FILES);
    for file in idl_corpus::FILES {
        let code = courier_idl::generate_file(std::path::Path::new(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut child = Command::new(std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into()))
            .args(["--check", "--edition", "2021"])
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("rustfmt is installed with cargo");
        child.stdin.take().unwrap().write_all(code.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{file}: rustfmt would change the generated code:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
