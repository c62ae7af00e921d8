//! `courier ping HOST[:PORT] PROGRAM [VERSION] [--tcp|--udp]`: calls NULL like
//! `rpcinfo -t/-u`. Without a version it first calls version 0 to learn the range
//! from PROG_MISMATCH, then pings every version in it, as rpcinfo does.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use courier::rpc::{CallError, Client, ClientConfig};
use courier::transport::Endpoint;

#[derive(clap::Args)]
pub struct Args {
    /// The server: HOST or HOST:PORT (default port 7111, courier's).
    target: String,
    /// Program number: decimal, 0x-hex, or `courier-diag`.
    program: String,
    /// Version; without it every version the server offers is pinged.
    version: Option<u32>,
    /// Use TCP (the default).
    #[arg(long, conflicts_with = "udp")]
    tcp: bool,
    /// Use UDP.
    #[arg(long)]
    udp: bool,
    /// Seconds to wait for each reply.
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
}

fn parse_program(s: &str) -> anyhow::Result<u32> {
    if s == "courier-diag" {
        return Ok(courier::diag::PROGRAM);
    }
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.with_context(|| format!("`{s}` is not a program number"))
}

/// HOST:PORT, [V6]:PORT, an address alone, or a name with or without a port.
fn resolve(target: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(addr) = target.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = target.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Ok((ip, crate::serve::DEFAULT_PORT).into());
    }
    let (host, port) = match target.rsplit_once(':') {
        Some((host, port)) => (host, port.parse().with_context(|| format!("`{port}` is not a port"))?),
        None => (target, crate::serve::DEFAULT_PORT),
    };
    (host, port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve `{host}`"))?
        .next()
        .with_context(|| format!("`{host}` has no address"))
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let prog = parse_program(&args.program)?;
    let addr = resolve(&args.target)?;
    let (endpoint, proto) = if args.udp { (Endpoint::Udp(addr), "udp") } else { (Endpoint::Tcp(addr), "tcp") };
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        bail!("--timeout must be a positive number of seconds");
    }
    let config = ClientConfig { timeout: Duration::from_secs_f64(args.timeout), ..ClientConfig::default() };
    let client = Client::connect(&endpoint, config).await.with_context(|| format!("cannot reach {endpoint}"))?;
    let versions = match args.version {
        Some(v) => vec![v],
        None => match client.null(prog, 0).await {
            Err(CallError::ProgMismatch { low, high, .. }) => (low..=high).collect(),
            Ok(()) => vec![0],
            Err(e) => return Ok(report(prog, 0, proto, Err(e))),
        },
    };
    let mut code = ExitCode::SUCCESS;
    for vers in versions {
        if report(prog, vers, proto, client.null(prog, vers).await) != ExitCode::SUCCESS {
            code = ExitCode::FAILURE;
        }
    }
    Ok(code)
}

/// Prints one result the way rpcinfo does, and whether it succeeded.
fn report(prog: u32, vers: u32, proto: &str, result: Result<(), CallError>) -> ExitCode {
    match result {
        Ok(()) => {
            println!("program {prog} version {vers} ready and waiting ({proto})");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let why = match &e {
                CallError::ProgUnavail { .. } => "program not available".to_owned(),
                CallError::ProgMismatch { low, high, .. } => {
                    format!("program/version mismatch; low version = {low}, high version = {high}")
                }
                CallError::Timeout { timeout, .. } => format!("timed out after {timeout:?}"),
                other => other.to_string(),
            };
            println!("program {prog} version {vers} is not available ({proto}): {why}");
            ExitCode::FAILURE
        }
    }
}
