//! NATS servers for tests: [`NatsServer`] is one `nats-server -js` on 127.0.0.1 with a
//! port the server picks and a store directory of its own; [`NatsCluster`] is a cluster
//! of them with JetStream, whose servers can be killed one by one. Both are killed
//! (SIGKILL) and their directories removed when dropped. Only loopback addresses are
//! used, and every wait is bounded.
//!
//! [`NatsServer::request`] speaks just enough of the NATS text protocol (CONNECT, SUB,
//! PUB, MSG) to ask JetStream's API a question, so that a test can look at a stream
//! without a client library: who leads it ([`NatsCluster::stream_leader`]), how many
//! messages it holds ([`json_field`] picks a value out of the answer).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The longest a server is given to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// The longest a cluster is given to elect its JetStream meta leader.
const META_LEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest a request is awaited.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer a request accepts.
const MAX_ANSWER: usize = 1 << 20;

/// One nats-server with JetStream on 127.0.0.1.
pub struct NatsServer {
    child: Child,
    /// Its directory, removed when it is dropped; `None` in a cluster, which removes
    /// the directory its servers share.
    dir: Option<PathBuf>,
    name: String,
    port: u16,
}

impl NatsServer {
    /// Starts a standalone server and waits until it accepts connections.
    pub fn start() -> NatsServer {
        let dir = scratch_dir("nats");
        let mut server = NatsServer::spawn(&dir, "courier-test", &[]).unwrap_or_else(|e| panic!("{e}"));
        server.dir = Some(dir);
        server
    }

    /// Starts `nats-server -js` named `name`, its store and log in `dir`, with `extra`
    /// arguments, and waits until it listens; the error tells why it did not.
    fn spawn(dir: &Path, name: &str, extra: &[String]) -> Result<NatsServer, String> {
        let log = dir.join(format!("{name}.log"));
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", "-1", "-n", name])
            .arg("-sd")
            .arg(dir.join(name))
            .arg("-l")
            .arg(&log)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("start nats-server ({e}): is it installed? scripts/test installs it"))?;
        let mut server = NatsServer { child, dir: None, name: name.to_owned(), port: 0 };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let port = text.lines().find_map(|line| {
                line.split("Listening for client connections on 127.0.0.1:").nth(1)?.trim().parse().ok()
            });
            if let (Some(port), true) = (port, text.contains("Server is ready")) {
                server.port = port;
                break;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("nats-server {name} exited ({status}): {text}"));
            }
            if Instant::now() > deadline {
                return Err(format!("nats-server {name} not ready within {START_TIMEOUT:?}: {text}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        TcpStream::connect(("127.0.0.1", server.port))
            .map_err(|e| format!("nats-server {name} said it listens on {} but: {e}", server.port))?;
        Ok(server)
    }

    /// Its client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Its server name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends `payload` to `subject` with a reply subject and returns the answer's payload
    /// (JetStream's API answers in JSON).
    pub fn request(&self, subject: &str, payload: &str) -> std::io::Result<String> {
        self.request_within(subject, payload, REQUEST_TIMEOUT)
    }

    fn request_within(&self, subject: &str, payload: &str, timeout: Duration) -> std::io::Result<String> {
        let mut socket = TcpStream::connect(("127.0.0.1", self.port))?;
        socket.set_read_timeout(Some(timeout))?;
        let mut reader = BufReader::new(socket.try_clone()?.take(MAX_ANSWER as u64));
        let mut line = String::new();
        reader.read_line(&mut line)?; // INFO
        let inbox = "_INBOX.courier-test";
        write!(
            socket,
            "CONNECT {{\"verbose\":false,\"pedantic\":false}}\r\nSUB {inbox} 1\r\nPUB {subject} {inbox} {}\r\n{payload}\r\n",
            payload.len()
        )?;
        let deadline = Instant::now() + timeout;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 || Instant::now() > deadline {
                return Err(std::io::Error::other(format!("no answer to {subject} from {}", self.name)));
            }
            if line.starts_with("PING") {
                socket.write_all(b"PONG\r\n")?;
            } else if line.starts_with("-ERR") {
                return Err(std::io::Error::other(format!("{subject}: {}", line.trim())));
            } else if let Some(header) = line.strip_prefix("MSG ") {
                let size: usize = header
                    .split_whitespace()
                    .last()
                    .and_then(|s| s.parse().ok())
                    .filter(|&size| size <= MAX_ANSWER)
                    .ok_or_else(|| std::io::Error::other(format!("bad MSG line {line:?}")))?;
                let mut answer = vec![0; size + 2];
                reader.read_exact(&mut answer)?;
                answer.truncate(size);
                return String::from_utf8(answer).map_err(std::io::Error::other);
            }
        }
    }

    /// Kills it with SIGKILL and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A cluster of nats-servers with JetStream, all on 127.0.0.1.
pub struct NatsCluster {
    servers: Vec<Option<NatsServer>>,
    dir: PathBuf,
}

impl NatsCluster {
    /// Starts `size` servers routed to each other, and waits until every one of them
    /// answers through the JetStream meta leader.
    pub fn start(size: usize) -> NatsCluster {
        let mut failures = Vec::new();
        // The cluster ports are picked before the servers bind them: another process may
        // take one meanwhile, so a failed start is tried again with new ports.
        for _ in 0..3 {
            match NatsCluster::try_start(size) {
                Ok(cluster) => return cluster,
                Err(e) => failures.push(e),
            }
        }
        panic!("cannot start a {size}-server NATS cluster: {failures:#?}")
    }

    fn try_start(size: usize) -> Result<NatsCluster, String> {
        let mut cluster = NatsCluster { servers: Vec::new(), dir: scratch_dir("nats-cluster") };
        let ports = free_ports(size).map_err(|e| e.to_string())?;
        let routes = ports.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect::<Vec<_>>().join(",");
        for (index, port) in ports.iter().enumerate() {
            let extra = [
                "--cluster".to_owned(),
                format!("nats://127.0.0.1:{port}"),
                "--cluster_name".to_owned(),
                "courier-test".to_owned(),
                "--routes".to_owned(),
                routes.clone(),
            ];
            cluster.servers.push(Some(NatsServer::spawn(&cluster.dir, &format!("n{index}"), &extra)?));
        }
        cluster.meta_leader_elected()?;
        Ok(cluster)
    }

    /// Waits until every running server reaches a JetStream meta leader (as after one was
    /// killed); panics if that takes too long.
    pub fn wait_for_meta_leader(&self) {
        self.meta_leader_elected().unwrap_or_else(|e| panic!("{e}"));
    }

    /// Waits until a stream listing through every running server is answered: in a
    /// cluster only the meta leader answers it.
    fn meta_leader_elected(&self) -> Result<(), String> {
        let deadline = Instant::now() + META_LEADER_TIMEOUT;
        for server in self.servers.iter().flatten() {
            loop {
                // Unanswered while there is no leader: ask often.
                match server.request_within("$JS.API.STREAM.NAMES", "", Duration::from_millis(500)) {
                    Ok(answer) if !answer.contains("\"error\"") => break,
                    answer if Instant::now() > deadline => {
                        return Err(format!("no JetStream meta leader via {}: {answer:?}", server.name))
                    }
                    _ => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        }
        Ok(())
    }

    /// The client URLs of the servers still running, separated by commas.
    pub fn urls(&self) -> String {
        self.servers.iter().flatten().map(NatsServer::url).collect::<Vec<_>>().join(",")
    }

    /// Server `index`; panics if it was killed.
    pub fn server(&self, index: usize) -> &NatsServer {
        self.servers[index].as_ref().unwrap_or_else(|| panic!("server {index} was killed"))
    }

    /// Kills server `index` with SIGKILL.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut server) = self.servers[index].take() {
            server.kill();
        }
    }

    /// The index of the server leading `stream`, asked of every running server until one
    /// answers with a leader (`None` when none does, as during an election).
    pub fn stream_leader(&self, stream: &str) -> Option<usize> {
        let subject = format!("$JS.API.STREAM.INFO.{stream}");
        let leader = self.servers.iter().flatten().find_map(|server| {
            let info = server.request(&subject, "").ok()?;
            let cluster = &info[info.find("\"cluster\":")?..];
            json_field(cluster, "leader").map(str::to_owned)
        })?;
        self.servers.iter().position(|s| s.as_ref().is_some_and(|s| s.name == leader))
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        self.servers.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The value of the first `"key":` in `json`, unquoted if a string: enough to read a
/// number or a name out of a JetStream answer.
pub fn json_field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let value = json[json.find(&format!("\"{key}\":"))? + key.len() + 3..].trim_start();
    match value.strip_prefix('"') {
        Some(text) => text.split('"').next(),
        None => value.split([',', '}', ']']).next().map(str::trim),
    }
}

/// `n` distinct free TCP ports on 127.0.0.1 (all held at once while they are picked).
fn free_ports(n: usize) -> std::io::Result<Vec<u16>> {
    let listeners = (0..n).map(|_| TcpListener::bind("127.0.0.1:0")).collect::<std::io::Result<Vec<_>>>()?;
    listeners.iter().map(|l| l.local_addr().map(|a| a.port())).collect()
}

/// A new empty directory under the system's temporary directory.
fn scratch_dir(what: &str) -> PathBuf {
    static DIRS: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "courier-{what}-{}-{}",
        std::process::id(),
        DIRS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}
