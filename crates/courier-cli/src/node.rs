//! Reaching a node: the `--node HOST[:PORT]` (or `COURIER_NODE`) of the client commands,
//! 127.0.0.1:7111 when none is given.

use std::net::SocketAddr;

use anyhow::Context;
use courier::rpc::{Client, ClientConfig};
use courier::transport::Endpoint;

/// The node's address: `node` (HOST or HOST:PORT) or the default.
pub fn address(node: Option<&str>) -> anyhow::Result<SocketAddr> {
    crate::ping::resolve(node.unwrap_or("127.0.0.1"), crate::serve::DEFAULT_PORT)
}

/// A client connected to the node `node` over TCP, and where it is.
pub async fn connect(node: Option<&str>) -> anyhow::Result<(SocketAddr, Client)> {
    let addr = address(node)?;
    let endpoint = Endpoint::Tcp(addr);
    let client = Client::connect(&endpoint, ClientConfig::default())
        .await
        .with_context(|| format!("cannot reach the node at {endpoint}"))?;
    Ok((addr, client))
}
