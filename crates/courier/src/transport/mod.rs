//! Transports: how RPC messages travel — TCP and Unix stream sockets with record marking,
//! UDP with one message per datagram — over IPv4 and IPv6.
//!
//! This module names endpoints ([`Endpoint`], parsed from `tcp://127.0.0.1:7111`,
//! `udp://[::1]:7111`, `unix:///run/x.sock`), identifies peers ([`Peer`]), and holds the
//! stream writer shared by clients and servers, which coalesces queued messages into as
//! few system calls as it can. Message framing lives in [`record`].

pub mod record;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;

/// Where an RPC server listens or a client connects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// TCP with record marking.
    Tcp(SocketAddr),
    /// UDP, one message per datagram.
    Udp(SocketAddr),
    /// A Unix stream socket with record marking.
    Unix(PathBuf),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(a) => write!(f, "tcp://{a}"),
            Endpoint::Udp(a) => write!(f, "udp://{a}"),
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
        }
    }
}

/// An endpoint string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid endpoint `{0}`: expected tcp://HOST:PORT, udp://HOST:PORT or unix://PATH")]
pub struct EndpointParseError(String);

impl FromStr for Endpoint {
    type Err = EndpointParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || EndpointParseError(s.to_owned());
        let (scheme, rest) = s.split_once("://").ok_or_else(err)?;
        match scheme {
            "tcp" => rest.parse().map(Endpoint::Tcp).map_err(|_| err()),
            "udp" => rest.parse().map(Endpoint::Udp).map_err(|_| err()),
            "unix" if !rest.is_empty() => Ok(Endpoint::Unix(PathBuf::from(rest))),
            _ => Err(err()),
        }
    }
}

/// Who sent a call, as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Peer {
    /// A TCP client at this address.
    Tcp(SocketAddr),
    /// A UDP client at this address.
    Udp(SocketAddr),
    /// A client on a Unix socket, with its user id when the kernel tells it.
    Unix {
        /// The client process's user id (SO_PEERCRED).
        uid: Option<u32>,
    },
    /// A caller inside the same process (tests, embedding).
    Local,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Tcp(a) => write!(f, "tcp://{a}"),
            Peer::Udp(a) => write!(f, "udp://{a}"),
            Peer::Unix { uid: Some(uid) } => write!(f, "unix (uid {uid})"),
            Peer::Unix { uid: None } => f.write_str("unix"),
            Peer::Local => f.write_str("local"),
        }
    }
}

/// One message for a stream writer: a head (record header, RPC header and perhaps the
/// encoded body) and an optional body that was encoded elsewhere, written after it
/// without being copied into the head.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub head: Bytes,
    pub body: Bytes,
}

/// Writes queued messages to a stream until every sender is gone. Messages that are
/// already queued go out together in one flush, so many small replies share a system
/// call; large bodies bypass the buffer.
pub(crate) async fn write_loop<W: AsyncWrite + Unpin>(stream: W, mut rx: mpsc::Receiver<Outgoing>) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(64 * 1024, stream);
    while let Some(msg) = rx.recv().await {
        out.write_all(&msg.head).await?;
        out.write_all(&msg.body).await?;
        while let Ok(msg) = rx.try_recv() {
            out.write_all(&msg.head).await?;
            out.write_all(&msg.body).await?;
        }
        out.flush().await?;
    }
    out.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_and_print() {
        for s in ["tcp://127.0.0.1:7111", "udp://[::1]:0", "unix:///tmp/courier.sock"] {
            assert_eq!(s.parse::<Endpoint>().unwrap().to_string(), s);
        }
        assert!("127.0.0.1:1".parse::<Endpoint>().is_err());
        assert!("sctp://127.0.0.1:1".parse::<Endpoint>().is_err());
        assert!("unix://".parse::<Endpoint>().is_err());
    }
}
