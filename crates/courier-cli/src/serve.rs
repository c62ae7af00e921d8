//! `courier serve`: the node. For now it serves the diagnostic program (NULL and ECHO)
//! on TCP and UDP at every `--listen` address, prints the addresses actually bound, and
//! stops cleanly on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use courier::rpc::Server;
use courier::transport::Endpoint;

/// The port a node listens on when none is given.
pub const DEFAULT_PORT: u16 = 7111;

#[derive(clap::Args)]
pub struct Args {
    /// Address to serve on, TCP and UDP (repeatable; port 0 picks a free port).
    #[arg(long = "listen", value_name = "ADDR:PORT", default_value = "127.0.0.1:7111")]
    listen: Vec<SocketAddr>,
    /// Also serve on this Unix socket path.
    #[arg(long, value_name = "PATH")]
    unix: Option<std::path::PathBuf>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let server =
        Server::builder().register(courier::diag::PROGRAM, courier::diag::VERSION, courier::diag::service()).build();
    let mut endpoints = Vec::new();
    for addr in &args.listen {
        endpoints.push(Endpoint::Tcp(*addr));
        endpoints.push(Endpoint::Udp(*addr));
    }
    endpoints.extend(args.unix.map(Endpoint::Unix));
    let mut listening = Vec::new();
    for endpoint in &endpoints {
        let l = server.listen(endpoint).await.with_context(|| format!("cannot listen on {endpoint}"))?;
        // The bound addresses go to stdout, one per line, for scripts and tests.
        println!("listening on {}", l.endpoint());
        tracing::info!(endpoint = %l.endpoint(), "listening");
        listening.push(l);
    }
    for (prog, vers) in server.registrations() {
        tracing::info!(prog, vers, "serving program");
    }
    shutdown_signal().await?;
    tracing::info!("shutting down");
    drop(listening);
    if let Some(Endpoint::Unix(path)) = endpoints.iter().find(|e| matches!(e, Endpoint::Unix(_))) {
        let _ = std::fs::remove_file(path);
    }
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}
