//! `courier serve` and `courier ls` with Debian's rpcbind, in a network namespace of the
//! test's own: the node registers its programs when it starts, `courier ls` lists them as
//! `rpcinfo -s` does, and SIGTERM withdraws them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use courier_test_support::{in_private_network, Rpcbind};

const COURIER: &str = env!("CARGO_BIN_EXE_courier");

fn output(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("run {program}: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The C peers of the interop tests, built for this test process.
fn c_peers(name: &str) -> std::path::PathBuf {
    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../courier/tests/interop/build.sh");
    courier_test_support::build_c_peers(&script, &[], tmp, name)
}

/// A `courier serve` started by a test, killed when dropped — also when the test fails.
struct Running(std::process::Child);

impl std::ops::Deref for Running {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `courier serve` with `args` (and any extra arguments), and returns it with the
/// port of the first address it printed.
fn serve(args: &[&str], extra: &[&std::ffi::OsStr]) -> (Running, String) {
    let mut node = Command::new(COURIER)
        .arg("serve")
        .args(args)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let port = first.rsplit(':').next().unwrap().to_owned();
    // Keep reading what the node prints, so that it never writes to a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (Running(node), port)
}

/// A path for the binder's local socket that no other test uses (the machine's
/// `/run/rpcbind.sock` is left alone).
fn private_socket(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("rpcbind-{name}-{}.sock", std::process::id()))
}

fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_node_registers_with_rpcbind_and_withdraws_on_sigterm() {
    in_private_network(|| {
        let _rpcbind = Rpcbind::start();
        let (mut node, port) = serve(&["--listen", "127.0.0.1:0"], &[]);

        let registered = |listing: &str, proto: &str| {
            listing
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["541282817", "1", proto, port.as_str()])
        };
        until("rpcinfo -p lists the node", || {
            let listing = output("rpcinfo", &["-p", "127.0.0.1"]);
            registered(&listing, "tcp") && registered(&listing, "udp")
        });

        // `courier ls` prints what `rpcinfo -s` prints: the same lines, laid out the same
        // (the binder's own line is identical), but for the node's program, which it
        // names (rpcinfo shows `-`).
        let ls = output(COURIER, &["ls"]);
        let rpcinfo = output("rpcinfo", &["-s", "127.0.0.1"]);
        let words = |text: &str| -> Vec<Vec<String>> {
            let unnamed = |w: &str| {
                ["courier-diag", "courier-registry", "courier-mailbox"]
                    .iter()
                    .fold(w.to_owned(), |w, n| w.replace(n, "-"))
            };
            text.lines().map(|l| l.split_whitespace().map(unnamed).collect()).collect()
        };
        assert_eq!(words(&ls), words(&rpcinfo), "courier ls:\n{ls}\nrpcinfo -s:\n{rpcinfo}");
        let portmapper = |text: &str| text.lines().find(|l| l.trim_start().starts_with("100000")).map(str::to_owned);
        assert_eq!(portmapper(&ls), portmapper(&rpcinfo));
        let node_line = ls.lines().find(|l| l.trim_start().starts_with("541282817")).unwrap_or_else(|| panic!("{ls}"));
        assert_eq!(node_line.split_whitespace().nth(3), Some("courier-diag"), "{ls}");

        let killed = Command::new("kill").args(["-TERM", &node.id().to_string()]).status().unwrap();
        assert!(killed.success());
        assert!(node.wait().unwrap().success());
        let listing = output("rpcinfo", &["-p", "127.0.0.1"]);
        assert!(!listing.contains("541282817"), "still registered after SIGTERM:\n{listing}");
    });
}

#[test]
fn no_register_leaves_the_binder_alone() {
    in_private_network(|| {
        let _rpcbind = Rpcbind::start();
        let (mut node, port) = serve(&["--listen", "127.0.0.1:0", "--no-register"], &[]);
        // The node answers, but the binder does not know it.
        let ping = output(COURIER, &["ping", &format!("127.0.0.1:{port}"), "courier-diag", "1"]);
        assert!(ping.contains("ready and waiting"), "{ping}");
        assert!(!output("rpcinfo", &["-p", "127.0.0.1"]).contains("541282817"));
        let _ = node.kill();
        let _ = node.wait();
    });
}

/// `courier serve --rpcbind` is the machine's binder: rpcinfo lists and calls through
/// it, and a libtirpc C server registers with it (RPCB v4 SET over TCP to [::1]:111).
#[test]
fn the_node_serves_as_the_machines_binder() {
    let peers = c_peers("binder-cli-c");
    in_private_network(|| {
        let socket = private_socket("serves");
        let (mut node, port) =
            serve(&["--rpcbind", "--listen", "127.0.0.1:0", "--rpcbind-socket"], &[socket.as_os_str()]);
        until("the binder answers", || std::net::TcpStream::connect(("127.0.0.1", 111)).is_ok());

        until("rpcinfo -p lists the binder and the node", || {
            let listing = output("rpcinfo", &["-p", "127.0.0.1"]);
            let has =
                |words: &[&str]| listing.lines().any(|l| l.split_whitespace().collect::<Vec<_>>().starts_with(words));
            has(&["100000", "2", "tcp", "111"])
                && has(&["100000", "4", "udp", "111"])
                && has(&["541282817", "1", "udp", &port])
        });
        for proto in ["tcp", "udp"] {
            let out = output("rpcinfo", &["-T", proto, "127.0.0.1", "541282817", "1"]);
            assert_eq!(out.trim(), "program 541282817 version 1 ready and waiting", "over {proto}");
        }
        let summary = output("rpcinfo", &["-s", "127.0.0.1"]);
        assert!(summary.lines().any(|l| l.split_whitespace().take(2).eq(["100000", "2,3,4"])), "{summary}");

        // rpcinfo -l (GETADDRLIST) lists the binder's IPv4 addresses as rpcbind's do.
        let list = output("rpcinfo", &["-l", "127.0.0.1", "100000", "4"]);
        let rows: Vec<Vec<&str>> = list.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(
            rows,
            [
                ["100000", "4", "inet/tcp/cots_ord", "127.0.0.1.0.111", "portmapper"],
                ["100000", "4", "inet/udp/clts", "127.0.0.1.0.111", "portmapper"]
            ],
            "{list}"
        );
        // rpcinfo -m (GETSTAT) shows the calls counted, lookups included.
        let stats = output("rpcinfo", &["-m", "127.0.0.1"]);
        for heading in
            ["PORTMAP (version 2) statistics", "RPCBIND (version 3) statistics", "RPCBIND (version 4) statistics"]
        {
            assert!(stats.contains(heading), "{stats}");
        }
        let lookups =
            stats.split("RPCB_GETADDR (version 4) call statistics").nth(1).unwrap_or_else(|| panic!("{stats}"));
        assert!(
            lookups.lines().any(|l| l.split_whitespace().take(3).eq(["courier-diag", "1", "tcp"])
                || l.split_whitespace().take(3).eq(["541282817", "1", "tcp"])),
            "{stats}"
        );
        // rpcinfo -a calls a universal address directly.
        let uaddr = format!("127.0.0.1.{}.{}", port.parse::<u16>().unwrap() >> 8, port.parse::<u16>().unwrap() & 0xff);
        let direct = output("rpcinfo", &["-a", &uaddr, "-T", "tcp", "541282817", "1"]);
        assert_eq!(direct.trim(), "program 541282817 version 1 ready and waiting");

        // A libtirpc server registers itself with courier's binder, and is found.
        let c = courier_test_support::CServer::start_with(&peers.join("interop_server"), &["--register"]);
        until("the C server is registered", || output("rpcinfo", &["-p", "127.0.0.1"]).contains("541282133"));
        let out = output("rpcinfo", &["-T", "tcp", "127.0.0.1", "541282133", "1"]);
        assert_eq!(out.trim(), "program 541282133 version 1 ready and waiting");
        let listing = output("rpcinfo", &["-p", "127.0.0.1"]);
        let c_tcp = c.tcp.to_string();
        assert!(
            listing
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["541282133", "1", "tcp", c_tcp.as_str()]),
            "{listing}"
        );
        let ls = output(COURIER, &["ls"]);
        assert!(ls.lines().any(|l| l.trim_start().starts_with("541282133")), "{ls}");
        drop(c);
        let _ = node.kill();
        let _ = node.wait();
    });
}

/// The binder's registrations survive a restart of the node when it keeps state
/// (`--data`), and `courier ls --stale --clean` finds and removes entries of servers that
/// are gone.
#[test]
fn registrations_survive_a_restart_and_stale_ones_are_cleaned() {
    let data =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("binder-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    in_private_network(|| {
        let start = || {
            let socket = private_socket("restart");
            let args = ["--rpcbind", "--listen", "127.0.0.1:0", "--data"];
            let (node, _) = serve(&args, &[data.as_os_str(), "--rpcbind-socket".as_ref(), socket.as_os_str()]);
            until("the binder answers", || output("rpcinfo", &["-p", "127.0.0.1"]).contains("100000"));
            node
        };
        let mut node = start();
        // A server that registers and goes away: nothing listens on UDP port 9 here.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let binder = courier::binder::BinderClient::on_host([127, 0, 0, 1].into(), courier::binder::Transport::Tcp)
                .await
                .unwrap();
            assert!(binder.register(0x2000_7777, 1, &"udp://127.0.0.1:9".parse().unwrap()).await.unwrap());
        });
        let _ = Command::new("kill").args(["-TERM", &node.id().to_string()]).status();
        assert!(node.wait().unwrap().success());

        // Started again, the binder still has the registration.
        let mut node = start();
        assert!(output("rpcinfo", &["-p", "127.0.0.1"]).contains("536901495"), "lost across the restart");
        let stale = output(COURIER, &["ls", "--stale"]);
        let lines: Vec<&str> = stale.lines().skip(1).collect();
        assert_eq!(lines.len(), 1, "{stale}");
        assert_eq!(
            lines[0].split_whitespace().take(4).collect::<Vec<_>>(),
            ["536901495", "1", "udp", "127.0.0.1.0.9"],
            "{stale}"
        );
        let cleaned = output(COURIER, &["ls", "--stale", "--clean"]);
        assert!(cleaned.contains("(removed)"), "{cleaned}");
        assert!(!output("rpcinfo", &["-p", "127.0.0.1"]).contains("536901495"));
        assert_eq!(output(COURIER, &["ls", "--stale"]).lines().count(), 1, "only the header is left");
        let _ = node.kill();
        let _ = node.wait();
    });
}

/// libtirpc servers register over the binder's local socket first: with the node's binder
/// on a port other than 111 (so libtirpc's TCP fallback finds nothing) and its local
/// socket at `/run/rpcbind.sock` (in a mount namespace of the test's own, on a fresh
/// `/run`), a C server's registration arrives there, owned by its user (root: `superuser`),
/// and `rpcinfo -s` without a host — which also uses the local socket — lists it.
#[test]
fn c_servers_register_over_the_local_socket() {
    let peers = c_peers("binder-local-c");
    let server = peers.join("interop_server");
    let steps = format!(
        r#"set -e
mount -t tmpfs tmpfs /run
{courier} serve --rpcbind-port 0 --rpcbind-socket /run/rpcbind.sock --listen 127.0.0.1:0 >/dev/null 2>&1 &
node=$!
for i in $(seq 200); do [ -S /run/rpcbind.sock ] && break; sleep 0.05; done
{server} --register >/dev/null &
c=$!
for i in $(seq 200); do rpcinfo -s 2>/dev/null | grep -q 541282133 && break; sleep 0.05; done
rpcinfo -s
kill $c $node
wait $node || true"#,
        courier = COURIER,
        server = server.display()
    );
    let out = in_private_network(|| {
        Command::new("unshare").args(["--mount", "--propagation", "private", "sh", "-c", &steps]).output().unwrap()
    });
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{listing}{}", String::from_utf8_lossy(&out.stderr));
    let line = listing.lines().find(|l| l.trim_start().starts_with("541282133")).unwrap_or_else(|| panic!("{listing}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.last(), Some(&"superuser"), "{listing}");
    assert!(words[2].contains("tcp") && words[2].contains("udp"), "{listing}");
}

/// Side by side: Debian's rpcbind in one network namespace, `courier serve --rpcbind` in
/// another, the same registrations made in both; `rpcinfo -p`, `-s`, `-l` and `-T` print
/// the same against both.
#[test]
fn rpcinfo_prints_the_same_against_rpcbind_and_courier() {
    let registrations: &[(u32, u32, &str)] = &[
        (0x2000_1111, 1, "tcp://127.0.0.1:2001"),
        (0x2000_1111, 2, "udp://127.0.0.1:2002"),
        (0x2000_2222, 1, "tcp://[::1]:2003"),
    ];
    let survey = || -> Vec<String> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let binder = courier::binder::BinderClient::on_host([127, 0, 0, 1].into(), courier::binder::Transport::Tcp)
                .await
                .unwrap();
            for (prog, vers, endpoint) in registrations {
                assert!(binder.register(*prog, *vers, &endpoint.parse().unwrap()).await.unwrap());
            }
        });
        [
            vec!["-p", "127.0.0.1"],
            vec!["-s", "127.0.0.1"],
            vec!["-l", "127.0.0.1", "536875281", "1"],
            vec!["-l", "127.0.0.1", "100000", "3"],
            vec!["-T", "udp", "127.0.0.1", "100000", "2"],
            vec!["-m", "127.0.0.1"],
        ]
        .iter()
        .map(|args| output("rpcinfo", args))
        .collect()
    };
    let with_rpcbind = in_private_network(|| {
        let _rpcbind = Rpcbind::start();
        survey()
    });
    let with_courier = in_private_network(|| {
        let socket = private_socket("side-by-side");
        let args = ["--rpcbind", "--listen", "127.0.0.1:0", "--no-register", "--rpcbind-socket"];
        let (mut node, _) = serve(&args, &[socket.as_os_str()]);
        until("the binder answers", || std::net::TcpStream::connect(("127.0.0.1", 111)).is_ok());
        let out = survey();
        let _ = node.kill();
        let _ = node.wait();
        out
    });
    // Each answer says something (an empty answer from both would prove nothing).
    for (answer, expected) in with_rpcbind.iter().zip([
        "536875281",
        "portmapper",
        "inet/tcp/cots_ord",
        "inet/udp/clts",
        "ready and waiting",
        "GETSTAT",
    ]) {
        assert!(answer.contains(expected), "rpcbind's answer lacks {expected}:\n{answer}");
    }
    for (rpcbind, courier) in with_rpcbind.iter().zip(&with_courier) {
        assert_eq!(courier, rpcbind, "courier:\n{courier}\nrpcbind:\n{rpcbind}");
    }
}
