//! `courier ls [HOST[:PORT]]`: what a binder has registered, one line per program, in
//! the layout of `rpcinfo -s`, with program names from `/etc/rpc` and courier's own;
//! `--stale` lists the registrations whose server no longer answers, `--clean` removes
//! them.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context;
use std::time::Duration;

use courier::binder::uaddr::to_endpoint;
use courier::binder::{protocol, BinderClient, Rpcb};
use courier::rpc::{Client, ClientConfig};
use courier::transport::Endpoint;

#[derive(clap::Args)]
pub struct Args {
    /// The binder: HOST or HOST:PORT (default 127.0.0.1, port 111).
    target: Option<String>,
    /// List only registrations whose server does not answer NULL (gone servers).
    #[arg(long)]
    stale: bool,
    /// With --stale: unregister them.
    #[arg(long, requires = "stale")]
    clean: bool,
    /// List the names a node's registry binds to remote objects instead (the target is
    /// then a node: default 127.0.0.1:7111).
    #[arg(long, conflicts_with = "stale")]
    objects: bool,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.objects {
        return crate::lookup::list(args.target.as_deref()).await;
    }
    let target = args.target.as_deref().unwrap_or("127.0.0.1");
    let addr = crate::ping::resolve(target, protocol::PORT)?;
    let endpoint = Endpoint::Tcp(addr);
    let binder = BinderClient::connect(&endpoint, ClientConfig::default())
        .await
        .with_context(|| format!("cannot reach the binder at {endpoint}"))?;
    let entries = binder.dump().await.with_context(|| format!("{endpoint}: RPCBPROC_DUMP failed"))?;
    if args.stale {
        return stale(&binder, entries, args.clean).await;
    }
    // Per program: its versions, netids and owner. rpcinfo -s lists versions and netids
    // newest first (it prepends what it has not seen yet); so does this, line for line.
    let mut programs: BTreeMap<u32, (Vec<u32>, Vec<String>, String)> = BTreeMap::new();
    for entry in entries {
        let (versions, netids, owner) = programs.entry(entry.prog).or_default();
        if !versions.contains(&entry.vers) {
            versions.insert(0, entry.vers);
        }
        if !netids.contains(&entry.netid) {
            netids.insert(0, entry.netid);
        }
        if owner.is_empty() {
            *owner = entry.owner;
        }
    }
    let table = crate::names::etc_rpc();
    println!("   program version(s) netid(s)                         service     owner");
    for (prog, (versions, netids, owner)) in programs {
        let versions = versions.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let service = crate::names::name_of(&table, prog).unwrap_or_else(|| "-".to_owned());
        println!("{prog:>10}  {versions:<10}{:<33}{service:<10}  {owner}", netids.join(","));
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists (and with `clean`, unregisters) the registrations whose server does not answer
/// NULL within a second: the server is gone, its entry left behind.
async fn stale(binder: &BinderClient, entries: Vec<Rpcb>, clean: bool) -> anyhow::Result<ExitCode> {
    println!("{:>10} {:>4} {:<6} {:<28} owner", "program", "vers", "netid", "address");
    let mut code = ExitCode::SUCCESS;
    for entry in entries.into_iter().filter(|e| e.prog != protocol::PROGRAM) {
        if answers(&entry).await {
            continue;
        }
        let cleaned = if clean {
            // rpcbind answers TRUE to an UNSET it does not carry out (another owner's
            // entry): look again.
            let same = |e: &Rpcb| e.prog == entry.prog && e.vers == entry.vers && e.netid == entry.netid;
            let removed =
                binder.unset(&entry).await.is_ok() && binder.dump().await.is_ok_and(|left| !left.iter().any(same));
            if removed {
                " (removed)"
            } else {
                code = ExitCode::FAILURE;
                " (not removed)"
            }
        } else {
            ""
        };
        println!("{:>10} {:>4} {:<6} {:<28} {}{cleaned}", entry.prog, entry.vers, entry.netid, entry.addr, entry.owner);
    }
    Ok(code)
}

/// Whether the server of a registration answers NULL (any reply counts, PROG_MISMATCH
/// included: the server is there).
async fn answers(entry: &Rpcb) -> bool {
    let Ok(endpoint) = to_endpoint(&entry.netid, &entry.addr) else {
        return true; // a transport courier does not speak: not probed
    };
    let config = ClientConfig {
        timeout: Duration::from_secs(1),
        retransmit: Duration::from_millis(250),
        ..ClientConfig::default()
    };
    let Ok(Ok(client)) = tokio::time::timeout(Duration::from_secs(1), Client::connect(&endpoint, config)).await else {
        return false;
    };
    match client.null(entry.prog, entry.vers).await {
        Ok(()) => true,
        Err(e) => !e.is_no_reply(),
    }
}
