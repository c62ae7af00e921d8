//! The binder as an RPC service: the port mapper (version 2) and rpcbind (versions 3
//! and 4) over one shared [`Table`], for `courier serve --rpcbind`.
//!
//! Served now: NULL, SET, UNSET, GETPORT/GETADDR, DUMP, GETTIME and GETVERSADDR. Not yet:
//! CALLIT/BCAST/INDIRECT, UADDR2TADDR/TADDR2UADDR, GETADDRLIST and GETSTAT, which answer
//! PROC_UNAVAIL.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use courier_xdr::OptionalList;

use super::protocol::{self, pmap, rpcb, Mapping, Rpcb};
use super::table::{Caller, Table};
use crate::rpc::server::BoxFuture;
use crate::rpc::{encode_results, Call, Fault, Outcome, ServerBuilder, Service};
use crate::transport::Peer;

/// The binder's service, shared by its three versions.
#[derive(Debug, Clone)]
pub struct Binder {
    table: Arc<Mutex<Table>>,
}

impl Binder {
    /// A binder over `table`.
    pub fn new(table: Table) -> Self {
        Binder { table: Arc::new(Mutex::new(table)) }
    }

    /// Adds the binder's versions 2, 3 and 4 to a server.
    pub fn serve(self, builder: ServerBuilder) -> ServerBuilder {
        [protocol::PMAP_VERSION, protocol::RPCB_VERSION_3, protocol::RPCB_VERSION_4]
            .into_iter()
            .fold(builder, |b, vers| b.register(protocol::PROGRAM, vers, BinderVersion { binder: self.clone(), vers }))
    }

    /// Registers the binder itself (versions 2, 3 and 4) at its own addresses.
    pub fn register_self(&self, addrs: &[(&str, SocketAddr)]) {
        self.table().add_binder(addrs);
    }

    /// The registrations now.
    pub fn entries(&self) -> Vec<Rpcb> {
        self.table().entries().to_vec()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One version of the binder's program.
struct BinderVersion {
    binder: Binder,
    vers: u32,
}

impl Service for BinderVersion {
    fn call(&self, call: Call) -> BoxFuture<Outcome> {
        let outcome = if self.vers == protocol::PMAP_VERSION { self.pmap(&call) } else { self.rpcb(&call) };
        Box::pin(std::future::ready(outcome))
    }
}

impl BinderVersion {
    fn pmap(&self, call: &Call) -> Outcome {
        let caller = caller(&call.peer);
        match call.header.proc {
            pmap::SET => encode_results(&self.binder.table().pmap_set(&call.args::<Mapping>()?, caller)),
            pmap::UNSET => encode_results(&self.binder.table().pmap_unset(&call.args::<Mapping>()?, caller)),
            pmap::GETPORT => encode_results(&self.binder.table().pmap_getport(&call.args::<Mapping>()?)),
            pmap::DUMP => {
                call.args::<()>()?;
                encode_results(&OptionalList(self.binder.table().pmap_dump()))
            }
            _ => Err(Fault::ProcUnavail),
        }
    }

    fn rpcb(&self, call: &Call) -> Outcome {
        let caller = caller(&call.peer);
        match call.header.proc {
            rpcb::SET => encode_results(&self.binder.table().set(&call.args::<Rpcb>()?, caller)),
            rpcb::UNSET => encode_results(&self.binder.table().unset(&call.args::<Rpcb>()?, caller)),
            rpcb::GETADDR => self.lookup(call, Table::getaddr),
            rpcb::GETVERSADDR if self.vers == protocol::RPCB_VERSION_4 => self.lookup(call, Table::getversaddr),
            rpcb::DUMP => {
                call.args::<()>()?;
                encode_results(&OptionalList(self.binder.entries()))
            }
            rpcb::GETTIME => {
                call.args::<()>()?;
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                encode_results(&u32::try_from(now).unwrap_or(u32::MAX))
            }
            _ => Err(Fault::ProcUnavail),
        }
    }
}

type Lookup = fn(&Table, u32, u32, &str, Option<SocketAddr>) -> Option<String>;

impl BinderVersion {
    /// GETADDR and GETVERSADDR: an empty netid means the transport the call came on; the
    /// answer is "" when nothing is registered.
    fn lookup(&self, call: &Call, lookup: Lookup) -> Outcome {
        let query = call.args::<Rpcb>()?;
        let netid = if query.netid.is_empty() { arrival_netid(&call.peer).to_owned() } else { query.netid };
        let addr = lookup(&self.binder.table(), query.prog, query.vers, &netid, reachable(&call.peer));
        encode_results(&addr.unwrap_or_default())
    }
}

fn caller(peer: &Peer) -> Caller {
    match peer {
        Peer::Tcp(addr) | Peer::Udp(addr) => Caller::from_addr(*addr),
        // A local caller whose credentials are not known: an ordinary user.
        Peer::Unix | Peer::Local => Caller::Loopback(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), u16::MAX)),
    }
}

/// The netid of the transport a request arrived on.
fn arrival_netid(peer: &Peer) -> &'static str {
    match peer {
        Peer::Tcp(a) if a.is_ipv6() => "tcp6",
        Peer::Udp(a) if a.is_ipv6() => "udp6",
        Peer::Udp(_) => "udp",
        _ => "tcp",
    }
}

/// An address of this machine the caller reaches: loopback, of the caller's family.
fn reachable(peer: &Peer) -> Option<SocketAddr> {
    match peer {
        Peer::Tcp(a) | Peer::Udp(a) if a.ip().is_loopback() => Some(SocketAddr::new(
            if a.is_ipv6() { IpAddr::V6(Ipv6Addr::LOCALHOST) } else { IpAddr::V4(Ipv4Addr::LOCALHOST) },
            0,
        )),
        _ => None,
    }
}
