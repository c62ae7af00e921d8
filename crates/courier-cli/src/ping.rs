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
    /// Program: a number (decimal or 0x-hex), `courier-diag`, or a name from /etc/rpc.
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

/// A program number: decimal, 0x-hex, `courier-diag`, or a name (or alias) from
/// `/etc/rpc`, as rpcinfo accepts.
pub fn parse_program(s: &str) -> anyhow::Result<u32> {
    if s == "courier-diag" {
        return Ok(courier::diag::PROGRAM);
    }
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    };
    parsed
        .or_else(|| crate::names::number_of(&crate::names::etc_rpc(), s))
        .with_context(|| format!("`{s}` is not a program number, nor a name in /etc/rpc"))
}

/// HOST:PORT, [V6]:PORT, an address alone, or a name with or without a port; the port
/// defaults to `default_port`.
pub fn resolve(target: &str, default_port: u16) -> anyhow::Result<SocketAddr> {
    if let Ok(addr) = target.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = target.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Ok((ip, default_port).into());
    }
    let (host, port) = match target.rsplit_once(':') {
        Some((host, port)) => (host, port.parse().with_context(|| format!("`{port}` is not a port"))?),
        None => (target, default_port),
    };
    (host, port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve `{host}`"))?
        .next()
        .with_context(|| format!("`{host}` has no address"))
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let prog = parse_program(&args.program)?;
    let addr = resolve(&args.target, crate::serve::DEFAULT_PORT)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_numbers_or_names() {
        assert_eq!(parse_program("100003").unwrap(), 100_003);
        assert_eq!(parse_program("0x20435201").unwrap(), courier::diag::PROGRAM);
        assert_eq!(parse_program("courier-diag").unwrap(), courier::diag::PROGRAM);
        assert!(parse_program("no-such-program-anywhere").is_err());
    }

    #[test]
    fn targets_take_the_default_port_when_none_is_given() {
        assert_eq!(resolve("127.0.0.1", 7111).unwrap(), "127.0.0.1:7111".parse().unwrap());
        assert_eq!(resolve("127.0.0.1:9", 7111).unwrap(), "127.0.0.1:9".parse().unwrap());
        assert_eq!(resolve("::1", 7111).unwrap(), "[::1]:7111".parse().unwrap());
        assert_eq!(resolve("[::1]:9", 7111).unwrap(), "[::1]:9".parse().unwrap());
        assert_eq!(resolve("localhost:9", 7111).unwrap().port(), 9);
    }
}
