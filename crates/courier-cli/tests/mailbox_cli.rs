//! Mailboxes through the `courier` binary: `courier send`, `recv` and `mailboxes`
//! against a `courier serve --data DIR` node, durable messages surviving a SIGKILL of the
//! node, and the crash test — 100 000 durable messages while the node is killed with
//! SIGKILL at random points and restarted: nothing whose send was acknowledged is lost,
//! and a message comes twice only when its earlier delivery was not acknowledged.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const COURIER: &str = env!("CARGO_BIN_EXE_courier");

/// A `courier serve --data DIR` node, killed (SIGKILL) when dropped.
struct Node {
    child: Child,
    port: u16,
    data: PathBuf,
}

impl Node {
    /// Starts a node keeping its state in `data`, on `port` (0: a free one).
    fn start(data: &Path, port: u16, extra: &[&str]) -> Node {
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(COURIER)
            .args(["serve", "--listen", &listen, "--no-register", "--data"])
            .arg(data)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Node::adopt(child, data)
    }

    /// A node started by the caller, reading the address it prints.
    fn adopt(mut child: Child, data: &Path) -> Node {
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let tcp = lines.next().expect("the node prints its address").unwrap();
        let port = tcp.rsplit(':').next().unwrap().parse().unwrap();
        // Keep reading, so the node never writes to a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Node { child, port, data: data.to_owned() }
    }

    fn node(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGKILL, then the same node again on the same port and data.
    fn kill_and_restart(&mut self, extra: &[&str]) {
        self.kill();
        *self = Node::start(&self.data.clone(), self.port, extra);
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `courier ARGS…` against `node` (given by COURIER_NODE, as a user would).
fn courier(node: &Node, args: &[&str]) -> Output {
    Command::new(COURIER).args(args).env("COURIER_NODE", node.node()).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn send_recv_and_mailboxes_from_the_command_line() {
    let data = scratch("cli-mailboxes");
    let mut node = Node::start(&data, 0, &[]);

    // Asynchronous send prints nothing; recv prints the body.
    let sent = courier(&node, &["send", "greetings", "hello, world"]);
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    assert_eq!((stdout(&sent).as_str(), sent.stderr.len()), ("", 0));
    let got = courier(&node, &["recv", "greetings", "--timeout", "5"]);
    assert!(got.status.success());
    assert_eq!(stdout(&got), "hello, world\n");

    // Nothing there: recv waits its timeout and exits non-zero.
    let start = Instant::now();
    let empty = courier(&node, &["recv", "greetings", "--timeout", "0.5"]);
    assert!(!empty.status.success());
    assert!(start.elapsed() >= Duration::from_millis(450));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("no message"), "{empty:?}");

    // --node wins over COURIER_NODE; a mailbox reference works too.
    let reference = format!("mailbox://{}/greetings", node.node());
    let out = Command::new(COURIER)
        .args(["send", "greetings", "line 0", "--node", &node.node()])
        .env("COURIER_NODE", "127.0.0.1:1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(courier(&node, &["send", "greetings", "line 1"]).status.success());
    assert!(courier(&node, &["send", &reference, "line 2"]).status.success());

    // --follow prints each body on its own line until the time runs out.
    let follow = courier(&node, &["recv", "greetings", "--follow", "--timeout", "1"]);
    assert_eq!(stdout(&follow), "line 0\nline 1\nline 2\n");
    assert!(!follow.status.success(), "the time ran out");

    // --sync returns only once a receiver took the message.
    let mut sync = Command::new(COURIER)
        .args(["send", "rendezvous", "--sync", "meet me"])
        .env("COURIER_NODE", node.node())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(sync.try_wait().unwrap().is_none(), "a synchronous send waits for its receiver");
    assert_eq!(stdout(&courier(&node, &["recv", "rendezvous", "--timeout", "5"])), "meet me\n");
    assert!(sync.wait().unwrap().success());

    // `courier mailboxes`: depth, consumers, rates.
    for body in ["a", "b", "c"] {
        assert!(courier(&node, &["send", "backlog", "--durable", body]).status.success());
    }
    let waiting = Command::new(COURIER)
        .args(["recv", "idle", "--timeout", "10"])
        .env("COURIER_NODE", node.node())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let list = stdout(&courier(&node, &["mailboxes"]));
    let row = |name: &str| -> Vec<String> {
        let line = list.lines().find(|l| l.split_whitespace().next() == Some(name)).unwrap_or_else(|| panic!("{list}"));
        line.split_whitespace().map(str::to_owned).collect()
    };
    assert!(list.starts_with("MAILBOX"), "{list}");
    assert_eq!(row("backlog")[1..5], ["3", "0", "0", "yes"], "{list}");
    assert_eq!(row("idle")[3], "1", "one receiver waits on `idle`: {list}");
    assert_eq!(row("greetings")[1..3], ["0", "0"], "what recv printed it acknowledged: {list}");
    let rate: f64 = row("backlog")[5].parse().unwrap();
    assert!(rate > 0.0, "sent/s over the last seconds: {list}");
    assert!(courier(&node, &["send", "idle", "wake"]).status.success());
    assert_eq!(String::from_utf8_lossy(&waiting.wait_with_output().unwrap().stdout), "wake\n");

    // Durable messages survive a SIGKILL of the node; others do not.
    assert!(courier(&node, &["send", "backlog", "not durable"]).status.success());
    node.kill_and_restart(&[]);
    let after = courier(&node, &["recv", "backlog", "--follow", "--timeout", "1"]);
    assert_eq!(stdout(&after), "a\nb\nc\n");

    // Errors are said plainly: a durable send to a node without --data.
    let plain = Command::new(COURIER)
        .args(["serve", "--listen", "127.0.0.1:0", "--no-register"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut plain = Node::adopt(plain, &data);
    let refused = courier(&plain, &["send", "q", "--durable", "x"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--data"), "{refused:?}");
    plain.kill();
}

/// What happened to one delivery's acknowledgement.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ack {
    /// Not answered yet, or the call failed: the node may or may not have removed it.
    Unknown,
    /// The node confirmed it: the message never comes again.
    Confirmed,
    /// Too late: the delivery was over (visibility timeout, or a restart).
    Refused,
}

/// What happened to one message of the crash test.
#[derive(Default, Clone)]
struct Fate {
    /// The durable send was acknowledged.
    sent: bool,
    /// Each delivery and its acknowledgement.
    deliveries: Vec<Ack>,
}

#[test]
fn crash_test_durable_messages_survive_sigkills_of_the_node() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use courier::mailbox::remote::MailboxClient;
    use courier::rpc::{Client, ClientConfig};
    use futures_util::stream::{self, StreamExt};

    const MESSAGES: usize = 100_000;
    const SENDERS: usize = 256;
    const RECEIVERS: usize = 64;
    const KILLS: usize = 3;
    let visibility = ["--visibility", "3"];

    let data = scratch("crash");
    let mut node = Node::start(&data, 0, &visibility);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let config = ClientConfig { timeout: Duration::from_secs(30), ..ClientConfig::default() };
    let endpoint = format!("tcp://{}", node.node()).parse().unwrap();
    let client = runtime.block_on(Client::connect(&endpoint, config)).unwrap();
    let mailbox = MailboxClient::new(client).mailbox("crash").unwrap();
    let fates = Arc::new(Mutex::new(vec![Fate::default(); MESSAGES]));
    let (sent, failed_sends) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));

    let senders = runtime.spawn({
        let (mailbox, fates, sent, failed_sends) = (mailbox.clone(), fates.clone(), sent.clone(), failed_sends.clone());
        async move {
            stream::iter(0..MESSAGES)
                .for_each_concurrent(SENDERS, |i| {
                    let (mailbox, fates, sent, failed_sends) = (&mailbox, &fates, &sent, &failed_sends);
                    async move {
                        // A send that fails may or may not have been persisted: it is
                        // not resent (that would be another message), only counted.
                        match mailbox.send_durable("crash-test", Bytes::from((i as u32).to_be_bytes().to_vec())).await {
                            Ok(_) => {
                                fates.lock().unwrap()[i].sent = true;
                                sent.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(_) => {
                                failed_sends.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                })
                .await
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    let receivers: Vec<_> = (0..RECEIVERS)
        .map(|_| {
            let (mailbox, fates, stop) = (mailbox.clone(), fates.clone(), stop.clone());
            runtime.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(Some(delivery)) = mailbox.receive_timeout(None, Duration::from_millis(500)).await else {
                        continue;
                    };
                    let i = u32::from_be_bytes(delivery.message().body[..4].try_into().unwrap()) as usize;
                    let slot = fates.lock().unwrap()[i].deliveries.len();
                    fates.lock().unwrap()[i].deliveries.push(Ack::Unknown);
                    let outcome = match delivery.ack().await {
                        Ok(true) => Ack::Confirmed,
                        Ok(false) => Ack::Refused,
                        Err(_) => Ack::Unknown,
                    };
                    fates.lock().unwrap()[i].deliveries[slot] = outcome;
                }
            })
        })
        .collect();

    // SIGKILL the node at random points of the load, and start it again.
    let mut kill_points: Vec<usize> =
        (0..KILLS).map(|_| rand::random_range(MESSAGES / 10..MESSAGES * 9 / 10)).collect();
    kill_points.sort();
    let start = Instant::now();
    for point in &kill_points {
        while sent.load(Ordering::Relaxed) + failed_sends.load(Ordering::Relaxed) < *point {
            assert!(start.elapsed() < Duration::from_secs(300), "the load stalled at {point}");
            std::thread::sleep(Duration::from_millis(5));
        }
        node.kill_and_restart(&visibility);
    }
    runtime.block_on(senders).unwrap();
    let send_time = start.elapsed();

    // Drain: every acknowledged send must come (those in flight at a kill come again
    // after the restart, those whose ack was lost after the visibility timeout).
    let limit = Instant::now() + Duration::from_secs(120);
    // (A message whose acknowledgement's fate is unknown may be gone: its receiver had it.)
    let missing = || {
        let fates = fates.lock().unwrap();
        fates.iter().filter(|f| f.sent && !f.deliveries.iter().any(|a| *a != Ack::Refused)).count()
    };
    while missing() > 0 {
        assert!(Instant::now() < limit, "{} acknowledged messages never came", missing());
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let late redeliveries come, then stop.
    std::thread::sleep(Duration::from_secs(4));
    stop.store(true, Ordering::Relaxed);
    for receiver in receivers {
        runtime.block_on(receiver).unwrap();
    }

    let fates = fates.lock().unwrap();
    let (mut acked_sends, mut duplicates, mut received_unacked_sends, mut unknown) = (0, 0, 0, 0);
    for (i, fate) in fates.iter().enumerate() {
        acked_sends += usize::from(fate.sent);
        received_unacked_sends += usize::from(!fate.sent && !fate.deliveries.is_empty());
        // After a confirmed acknowledgement a message never comes again.
        if let Some(first_ack) = fate.deliveries.iter().position(|a| *a == Ack::Confirmed) {
            assert_eq!(first_ack + 1, fate.deliveries.len(), "message {i} came again after its ack was confirmed");
        }
        unknown += usize::from(fate.sent && !fate.deliveries.contains(&Ack::Confirmed));
        duplicates += fate.deliveries.len().saturating_sub(1);
    }
    println!(
        "crash test: {MESSAGES} durable sends ({acked_sends} acknowledged, {} failed at the kills) in {send_time:?}, \
         {KILLS} SIGKILLs at {kill_points:?}; 0 acknowledged lost; {duplicates} redeliveries of unacknowledged \
         deliveries; {unknown} received whose acknowledgement failed at a kill; {received_unacked_sends} \
         messages whose send failed arrived anyway",
        MESSAGES - acked_sends
    );
    assert!(acked_sends >= MESSAGES - KILLS * SENDERS, "only the sends in flight at a kill may fail");
    assert!(unknown <= KILLS * RECEIVERS, "only the acknowledgements in flight at a kill may fail");
}

/// A small tmpfs mounted for one test, unmounted when dropped (needs root, as CI has).
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(name: &str, size: &str) -> SmallDisk {
        let dir = scratch(name);
        let ok = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(&dir).status();
        assert!(ok.unwrap().success(), "mount a tmpfs (the test needs root)");
        SmallDisk(dir)
    }

    fn grow(&self, size: &str) {
        let ok = Command::new("mount").args(["-o", &format!("remount,size={size}")]).arg(&self.0).status();
        assert!(ok.unwrap().success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_loses_nothing_acknowledged() {
    let disk = SmallDisk::mount("full-disk", "4m");
    let mut node = Node::start(&disk.0, 0, &[]);
    let body = |i: usize| format!("{i:04}{}", "x".repeat(60_000));
    let mut acked = 0;
    // Durable sends until one fails; the error it got.
    let send_until_refused = |acked: &mut usize, most: usize| loop {
        assert!(*acked < most, "the disk took {acked} messages of 60 kB");
        let out = courier(&node, &["send", "big", "--durable", &body(*acked)]);
        if !out.status.success() {
            break String::from_utf8_lossy(&out.stderr).into_owned();
        }
        *acked += 1;
    };
    let error = send_until_refused(&mut acked, 200);
    assert!(acked > 5, "{acked} messages before the disk was full");
    assert!(error.contains("could not be persisted") && error.contains("No space left on device"), "{error}");
    // Still full (the store may take a message or two more in the room its failed write
    // left): the next refusal says the same, plainly.
    let first_refusal = acked;
    let error = send_until_refused(&mut acked, first_refusal + 3);
    assert!(error.contains("could not be persisted") && error.contains("No space left on device"), "{error}");
    // Nothing acknowledged is lost: killed and restarted on the full disk, the node has
    // exactly the acknowledged messages.
    node.kill_and_restart(&[]);
    let list = stdout(&courier(&node, &["mailboxes"]));
    let waiting = list.lines().find(|l| l.starts_with("big ")).and_then(|l| l.split_whitespace().nth(1));
    assert_eq!(waiting, Some(acked.to_string().as_str()), "{list}");

    // With room again the node carries on, without a restart.
    disk.grow("64m");
    assert!(courier(&node, &["send", "big", "--durable", "after"]).status.success());
    let all = courier(&node, &["recv", "big", "--follow", "--timeout", "1"]);
    let lines: Vec<String> = stdout(&all).lines().map(str::to_owned).collect();
    let expected: Vec<String> = (0..acked).map(body).chain(["after".to_owned()]).collect();
    assert_eq!(lines.len(), expected.len());
    assert!(lines == expected, "the messages came back, in order");
}

#[test]
fn a_node_keeps_durable_mailboxes_in_jetstream() {
    let nats = courier_test_support::nats::NatsServer::start();
    let data = scratch("jetstream-node");
    let url = nats.url();
    let with_jetstream = ["--jetstream", url.as_str()];
    let mut node = Node::start(&data, 0, &with_jetstream);
    for body in ["one", "two", "three"] {
        let out = courier(&node, &["send", "orders", "--durable", body]);
        assert!(out.status.success(), "{out:?}");
    }
    assert_eq!(stdout(&courier(&node, &["recv", "orders", "--timeout", "5"])), "one\n");
    // Killed and started again (its own disk plays no part): the rest is in JetStream.
    node.kill_and_restart(&with_jetstream);
    let rest = courier(&node, &["recv", "orders", "--follow", "--timeout", "1"]);
    assert_eq!(stdout(&rest), "two\nthree\n");
    node.kill_and_restart(&with_jetstream);
    assert!(!courier(&node, &["recv", "orders", "--timeout", "0.5"]).status.success(), "acknowledged: gone");
}
