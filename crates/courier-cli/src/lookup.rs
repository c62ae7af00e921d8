//! `courier lookup NAME [--node HOST[:PORT]]`: the remote object reference a node's name
//! registry binds to NAME, printed as text (`obj://…`), or an error when the name is not
//! bound; `courier ls --objects` lists every binding.

use std::process::ExitCode;

use anyhow::Context;
use courier::object::RegistryClient;
use courier::transport::Endpoint;

#[derive(clap::Args)]
pub struct Args {
    /// The name to look up.
    name: String,
    /// The node whose registry to ask: HOST or HOST:PORT (default 127.0.0.1:7111).
    #[arg(long, env = "COURIER_NODE")]
    node: Option<String>,
}

/// A client of the registry of `node` (default 127.0.0.1:7111).
pub async fn registry(node: Option<&str>) -> anyhow::Result<(Endpoint, RegistryClient)> {
    let (addr, client) = crate::node::connect(node).await?;
    Ok((Endpoint::Tcp(addr), RegistryClient::new(client)))
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (endpoint, registry) = registry(args.node.as_deref()).await?;
    match registry.lookup(&args.name).await.with_context(|| format!("{endpoint}: lookup failed"))? {
        Some(reference) => {
            println!("{reference}");
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("courier lookup: `{}` is not bound at {endpoint}", args.name);
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `courier ls --objects`: every binding of a node's registry, a line each.
pub async fn list(node: Option<&str>) -> anyhow::Result<ExitCode> {
    let (endpoint, registry) = registry(node).await?;
    let bindings = registry.list().await.with_context(|| format!("{endpoint}: listing the registry failed"))?;
    for binding in bindings {
        println!("{:<32} {}", binding.name.to_string(), binding.reference);
    }
    Ok(ExitCode::SUCCESS)
}
