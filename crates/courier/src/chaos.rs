//! A fault-injecting relay for UDP: it stands between clients and a server and drops,
//! duplicates, delays (and so reorders) datagrams in both directions, with a seed for
//! reproducible runs. Tests use it to show what each invocation semantics does when
//! messages are lost; `courier chaos` will put it on the command line.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::net::UdpSocket;
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
    /// Datagrams received from clients.
    pub from_clients: u64,
    /// Datagrams received from the server.
    pub from_server: u64,
    /// Datagrams dropped.
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
        *self.tally.lock().unwrap_or_else(|e| e.into_inner())
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
        shared.tally.lock().unwrap_or_else(|e| e.into_inner()).from_clients += 1;
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
        shared.tally.lock().unwrap_or_else(|e| e.into_inner()).from_server += 1;
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

/// Applies the faults to one datagram: drops it, or sends it (and perhaps a copy), each
/// after its own random delay.
fn forward<F, Fut>(shared: &Arc<Shared>, datagram: Vec<u8>, send: F)
where
    F: Fn(Vec<u8>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (drop_it, copies, delays) = {
        let mut rng = shared.rng.lock().unwrap_or_else(|e| e.into_inner());
        let drop_it = rng.random_bool(shared.faults.loss.clamp(0.0, 1.0));
        let copies = if rng.random_bool(shared.faults.duplication.clamp(0.0, 1.0)) { 2 } else { 1 };
        let max = shared.faults.max_delay.as_micros() as u64;
        let delays: Vec<u64> = (0..copies).map(|_| if max == 0 { 0 } else { rng.random_range(0..=max) }).collect();
        (drop_it, copies, delays)
    };
    let mut tally = shared.tally.lock().unwrap_or_else(|e| e.into_inner());
    if drop_it {
        tally.dropped += 1;
        return;
    }
    tally.duplicated += copies - 1;
    drop(tally);
    for delay in delays {
        let sending = send(datagram.clone());
        tokio::spawn(async move {
            if delay > 0 {
                tokio::time::sleep(Duration::from_micros(delay)).await;
            }
            sending.await;
        });
    }
}
