//! Helpers the interoperability tests share: build the C peers that rpcgen and libtirpc
//! make from a `.x` file (once per test process, into a directory of its own, so that
//! parallel test processes never overwrite a binary another is running), start a C
//! server and learn its ports, run a C client, and run a test in a network namespace of
//! its own with a private rpcbind on port 111; `nats`: nats-server and its clusters;
//! `wire`: raw ONC RPC records for tests that write calls by hand.

pub mod nats;
pub mod wire;

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

/// Runs a C client (all of them take `tcp|udp HOST PORT COMMAND…`) against 127.0.0.1
/// `port` over `proto` with `args`, and returns what it printed; panics if it failed.
pub fn run_c_client(binary: &Path, proto: &str, port: u16, args: &[&str]) -> String {
    let output = Command::new(binary)
        .args([proto, "127.0.0.1", &port.to_string()])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", binary.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{} {proto} {port} {args:?} failed: {stdout}{}",
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
        CServer::start_with(binary, &[])
    }

    /// Starts `binary` with arguments and reads the ports it bound.
    pub fn start_with(binary: &Path, args: &[&str]) -> CServer {
        let mut child = Command::new(binary)
            .args(args)
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

/// Runs `f` on a thread of its own that has entered a new network namespace, with its
/// loopback interface up: port 111 is free there for a private rpcbind, and nothing the
/// test does is seen outside. Every socket the test uses must be made on this thread
/// (run async code on a current-thread runtime inside `f`), and child processes started
/// from it share the namespace. Needs root (CAP_SYS_ADMIN), as CI has.
pub fn in_private_network<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                    .expect("unshare(CLONE_NEWNET): the binder's tests run as root");
                let up = Command::new("ip").args(["link", "set", "lo", "up"]).status().expect("run ip (iproute2)");
                assert!(up.success(), "ip link set lo up failed");
                f()
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// Debian's rpcbind, started in the caller's network namespace (see
/// [`in_private_network`]) and in a mount namespace of its own, where a fresh `/run`
/// holds its state and local socket; killed when dropped.
pub struct Rpcbind {
    child: Child,
}

impl Rpcbind {
    /// Starts rpcbind in the foreground and waits until it accepts on 127.0.0.1:111.
    pub fn start() -> Rpcbind {
        let script = "mount -t tmpfs tmpfs /run && install -d -o _rpc -m 0755 /run/rpcbind && exec rpcbind -f";
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", script])
            .spawn()
            .expect("start rpcbind (is the rpcbind package installed? scripts/test installs it)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", 111)).is_err() {
            assert!(std::time::Instant::now() < deadline, "rpcbind did not start listening on 127.0.0.1:111");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Rpcbind { child }
    }
}

impl Drop for Rpcbind {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process running one `#[ignore]`d test of the current test binary — the way a test
/// gets a second process of its own code (a client to kill, a server to restart).
/// Killed with SIGKILL when dropped.
pub struct HelperProcess {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl HelperProcess {
    /// Runs test `name` of this binary, with `env` added to its environment.
    pub fn start(name: &str, env: &[(&str, &str)]) -> HelperProcess {
        let exe = std::env::current_exe().expect("the test binary");
        let mut child = Command::new(exe)
            .args(["--ignored", "--exact", name, "--nocapture"])
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("run helper test {name}: {e}"));
        let lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        HelperProcess { child, lines }
    }

    /// Reads the helper's output until `pick` accepts a line; returns what it made of it.
    pub fn wait_for<T>(&mut self, mut pick: impl FnMut(&str) -> Option<T>) -> T {
        for line in self.lines.by_ref() {
            if let Some(found) = pick(&line.expect("the helper's output")) {
                return found;
            }
        }
        panic!("the helper process ended without the line awaited")
    }

    /// Kills it with SIGKILL and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for HelperProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
