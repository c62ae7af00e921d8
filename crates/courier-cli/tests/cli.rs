//! The `courier` binary as a user runs it: `courier serve` on free ports, `courier ping`
//! against it over TCP and UDP, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const COURIER: &str = env!("CARGO_BIN_EXE_courier");

struct Node {
    child: Child,
    endpoints: Vec<String>,
}

impl Node {
    /// Starts `courier serve --listen 127.0.0.1:0 --listen [::1]:0` and reads the
    /// addresses it prints.
    fn start() -> Node {
        let mut child = Command::new(COURIER)
            .args(["serve", "--listen", "127.0.0.1:0", "--listen", "[::1]:0", "--no-register"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let endpoints =
            (0..4).map(|_| lines.next().unwrap().unwrap().trim_start_matches("listening on ").to_owned()).collect();
        Node { child, endpoints }
    }

    fn addr(&self, scheme: &str, v6: bool) -> String {
        self.endpoints
            .iter()
            .find(|e| e.starts_with(scheme) && e.contains('[') == v6)
            .unwrap()
            .trim_start_matches(&format!("{scheme}://"))
            .to_owned()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ping(args: &[&str]) -> (bool, String) {
    let out = Command::new(COURIER).arg("ping").args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn ping_reaches_a_node_over_tcp_and_udp_on_ipv4_and_ipv6() {
    let node = Node::start();
    assert!(node.endpoints[0].starts_with("tcp://127.0.0.1:"), "{:?}", node.endpoints);
    for v6 in [false, true] {
        assert_eq!(node.addr("tcp", v6), node.addr("udp", v6), "TCP and UDP got different ports");
    }
    for (scheme, flag) in [("tcp", "--tcp"), ("udp", "--udp")] {
        for v6 in [false, true] {
            let addr = node.addr(scheme, v6);
            let (ok, out) = ping(&[&addr, "courier-diag", "1", flag]);
            assert!(ok, "{out}");
            assert_eq!(out, format!("program 541282817 version 1 ready and waiting ({scheme})\n"));
        }
    }
    // Without a version: the range is learned from PROG_MISMATCH, as rpcinfo does.
    let (ok, out) = ping(&[&node.addr("tcp", false), "0x20435201"]);
    assert!(ok, "{out}");
    assert_eq!(out, "program 541282817 version 1 ready and waiting (tcp)\n");
}

#[test]
fn ping_reports_unavailable_programs_and_versions_plainly() {
    let node = Node::start();
    let addr = node.addr("tcp", false);
    let (ok, out) = ping(&[&addr, "100003", "3"]);
    assert!(!ok);
    assert_eq!(out, "program 100003 version 3 is not available (tcp): program not available\n");
    let (ok, out) = ping(&[&node.addr("udp", false), "courier-diag", "7", "--udp"]);
    assert!(!ok);
    assert!(out.ends_with("program/version mismatch; low version = 1, high version = 1\n"), "{out}");
}

#[test]
fn ping_times_out_against_a_silent_port() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let (ok, out) = ping(&[&addr, "courier-diag", "1", "--udp", "--timeout", "0.3"]);
    assert!(!ok);
    assert!(out.contains("timed out"), "{out}");
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let mut node = Node::start();
    let status = Command::new("kill").args(["-TERM", &node.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let start = Instant::now();
    loop {
        if let Some(status) = node.child.try_wait().unwrap() {
            assert!(status.success(), "courier serve exited with {status}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "courier serve ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `courier chaos` process started with `args` (stdin piped), the address it relays
/// from (its first line: `relaying SCHEME://ADDR -> …`), and the rest of its output.
struct Relay {
    child: Child,
    addr: String,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Relay {
    fn start(args: &[&str]) -> Relay {
        let mut child = Command::new(COURIER)
            .arg("chaos")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines.next().unwrap().unwrap();
        let relayed = line.split_whitespace().nth(1).unwrap();
        let addr = relayed.split_once("://").map_or(relayed, |(_, addr)| addr).to_owned();
        Relay { child, addr, lines }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn chaos_relays_to_a_node_and_loses_what_it_is_told_to() {
    let node = Node::start();
    let server = node.addr("udp", false);
    let clean = Relay::start(&["--to", &server, "--loss", "0", "--seed", "7"]);
    let (ok, out) = ping(&[&clean.addr, "courier-diag", "1", "--udp"]);
    assert!(ok, "{out}");
    let lossy = Relay::start(&["--to", &server, "--loss", "1", "--seed", "7"]);
    let (ok, out) = ping(&[&lossy.addr, "courier-diag", "1", "--udp", "--timeout", "0.5"]);
    assert!(!ok && out.contains("timed out"), "{out}");
}

#[test]
fn tcp_chaos_partitions_and_heals_on_command() {
    use std::io::Write;
    let node = Node::start();
    let server = node.addr("tcp", false);
    let mut relay = Relay::start(&["--tcp", "--to", &server]);
    let addr = relay.addr.clone();
    let mut stdin = relay.child.stdin.take().unwrap();
    let mut command = |word: &str| {
        writeln!(stdin, "{word}").unwrap();
        while relay.lines.next().unwrap().unwrap() != "ok" {}
    };
    let (ok, out) = ping(&[&addr, "courier-diag", "1", "--tcp"]);
    assert!(ok, "{out}");
    command("partition");
    let (ok, out) = ping(&[&addr, "courier-diag", "1", "--tcp", "--timeout", "0.5"]);
    assert!(!ok && out.contains("timed out"), "a partitioned relay let a call through: {out}");
    command("heal");
    let (ok, out) = ping(&[&addr, "courier-diag", "1", "--tcp"]);
    assert!(ok, "{out}");
}

#[test]
fn bench_measures_a_node_it_starts_and_writes_json() {
    let json = std::env::temp_dir().join(format!("courier-bench-test-{}.json", std::process::id()));
    for transport in ["tcp", "udp", "unix"] {
        let out = Command::new(COURIER)
            .args([
                "bench",
                "--transport",
                transport,
                "--in-flight",
                "1,4",
                "--size",
                "0,4096",
                "--seconds",
                "0.2",
                "--json",
            ])
            .arg(&json)
            .output()
            .unwrap();
        let table = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{table}{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(table.lines().count(), 5, "a header and four rows:\n{table}");
        let rows: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(rows.len(), 4);
        for row in &rows {
            assert_eq!(row["transport"], transport);
            assert!(
                row["calls"].as_u64().unwrap() > 0
                    && row["p99_us"].as_f64().unwrap() >= row["p50_us"].as_f64().unwrap(),
                "{row}"
            );
        }
    }
    let _ = std::fs::remove_file(json);
}

#[test]
fn bench_pauses_between_calls_outside_the_latencies() {
    let json = std::env::temp_dir().join(format!("courier-bench-pause-{}.json", std::process::id()));
    let args = ["bench", "--in-flight", "1", "--pause", "20000", "--seconds", "0.3", "--json"];
    let out = Command::new(COURIER).args(args).arg(&json).output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && table.contains("pauses 20000 µs"),
        "{table}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let row = &rows[0];
    assert_eq!(row["pause_us"], 20_000);
    // One call per 20 ms at most (the last may start just before the end), and the calls
    // themselves take far less than their pauses.
    let calls = row["calls"].as_u64().unwrap();
    assert!((1..=16).contains(&calls), "{row}");
    assert!(row["p50_us"].as_f64().unwrap() < 20_000.0, "{row}");
    let _ = std::fs::remove_file(json);
}

#[test]
fn bench_mailbox_measures_every_system_in_turns_and_writes_json() {
    let json = std::env::temp_dir().join(format!("courier-bench-mailbox-test-{}.json", std::process::id()));
    let args = ["bench", "mailbox", "--senders", "1,3", "--receivers", "2", "--seconds", "0.4", "--rounds", "2"];
    let out = Command::new(COURIER).args(args).arg("--json").arg(&json).output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(json);
    let nats = Command::new("nats-server").arg("--version").output().is_ok_and(|o| o.status.success());
    let mut expected = vec![("fdatasync 4 KiB", 1)];
    for senders in [1, 3] {
        expected.extend([("courier durable", senders), ("courier", senders)]);
        if nats {
            expected.extend([("jetstream", senders), ("nats core req-rep", senders)]);
        }
    }
    let measured: Vec<(&str, u64)> =
        rows.iter().map(|row| (row["system"].as_str().unwrap(), row["senders"].as_u64().unwrap())).collect();
    assert_eq!(measured, expected.iter().map(|&(s, n)| (s, n as u64)).collect::<Vec<_>>(), "{table}");
    for row in &rows {
        let (sent, received) = (row["sent_per_second"].as_f64().unwrap(), row["received_per_second"].as_f64().unwrap());
        // Every system sent, and nobody received more than was sent.
        assert!(sent > 0.0 && received <= sent, "{row}");
        assert!(row["send_p99_us"].as_f64().unwrap() >= row["send_p50_us"].as_f64().unwrap(), "{row}");
    }
}

/// Starts `courier serve --listen ADDR` and returns it with the TCP port it bound.
fn serve_on(addr: &str) -> (Child, u16) {
    let mut child = Command::new(COURIER)
        .args(["serve", "--listen", addr, "--no-register"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let tcp = lines.next().unwrap().unwrap();
    let port = tcp.rsplit(':').next().unwrap().parse().unwrap();
    // Keep reading, so the node never writes to a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, port)
}

#[test]
fn calls_to_a_node_killed_and_restarted_mid_load_fail_or_succeed_but_never_vanish() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use courier::rpc::{CallError, Client, ClientConfig};
    use courier::xdr::Opaque;
    use futures_util::stream::{self, StreamExt};

    let (mut first, port) = serve_on("127.0.0.1:0");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let endpoint = format!("tcp://127.0.0.1:{port}").parse().unwrap();
    let config = ClientConfig { timeout: Duration::from_secs(10), ..ClientConfig::default() };
    let client = runtime.block_on(Client::connect(&endpoint, config)).unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let load = runtime.spawn({
        let done = done.clone();
        async move {
            stream::iter(0..3000u32)
                .map(|i| {
                    let (client, done) = (&client, &done);
                    async move {
                        let payload = Opaque::from(i.to_be_bytes().to_vec());
                        let diag = (courier::diag::PROGRAM, courier::diag::VERSION, courier::diag::ECHO);
                        let result = client.call::<_, Opaque>(diag.0, diag.1, diag.2, &payload).await;
                        done.fetch_add(1, Ordering::SeqCst);
                        (i, result)
                    }
                })
                .buffer_unordered(16)
                .collect::<Vec<_>>()
                .await
        }
    });
    while done.load(Ordering::SeqCst) < 500 {
        std::thread::sleep(Duration::from_millis(2));
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (mut second, again) = serve_on(&format!("127.0.0.1:{port}"));
    assert_eq!(again, port);
    let results = runtime.block_on(load).unwrap();
    let _ = second.kill();
    let _ = second.wait();
    assert_eq!(results.len(), 3000, "every call ended, one way or the other");
    let mut failed = Vec::new();
    for (i, result) in &results {
        match result {
            Ok(back) => assert_eq!(&back[..], &i.to_be_bytes(), "call {i} got another call's reply"),
            Err(e) => {
                assert!(matches!(e, CallError::ServerRestarted { .. }), "call {i}: {e}");
                failed.push(*i);
            }
        }
    }
    // Only the calls in flight when the node died may fail, and they say so.
    assert!(!failed.is_empty() && failed.len() <= 16, "{} calls failed: {failed:?}", failed.len());
}

#[test]
fn lookup_and_ls_objects_read_the_nodes_name_registry() {
    use courier::object::{ObjectRef, RegistryClient};
    use courier::rpc::{Client, ClientConfig};

    let node = Node::start();
    let addr = node.addr("tcp", false);
    let reference: ObjectRef = "obj://127.0.0.1:7111/0x20005050.1/42@9f86d081884c7d65".parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let endpoint = format!("tcp://{addr}").parse().unwrap();
        let registry = RegistryClient::new(Client::connect(&endpoint, ClientConfig::default()).await.unwrap());
        registry.bind("people", &reference).await.unwrap();
        registry.bind("more/people", &ObjectRef { object: 43, ..reference }).await.unwrap();
    });
    let run = |args: &[&str]| Command::new(COURIER).args(args).output().unwrap();
    let found = run(&["lookup", "people", "--node", &addr]);
    assert!(found.status.success());
    assert_eq!(String::from_utf8_lossy(&found.stdout), format!("{reference}\n"));
    let missing = run(&["lookup", "nobody", "--node", &addr]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("`nobody` is not bound"));
    let listed = run(&["ls", "--objects", &addr]);
    assert!(listed.status.success());
    let lines: Vec<Vec<String>> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect();
    let reference_43 = ObjectRef { object: 43, ..reference }.to_string();
    assert_eq!(lines, [vec!["more/people".to_owned(), reference_43], vec!["people".to_owned(), reference.to_string()]]);
}

#[test]
fn idl_wire_prints_a_remote_object_program_for_rpcgen() {
    let x = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/idl-corpus/x/accounts.x");
    let out = Command::new(COURIER).args(["idl", "wire", x]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("struct object_key {"), "{text}");
    assert!(text.contains("accounts_deposit_reply DEPOSIT(object_key, unsigned int) = 1;"), "{text}");
    // `fmt` leaves the program as written.
    let out = Command::new(COURIER).args(["idl", "fmt", x]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("unsigned int DEPOSIT(unsigned int) = 1;"));
}
