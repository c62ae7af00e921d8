//! A client of the machine's binder: register a server's programs, look up where a
//! program version is served, and list what is registered — speaking rpcbind version 4,
//! falling back to version 3 and to the port mapper (version 2) with binders that only
//! know those.

use std::net::{IpAddr, SocketAddr};

use courier_xdr::OptionalList;

use super::protocol::{
    self, Mapping, Rpcb, IPPROTO_TCP, IPPROTO_UDP, PMAP_VERSION, PROGRAM, RPCB_VERSION_3, RPCB_VERSION_4,
};
use super::uaddr::{from_endpoint, from_uaddr};
use crate::rpc::{CallError, Client, ClientConfig};
use crate::transport::Endpoint;

/// Which transport a program version is looked up or registered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Transport {
    /// The netid for an address of this family (`tcp`, `udp`, `tcp6`, `udp6`).
    pub fn netid(self, ip: IpAddr) -> &'static str {
        match (self, ip.is_ipv6()) {
            (Transport::Tcp, false) => "tcp",
            (Transport::Udp, false) => "udp",
            (Transport::Tcp, true) => "tcp6",
            (Transport::Udp, true) => "udp6",
        }
    }

    fn ipproto(self) -> u32 {
        match self {
            Transport::Tcp => IPPROTO_TCP,
            Transport::Udp => IPPROTO_UDP,
        }
    }

    /// The endpoint of this transport at `addr`.
    pub fn endpoint(self, addr: SocketAddr) -> Endpoint {
        match self {
            Transport::Tcp => Endpoint::Tcp(addr),
            Transport::Udp => Endpoint::Udp(addr),
        }
    }
}

/// Why a program version could not be located.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocateError {
    /// The binder does not know the program version on that transport.
    #[error("program {prog} version {vers} is not registered for {netid}")]
    NotRegistered {
        /// Program number.
        prog: u32,
        /// Version number.
        vers: u32,
        /// The transport asked for.
        netid: String,
    },
    /// The binder answered an address that does not parse.
    #[error(transparent)]
    BadAddress(#[from] super::uaddr::UaddrError),
    /// The binder could not be asked.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The binder could not be reached.
    #[error("cannot reach the binder at {endpoint}: {source}")]
    Connect {
        /// Where the binder was sought.
        endpoint: Endpoint,
        /// Why it failed.
        source: std::io::Error,
    },
}

/// A client of a binder (rpcbind or the port mapper).
///
/// rpcbind answers GETADDR for the transport the question arrives on, whatever netid
/// it names (as Debian's does), so a program's UDP address is asked over UDP and its TCP
/// address over TCP: [`BinderClient::locate`] looks up the transport of the binder
/// connection itself.
#[derive(Debug, Clone)]
pub struct BinderClient {
    rpc: Client,
    transport: Transport,
    host: IpAddr,
}

impl BinderClient {
    /// Connects to the binder at `endpoint` (TCP or UDP, usually port 111).
    pub async fn connect(endpoint: &Endpoint, config: ClientConfig) -> std::io::Result<Self> {
        let (transport, addr) = ip_endpoint(endpoint).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::Unsupported, "the binder is reached over TCP or UDP")
        })?;
        Ok(BinderClient { rpc: Client::connect(endpoint, config).await?, transport, host: addr.ip() })
    }

    /// Connects to the binder on `host`, port 111, over `transport`.
    pub async fn on_host(host: IpAddr, transport: Transport) -> std::io::Result<Self> {
        BinderClient::connect(&transport.endpoint(SocketAddr::new(host, protocol::PORT)), ClientConfig::default()).await
    }

    /// The RPC client underneath.
    pub fn rpc(&self) -> &Client {
        &self.rpc
    }

    /// Calls an rpcbind procedure with version 4, then 3 if the binder has no version 4.
    async fn rpcb<A: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        proc: u32,
        args: &A,
    ) -> Result<R, CallError> {
        match self.rpc.call(PROGRAM, RPCB_VERSION_4, proc, args).await {
            Err(CallError::ProgMismatch { .. }) => self.rpc.call(PROGRAM, RPCB_VERSION_3, proc, args).await,
            other => other,
        }
    }

    /// Whether the binder speaks rpcbind (versions 3 or 4) rather than only the port mapper.
    fn is_pmap_only(e: &CallError) -> bool {
        matches!(e, CallError::ProgMismatch { high, .. } if *high < RPCB_VERSION_3)
    }

    /// RPCBPROC_SET: registers `entry`; `false` when the binder refuses (already
    /// registered, or not allowed). Falls back to PMAPPROC_SET for IPv4 TCP/UDP entries.
    pub async fn set(&self, entry: &Rpcb) -> Result<bool, CallError> {
        match self.rpcb(protocol::rpcb::SET, entry).await {
            Err(e) if Self::is_pmap_only(&e) => match pmap_mapping(entry) {
                Some(mapping) => self.pmap_set(&mapping).await,
                None => Err(e),
            },
            other => other,
        }
    }

    /// RPCBPROC_UNSET: removes the registrations of `entry`'s program and version for its
    /// netid (every netid when it is empty).
    pub async fn unset(&self, entry: &Rpcb) -> Result<bool, CallError> {
        match self.rpcb(protocol::rpcb::UNSET, entry).await {
            Err(e) if Self::is_pmap_only(&e) => match pmap_mapping(entry) {
                Some(mapping) => self.pmap_unset(&mapping).await,
                None => Err(e),
            },
            other => other,
        }
    }

    /// RPCBPROC_GETADDR: the universal address of a program version on a netid, if any.
    pub async fn getaddr(&self, prog: u32, vers: u32, netid: &str) -> Result<Option<String>, CallError> {
        let query = Rpcb { prog, vers, netid: netid.to_owned(), addr: String::new(), owner: String::new() };
        let addr: String = self.rpcb(protocol::rpcb::GETADDR, &query).await?;
        Ok(if addr.is_empty() { None } else { Some(addr) })
    }

    /// RPCBPROC_DUMP: every registration.
    pub async fn dump(&self) -> Result<Vec<Rpcb>, CallError> {
        let list: OptionalList<Rpcb> = self.rpcb(protocol::rpcb::DUMP, &()).await?;
        Ok(list.0)
    }

    /// PMAPPROC_SET.
    pub async fn pmap_set(&self, mapping: &Mapping) -> Result<bool, CallError> {
        self.rpc.call(PROGRAM, PMAP_VERSION, protocol::pmap::SET, mapping).await
    }

    /// PMAPPROC_UNSET.
    pub async fn pmap_unset(&self, mapping: &Mapping) -> Result<bool, CallError> {
        self.rpc.call(PROGRAM, PMAP_VERSION, protocol::pmap::UNSET, mapping).await
    }

    /// PMAPPROC_GETPORT: the port of a program version, 0 if it is not registered.
    pub async fn pmap_getport(&self, prog: u32, vers: u32, transport: Transport) -> Result<u16, CallError> {
        let query = Mapping { prog, vers, prot: transport.ipproto(), port: 0 };
        let port: u32 = self.rpc.call(PROGRAM, PMAP_VERSION, protocol::pmap::GETPORT, &query).await?;
        Ok(u16::try_from(port).unwrap_or(0))
    }

    /// PMAPPROC_DUMP: every mapping.
    pub async fn pmap_dump(&self) -> Result<Vec<Mapping>, CallError> {
        let list: OptionalList<Mapping> = self.rpc.call(PROGRAM, PMAP_VERSION, protocol::pmap::DUMP, &()).await?;
        Ok(list.0)
    }

    /// Where `prog` version `vers` is served on the binder's host, on the transport this
    /// client reaches the binder by: asks RPCBPROC_GETADDR (v4, then v3), then
    /// PMAPPROC_GETPORT from a port-mapper-only binder.
    pub async fn locate(&self, prog: u32, vers: u32) -> Result<SocketAddr, LocateError> {
        let netid = self.transport.netid(self.host);
        let not_registered = || LocateError::NotRegistered { prog, vers, netid: netid.to_owned() };
        match self.getaddr(prog, vers, netid).await {
            Ok(Some(uaddr)) => {
                let addr = from_uaddr(&uaddr)?;
                // An address registered as "any" means the binder's own host.
                Ok(if addr.ip().is_unspecified() { SocketAddr::new(self.host, addr.port()) } else { addr })
            }
            Ok(None) => Err(not_registered()),
            Err(e) if Self::is_pmap_only(&e) => match self.pmap_getport(prog, vers, self.transport).await? {
                0 => Err(not_registered()),
                port => Ok(SocketAddr::new(self.host, port)),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Registers `prog` version `vers` as served at `endpoint` (TCP, UDP or a local
    /// socket), replacing a registration of the same program, version and netid.
    pub async fn register(&self, prog: u32, vers: u32, endpoint: &Endpoint) -> Result<bool, CallError> {
        let (netid, addr) = from_endpoint(endpoint);
        let entry = Rpcb { prog, vers, netid: netid.to_owned(), addr, owner: "courier".to_owned() };
        let _ = self.unset(&entry).await;
        self.set(&entry).await
    }

    /// Removes the registration of `prog` version `vers` on `endpoint`'s netid.
    pub async fn unregister(&self, prog: u32, vers: u32, endpoint: &Endpoint) -> Result<bool, CallError> {
        let (netid, _) = from_endpoint(endpoint);
        let entry = Rpcb { prog, vers, netid: netid.to_owned(), addr: String::new(), owner: String::new() };
        self.unset(&entry).await
    }
}

fn ip_endpoint(endpoint: &Endpoint) -> Option<(Transport, SocketAddr)> {
    match endpoint {
        Endpoint::Tcp(a) => Some((Transport::Tcp, *a)),
        Endpoint::Udp(a) => Some((Transport::Udp, *a)),
        Endpoint::Unix(_) => None,
    }
}

/// The port mapper form of an IPv4 TCP or UDP registration.
fn pmap_mapping(entry: &Rpcb) -> Option<Mapping> {
    let prot = match entry.netid.as_str() {
        "tcp" => IPPROTO_TCP,
        "udp" => IPPROTO_UDP,
        _ => return None,
    };
    let port = if entry.addr.is_empty() { 0 } else { u32::from(from_uaddr(&entry.addr).ok()?.port()) };
    Some(Mapping { prog: entry.prog, vers: entry.vers, prot, port })
}

impl Client {
    /// Connects to `prog` version `vers` on `host`, finding its port through the host's
    /// binder (rpcbind or the port mapper on port 111, asked over the same transport), as
    /// `clnt_create` does.
    pub async fn connect_via_binder(
        host: IpAddr,
        prog: u32,
        vers: u32,
        transport: Transport,
        config: ClientConfig,
    ) -> Result<Client, LocateError> {
        let binder_endpoint = transport.endpoint(SocketAddr::new(host, protocol::PORT));
        let binder = BinderClient::connect(&binder_endpoint, config.clone())
            .await
            .map_err(|source| LocateError::Connect { endpoint: binder_endpoint.clone(), source })?;
        let addr = binder.locate(prog, vers).await?;
        let endpoint = transport.endpoint(addr);
        Client::connect(&endpoint, config).await.map_err(|source| LocateError::Connect { endpoint, source })
    }
}
