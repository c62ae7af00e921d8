//! Fault-injecting relays: they stand between clients and a server and lose, duplicate,
//! delay and reorder messages in both directions, with a seed for reproducible runs,
//! and can partition the two sides and heal the partition. Tests use them to show what
//! each invocation semantics does when messages are lost; `courier chaos` puts them on
//! the command line.
//!
//! - [`UdpRelay`] works on datagrams: each is dropped, duplicated or held independently.
//! - [`TcpRelay`] works on ONC RPC records (record marking): a stream cannot lose one
//!   message and deliver the next, so a lost record breaks its connection, as a failing
//!   link or a crashing middlebox would; records can be duplicated and delayed (in
//!   order); [`TcpRelay::partition`] breaks every connection and holds new ones until
//!   [`TcpRelay::heal`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::sync::lock;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the relay does to each datagram, independently, in each direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// The chance a datagram is dropped (0 to 1).
    pub loss: f64,
    /// The chance a datagram is sent twice.
    pub duplication: f64,
    /// Each datagram is held up to this long (uniformly), which reorders them.
    pub max_delay: Duration,
    /// The seed of the random choices.
    pub seed: u64,
}

impl Faults {
    /// No faults: a plain relay.
    pub const NONE: Faults = Faults { loss: 0.0, duplication: 0.0, max_delay: Duration::ZERO, seed: 0 };
}

/// Counts of what the relay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Messages (datagrams or records) received from clients.
    pub from_clients: u64,
    /// Messages received from the server.
    pub from_server: u64,
    /// Messages dropped.
    pub dropped: u64,
    /// Extra copies sent.
    pub duplicated: u64,
}

/// A running relay; dropping it stops it.
#[derive(Debug)]
pub struct UdpRelay {
    addr: SocketAddr,
    tally: Arc<Mutex<Tally>>,
    task: JoinHandle<()>,
}

struct Shared {
    front: UdpSocket,
    server: SocketAddr,
    faults: Faults,
    rng: Mutex<SmallRng>,
    tally: Arc<Mutex<Tally>>,
}

impl UdpRelay {
    /// Starts a relay on `bind` in front of the UDP server at `server`.
    pub async fn start(bind: SocketAddr, server: SocketAddr, faults: Faults) -> std::io::Result<UdpRelay> {
        let front = UdpSocket::bind(bind).await?;
        let addr = front.local_addr()?;
        let tally = Arc::new(Mutex::new(Tally::default()));
        let shared = Arc::new(Shared {
            front,
            server,
            faults,
            rng: Mutex::new(SmallRng::seed_from_u64(faults.seed)),
            tally: tally.clone(),
        });
        let task = tokio::spawn(run(shared));
        Ok(UdpRelay { addr, tally, task })
    }

    /// Where clients send to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the relay has done so far.
    pub fn tally(&self) -> Tally {
        *lock(&self.tally)
    }
}

impl Drop for UdpRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Receives from clients; each client gets its own upstream socket, whose replies go
/// back to that client.
async fn run(shared: Arc<Shared>) {
    let mut upstreams: HashMap<SocketAddr, (Arc<UdpSocket>, JoinHandle<()>)> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, client)) = shared.front.recv_from(&mut buf).await else { continue };
        lock(&shared.tally).from_clients += 1;
        let upstream = match upstreams.get(&client) {
            Some((socket, _)) => socket.clone(),
            None => {
                let bind = SocketAddr::new(
                    if shared.server.is_ipv6() {
                        std::net::Ipv6Addr::LOCALHOST.into()
                    } else {
                        std::net::Ipv4Addr::LOCALHOST.into()
                    },
                    0,
                );
                let Ok(socket) = UdpSocket::bind(bind).await else { continue };
                let socket = Arc::new(socket);
                let back = tokio::spawn(replies(shared.clone(), socket.clone(), client));
                upstreams.insert(client, (socket.clone(), back));
                socket
            }
        };
        let datagram = buf[..n].to_vec();
        let server = shared.server;
        forward(&shared, datagram, move |d| {
            let upstream = upstream.clone();
            async move {
                let _ = upstream.send_to(&d, server).await;
            }
        });
    }
}

async fn replies(shared: Arc<Shared>, upstream: Arc<UdpSocket>, client: SocketAddr) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, _)) = upstream.recv_from(&mut buf).await else { continue };
        lock(&shared.tally).from_server += 1;
        let datagram = buf[..n].to_vec();
        let relay = shared.clone();
        forward(&shared, datagram, move |d| {
            let relay = relay.clone();
            async move {
                let _ = relay.front.send_to(&d, client).await;
            }
        });
    }
}

/// What happens to one message.
struct Fate {
    /// Lost.
    dropped: bool,
    /// The delay of each copy sent (one or two), in microseconds.
    delays: Vec<u64>,
}

impl Faults {
    /// Draws one message's fate and counts it.
    fn draw(&self, rng: &Mutex<SmallRng>, tally: &Mutex<Tally>) -> Fate {
        let mut rng = lock(rng);
        let dropped = rng.random_bool(self.loss.clamp(0.0, 1.0));
        let copies = if rng.random_bool(self.duplication.clamp(0.0, 1.0)) { 2 } else { 1 };
        let max = self.max_delay.as_micros() as u64;
        let delays: Vec<u64> = (0..copies).map(|_| if max == 0 { 0 } else { rng.random_range(0..=max) }).collect();
        let mut tally = lock(tally);
        if dropped {
            tally.dropped += 1;
        } else {
            tally.duplicated += copies - 1;
        }
        Fate { dropped, delays }
    }
}

/// Applies the faults to one datagram: drops it, or sends it (and perhaps a copy), each
/// after its own random delay.
fn forward<F, Fut>(shared: &Arc<Shared>, datagram: Vec<u8>, send: F)
where
    F: Fn(Vec<u8>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let fate = shared.faults.draw(&shared.rng, &shared.tally);
    if fate.dropped {
        return;
    }
    for delay in fate.delays {
        let sending = send(datagram.clone());
        tokio::spawn(async move {
            if delay > 0 {
                tokio::time::sleep(Duration::from_micros(delay)).await;
            }
            sending.await;
        });
    }
}

/// The largest record a [`TcpRelay`] passes on; a longer one breaks its connection.
const MAX_RELAYED_RECORD: usize = 64 << 20;

/// A running TCP relay for ONC RPC record streams; dropping it stops it and breaks its
/// connections.
#[derive(Debug)]
pub struct TcpRelay {
    addr: SocketAddr,
    shared: Arc<TcpShared>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
struct TcpShared {
    server: SocketAddr,
    faults: Faults,
    rng: Mutex<SmallRng>,
    tally: Mutex<Tally>,
    /// Whether the two sides are partitioned; connections watch it.
    partitioned: watch::Sender<bool>,
    /// Bumped to break every connection at once.
    cuts: watch::Sender<u64>,
}

impl TcpRelay {
    /// Starts a relay on `bind` in front of the TCP server at `server`.
    pub async fn start(bind: SocketAddr, server: SocketAddr, faults: Faults) -> std::io::Result<TcpRelay> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(TcpShared {
            server,
            faults,
            rng: Mutex::new(SmallRng::seed_from_u64(faults.seed)),
            tally: Mutex::default(),
            partitioned: watch::Sender::new(false),
            cuts: watch::Sender::new(0),
        });
        let task = tokio::spawn(accept(listener, shared.clone()));
        Ok(TcpRelay { addr, shared, task })
    }

    /// Where clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the relay has done so far.
    pub fn tally(&self) -> Tally {
        *lock(&self.shared.tally)
    }

    /// Breaks every connection now; new ones are relayed as before.
    pub fn cut(&self) {
        self.shared.cuts.send_modify(|n| *n += 1);
    }

    /// Partitions clients from the server: every connection breaks, and new ones are
    /// accepted but carry nothing until [`TcpRelay::heal`].
    pub fn partition(&self) {
        self.shared.partitioned.send_replace(true);
        self.cut();
    }

    /// Ends a partition: held connections go through to the server.
    pub fn heal(&self) {
        self.shared.partitioned.send_replace(false);
    }
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

async fn accept(listener: TcpListener, shared: Arc<TcpShared>) {
    loop {
        match listener.accept().await {
            Ok((client, _)) => {
                tokio::spawn(relay_connection(client, shared.clone()));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Relays one connection, record by record, until either side closes, a lost record or
/// a cut breaks it.
async fn relay_connection(client: TcpStream, shared: Arc<TcpShared>) {
    let mut cuts = shared.cuts.subscribe();
    cuts.mark_unchanged();
    let mut partitioned = shared.partitioned.subscribe();
    let held = async {
        // A partition holds the connection (the client's bytes wait in its socket).
        let _ = partitioned.wait_for(|p| !*p).await;
        TcpStream::connect(shared.server).await
    };
    let server = tokio::select! {
        server = held => server,
        _ = cuts.changed() => return,
    };
    let Ok(server) = server else { return };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_r, client_w) = client.into_split();
    let (server_r, server_w) = server.into_split();
    tokio::select! {
        _ = pump(client_r, server_w, &shared, true) => {}
        _ = pump(server_r, client_w, &shared, false) => {}
        _ = cuts.changed() => {}
    }
}

/// Copies records from `from` to `to` with the faults applied; returns when the
/// connection must break.
async fn pump<R, W>(mut from: R, mut to: W, shared: &TcpShared, from_client: bool)
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut due = tokio::time::Instant::now();
    loop {
        let Some(record) = read_record(&mut from).await else { return };
        {
            let mut tally = lock(&shared.tally);
            if from_client {
                tally.from_clients += 1;
            } else {
                tally.from_server += 1;
            }
        }
        let fate = shared.faults.draw(&shared.rng, &shared.tally);
        if fate.dropped {
            return;
        }
        for delay in fate.delays {
            // Delayed, but in order: a stream does not reorder its bytes.
            due = due.max(tokio::time::Instant::now() + Duration::from_micros(delay));
            tokio::time::sleep_until(due).await;
            if to.write_all(&record).await.is_err() {
                return;
            }
        }
    }
}

/// Reads one whole record (all its fragments, with their headers); `None` at the end of
/// the stream, on an error or past [`MAX_RELAYED_RECORD`].
async fn read_record<R: tokio::io::AsyncRead + Unpin>(from: &mut R) -> Option<Vec<u8>> {
    let mut record = Vec::new();
    loop {
        let mut header = [0u8; 4];
        from.read_exact(&mut header).await.ok()?;
        let word = u32::from_be_bytes(header);
        let len = (word & 0x7fff_ffff) as usize;
        if record.len() + 4 + len > MAX_RELAYED_RECORD {
            return None;
        }
        record.extend_from_slice(&header);
        let start = record.len();
        record.resize(start + len, 0);
        from.read_exact(&mut record[start..]).await.ok()?;
        if word & 0x8000_0000 != 0 {
            return Some(record);
        }
    }
}
