//! `courier ls [HOST[:PORT]]`: what a binder has registered, one line per program, in
//! the layout of `rpcinfo -s`, with program names from `/etc/rpc` and courier's own.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context;
use courier::binder::{protocol, BinderClient};
use courier::rpc::ClientConfig;
use courier::transport::Endpoint;

#[derive(clap::Args)]
pub struct Args {
    /// The binder: HOST or HOST:PORT (default 127.0.0.1, port 111).
    target: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let target = args.target.as_deref().unwrap_or("127.0.0.1");
    let addr = crate::ping::resolve(target, protocol::PORT)?;
    let endpoint = Endpoint::Tcp(addr);
    let binder = BinderClient::connect(&endpoint, ClientConfig::default())
        .await
        .with_context(|| format!("cannot reach the binder at {endpoint}"))?;
    let entries = binder.dump().await.with_context(|| format!("{endpoint}: RPCBPROC_DUMP failed"))?;
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
