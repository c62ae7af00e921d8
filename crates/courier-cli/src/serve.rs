//! `courier serve`: the node. It serves the diagnostic program (NULL and ECHO), the
//! name registry of remote objects and the mailboxes (durable with `--data DIR`) on TCP
//! and UDP at every `--listen` address, prints the addresses actually bound,
//! registers its programs with the machine's binder when one runs (unless
//! `--no-register`), and on Ctrl-C or SIGTERM withdraws them and stops.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;

use std::io::Write;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use courier::binder::{protocol, Binder, Registration, Table};
use courier::mailbox::jetstream::{JetStreamConfig, JetStreamStore};
use courier::mailbox::post_office::{PostOffice, PostOfficeConfig};
use courier::mailbox::store::FjallStore;
use courier::mailbox::{QueueConfig, WhenFull};
use courier::rpc::{Listening, Server};
use courier::transport::Endpoint;

/// The port a node listens on when none is given.
pub const DEFAULT_PORT: u16 = 7111;

/// The most names the node's registry binds: so many bindings of the longest names
/// still fit in one LIST reply (under the 4 MiB record limit).
const MAX_NAMES: usize = 8192;

/// Where the machine's binder keeps its local socket (libtirpc's `_PATH_RPCBINDSOCK`).
const DEFAULT_BINDER_SOCKET: &str = "/run/rpcbind.sock";

#[derive(clap::Args)]
pub struct Args {
    /// Address to serve on, TCP and UDP (repeatable; port 0 picks a free port, the same for both).
    #[arg(long = "listen", value_name = "ADDR:PORT", default_value = "127.0.0.1:7111")]
    listen: Vec<SocketAddr>,
    /// Also serve on this Unix socket path.
    #[arg(long, value_name = "PATH")]
    unix: Option<std::path::PathBuf>,
    /// Do not register the node's programs with the machine's binder (rpcbind).
    #[arg(long)]
    no_register: bool,
    /// Be the machine's binder: serve rpcbind and the port mapper on port 111.
    #[arg(long)]
    rpcbind: bool,
    /// Be the binder on this port instead of 111 (0: any free port).
    #[arg(long, value_name = "PORT", conflicts_with = "rpcbind")]
    rpcbind_port: Option<u16>,
    /// The binder's local socket, where libtirpc servers register first (default with
    /// --rpcbind: /run/rpcbind.sock; with --rpcbind-port: none).
    #[arg(long, value_name = "PATH")]
    rpcbind_socket: Option<std::path::PathBuf>,
    /// Keep the node's durable state in DIR: durable mailboxes (the store in DIR/mailboxes/) and
    /// the binder's registrations (DIR/rpcbind.xdr) survive a restart.
    #[arg(long, value_name = "DIR")]
    data: Option<std::path::PathBuf>,
    /// Keep durable mailboxes in NATS JetStream instead of DIR (URL: nats://HOST:PORT,
    /// several comma-separated), replicated across its servers.
    #[arg(long, value_name = "URL")]
    jetstream: Option<String>,
    /// With --jetstream: how many servers keep each message (1 to 5).
    #[arg(long, value_name = "N", default_value_t = 1, requires = "jetstream")]
    replicas: usize,
    /// Seconds a received message waits for its acknowledgement before it is delivered
    /// again.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    visibility: f64,
    /// After this many deliveries without an acknowledgement a message goes to the
    /// dead-letter mailbox NAME.dead.
    #[arg(long, value_name = "N")]
    max_deliveries: Option<u32>,
    /// The most messages a mailbox holds; senders to a full one wait (up to their
    /// deadline).
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    mailbox_capacity: usize,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Listen for Ctrl-C and SIGTERM before anything else, so that a signal that comes
    // while the node starts still stops it cleanly.
    let shutdown = shutdown_signal()?;
    let binder_port = if args.rpcbind { Some(protocol::PORT) } else { args.rpcbind_port };
    let binder = match (binder_port, &args.data) {
        (None, _) => None,
        (Some(_), None) => Some(Binder::new(Table::default())),
        (Some(_), Some(dir)) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let state = dir.join("rpcbind.xdr");
            Some(Binder::with_state(state.clone()).with_context(|| format!("cannot load {}", state.display()))?)
        }
    };
    let names = courier::object::Registry::new(MAX_NAMES);
    let post_office = post_office(&args)?;
    let mut builder = Server::builder()
        .register(courier::diag::PROGRAM, courier::diag::VERSION, courier::diag::service())
        .register(courier::object::registry::PROGRAM, courier::object::registry::VERSION, names.service())
        .register(courier::mailbox::protocol::PROGRAM, courier::mailbox::protocol::VERSION, post_office.service());
    if let Some(binder) = &binder {
        builder = binder.clone().serve(builder);
    }
    let server = builder.build();
    let mut listening = Vec::new();
    for addr in &args.listen {
        let (tcp, udp) = listen_pair(&server, *addr).await?;
        listening.extend([tcp, udp]);
    }
    // The binder listens on IPv4 and IPv6 loopback (libtirpc servers register over
    // [::1]:111) and on each --listen address, at its port.
    let mut binder_at = None;
    let mut binder_socket = None;
    if let (Some(binder), Some(port)) = (&binder, binder_port) {
        let mut ips: Vec<IpAddr> = vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()];
        ips.extend(args.listen.iter().map(|a| a.ip()).filter(|ip| !ip.is_loopback()));
        let mut own = Vec::new();
        let mut port = port;
        for ip in ips {
            let (tcp, udp) = listen_pair(&server, SocketAddr::new(ip, port)).await?;
            for l in [&tcp, &udp] {
                if let Endpoint::Tcp(a) | Endpoint::Udp(a) = *l.endpoint() {
                    port = a.port();
                    let netid = match (l.endpoint(), a.is_ipv6()) {
                        (Endpoint::Tcp(_), false) => "tcp",
                        (Endpoint::Tcp(_), true) => "tcp6",
                        (_, false) => "udp",
                        (_, true) => "udp6",
                    };
                    own.push((netid, a));
                }
            }
            listening.extend([tcp, udp]);
        }
        let socket = args.rpcbind_socket.clone().or_else(|| args.rpcbind.then(|| DEFAULT_BINDER_SOCKET.into()));
        if let Some(path) = &socket {
            let local = server
                .listen(&Endpoint::Unix(path.clone()))
                .await
                .with_context(|| format!("cannot listen on {}", path.display()))?;
            listening.push(local);
        }
        binder.register_self(&own, socket.as_deref());
        binder_socket = socket;
        binder_at = Some(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port));
        tracing::info!(port, "serving as the machine's binder");
    }
    if let Some(path) = &args.unix {
        let endpoint = Endpoint::Unix(path.clone());
        listening.push(server.listen(&endpoint).await.with_context(|| format!("cannot listen on {endpoint}"))?);
    }
    for l in &listening {
        // The bound addresses go to stdout, one per line, for scripts and tests; a reader
        // that went away is no reason to stop serving.
        let _ = writeln!(std::io::stdout(), "listening on {}", l.endpoint());
        tracing::info!(endpoint = %l.endpoint(), "listening");
    }
    for (prog, vers) in server.registrations() {
        tracing::info!(prog, vers, "serving program");
    }
    // The node's own programs (not the binder's) at the --listen addresses.
    let endpoints: Vec<Endpoint> = listening
        .iter()
        .map(|l| l.endpoint().clone())
        .filter(|e| matches!(e, Endpoint::Tcp(a) | Endpoint::Udp(a) if Some(a.port()) != binder_at.map(|b| b.port())))
        .collect();
    let binder_addr = binder_at.unwrap_or(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), protocol::PORT));
    let programs: Vec<(u32, u32)> =
        server.registrations().into_iter().filter(|(prog, _)| *prog != protocol::PROGRAM).collect();
    let registration = if args.no_register { None } else { announce(&programs, &endpoints, binder_addr).await };
    shutdown.await?;
    tracing::info!("shutting down");
    if let Some(registration) = registration {
        if let Err(e) = registration.withdraw().await {
            tracing::warn!(error = %e, "could not withdraw the registrations");
        }
    }
    drop(listening);
    for path in args.unix.iter().chain(&binder_socket) {
        let _ = std::fs::remove_file(path);
    }
    Ok(ExitCode::SUCCESS)
}

/// The node's mailboxes, durable in JetStream with `--jetstream URL`, else in
/// `--data DIR` when given (their messages loaded).
fn post_office(args: &Args) -> anyhow::Result<Arc<PostOffice>> {
    let store = match (&args.jetstream, &args.data) {
        (Some(url), _) => {
            let config = JetStreamConfig { replicas: args.replicas, ..JetStreamConfig::default() };
            let store =
                JetStreamStore::connect(url, config).with_context(|| format!("cannot use JetStream at {url}"))?;
            Some(Arc::new(store) as Arc<dyn courier::mailbox::store::Store>)
        }
        (None, None) => None,
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let path = dir.join("mailboxes");
            let store = FjallStore::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
            Some(Arc::new(store) as Arc<dyn courier::mailbox::store::Store>)
        }
    };
    let visibility = Duration::try_from_secs_f64(args.visibility).context("--visibility: not a duration")?;
    let queue = QueueConfig {
        capacity: args.mailbox_capacity,
        when_full: WhenFull::Wait,
        visibility,
        max_deliveries: args.max_deliveries,
    };
    let office = PostOffice::open(PostOfficeConfig { queue, ..PostOfficeConfig::default() }, store)
        .context("cannot load the durable mailboxes")?;
    for mailbox in office.mailboxes() {
        tracing::info!(mailbox = mailbox.name(), waiting = mailbox.depth().0, "mailbox loaded");
    }
    Ok(office)
}

/// Binds TCP and UDP on `addr`. With port 0 both get the same free port, as ONC RPC
/// servers usually have: TCP picks it, UDP takes it if it can, and otherwise the pair is
/// tried again.
async fn listen_pair(server: &Server, addr: SocketAddr) -> anyhow::Result<(Listening, Listening)> {
    const TRIES: usize = 16;
    for _ in 0..TRIES {
        let tcp =
            server.listen(&Endpoint::Tcp(addr)).await.with_context(|| format!("cannot listen on tcp://{addr}"))?;
        let Endpoint::Tcp(bound) = *tcp.endpoint() else { unreachable!("a TCP listener is bound to a TCP address") };
        match server.listen(&Endpoint::Udp(bound)).await {
            Ok(udp) => return Ok((tcp, udp)),
            Err(e) if addr.port() != 0 => return Err(e).with_context(|| format!("cannot listen on udp://{addr}")),
            Err(_) => continue,
        }
    }
    anyhow::bail!("no port free for both TCP and UDP on {addr} after {TRIES} tries")
}

/// Registers the node's programs with the binder on this machine, if there is one.
async fn announce(programs: &[(u32, u32)], endpoints: &[Endpoint], binder: SocketAddr) -> Option<Registration> {
    match Registration::announce(programs, endpoints, binder).await {
        Ok(registration) => {
            for (prog, vers, endpoint) in registration.refused() {
                tracing::warn!(prog, vers, %endpoint, "the binder refused the registration");
            }
            tracing::info!(entries = registration.registered().len(), "registered with the binder");
            Some(registration)
        }
        Err(e) => {
            tracing::info!(error = %e, "not registered with a binder (none running? --no-register silences this)");
            None
        }
    }
}

/// Installs the handlers for Ctrl-C and SIGTERM now; the future completes at the first.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = term.recv() => {}
        }
        Ok(())
    })
}
