//! Helpers the interoperability tests share: build the C peers that rpcgen and libtirpc
//! make from a `.x` file (once per test process, into a directory of its own, so that
//! parallel test processes never overwrite a binary another is running), start a C
//! server and learn its ports, and run a C client.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Runs `script` (a `build.sh` taking its output directory last, after `args`) into a
/// directory under `tmp` named after `name` and this process, and returns that directory.
/// Panics with a hint when the C toolchain is missing.
pub fn build_c_peers(script: &Path, args: &[&Path], tmp: &Path, name: &str) -> PathBuf {
    let out = tmp.join(format!("{name}-{}", std::process::id()));
    let status = Command::new("bash").arg(script).args(args).arg(&out).status().expect("run bash");
    assert!(
        status.success(),
        "{} failed: are gcc, rpcgen and libtirpc-dev installed? (scripts/test installs them)",
        script.display()
    );
    out
}

/// Runs a C client with `args` and returns what it printed; panics if it failed.
pub fn run_c_client(binary: &Path, args: &[&str]) -> String {
    let output = Command::new(binary).args(args).output().unwrap_or_else(|e| panic!("run {}: {e}", binary.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{} {args:?} failed: {stdout}{}",
        binary.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A C server started for a test; killed when dropped. It prints `tcp=PORT udp=PORT`
/// on its first line.
pub struct CServer {
    child: Child,
    /// Its TCP port on 127.0.0.1.
    pub tcp: u16,
    /// Its UDP port on 127.0.0.1.
    pub udp: u16,
}

impl CServer {
    /// Starts `binary` and reads the ports it bound.
    pub fn start(binary: &Path) -> CServer {
        let mut child = Command::new(binary)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        let port = |key: &str| {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key))
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("{} printed {line:?}, not tcp=PORT udp=PORT", binary.display()))
        };
        let (tcp, udp) = (port("tcp="), port("udp="));
        CServer { child, tcp, udp }
    }
}

impl Drop for CServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
