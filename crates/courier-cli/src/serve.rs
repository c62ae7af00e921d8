//! `courier serve`: the node. For now it serves the diagnostic program (NULL and ECHO)
//! on TCP and UDP at every `--listen` address, prints the addresses actually bound,
//! registers its programs with the machine's binder when one runs (unless
//! `--no-register`), and on Ctrl-C or SIGTERM withdraws them and stops.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use courier::binder::Registration;
use courier::rpc::{Listening, Server};
use courier::transport::Endpoint;

/// The port a node listens on when none is given.
pub const DEFAULT_PORT: u16 = 7111;

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
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let server =
        Server::builder().register(courier::diag::PROGRAM, courier::diag::VERSION, courier::diag::service()).build();
    let mut listening = Vec::new();
    for addr in &args.listen {
        let (tcp, udp) = listen_pair(&server, *addr).await?;
        listening.extend([tcp, udp]);
    }
    if let Some(path) = &args.unix {
        let endpoint = Endpoint::Unix(path.clone());
        listening.push(server.listen(&endpoint).await.with_context(|| format!("cannot listen on {endpoint}"))?);
    }
    for l in &listening {
        // The bound addresses go to stdout, one per line, for scripts and tests.
        println!("listening on {}", l.endpoint());
        tracing::info!(endpoint = %l.endpoint(), "listening");
    }
    for (prog, vers) in server.registrations() {
        tracing::info!(prog, vers, "serving program");
    }
    let endpoints: Vec<Endpoint> = listening.iter().map(|l| l.endpoint().clone()).collect();
    let registration = if args.no_register { None } else { announce(&server, &endpoints).await };
    shutdown_signal().await?;
    tracing::info!("shutting down");
    if let Some(registration) = registration {
        if let Err(e) = registration.withdraw().await {
            tracing::warn!(error = %e, "could not withdraw the registrations");
        }
    }
    drop(listening);
    if let Some(path) = &args.unix {
        let _ = std::fs::remove_file(path);
    }
    Ok(ExitCode::SUCCESS)
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
async fn announce(server: &Server, endpoints: &[Endpoint]) -> Option<Registration> {
    match Registration::announce(server, endpoints, std::net::Ipv4Addr::LOCALHOST.into()).await {
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

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}
