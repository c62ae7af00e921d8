//! The binder as an RPC service: the port mapper (version 2) and rpcbind (versions 3
//! and 4) over one shared [`Table`], for `courier serve --rpcbind`.
//!
//! Served: every procedure of the three versions — NULL, SET, UNSET, GETPORT/GETADDR,
//! DUMP, CALLIT/BCAST/INDIRECT, GETTIME, UADDR2TADDR/TADDR2UADDR, GETVERSADDR,
//! GETADDRLIST and GETSTAT (with the statistics rpcbind keeps).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use courier_xdr::OptionalList;

use super::protocol::{self, pmap, rpcb, Mapping, Netbuf, PmapCallResult, RmtCallArgs, RmtCallRes, Rpcb};
use super::table::{Caller, Table};
use crate::rpc::server::BoxFuture;
use crate::rpc::{
    encode_results, Call, CallError, CallOptions, Client, ClientConfig, Fault, Outcome, ProcId, ServerBuilder, Service,
};
use crate::sync::lock;
use crate::transport::{Endpoint, Peer};

/// The binder's service, shared by its three versions.
#[derive(Debug, Clone)]
pub struct Binder {
    table: Arc<Mutex<Table>>,
    /// Where registrations are kept across restarts, if anywhere.
    state: Option<Arc<PathBuf>>,
}

impl Binder {
    /// A binder over `table`, keeping nothing across restarts.
    pub fn new(table: Table) -> Self {
        Binder { table: Arc::new(Mutex::new(table)), state: None }
    }

    /// A binder that keeps its registrations in the file `state` (as rpcbind `-w` does):
    /// those in the file are registered again now, and the file is rewritten after each
    /// change. A missing file is an empty one.
    pub fn with_state(state: PathBuf) -> std::io::Result<Self> {
        let mut table = Table::default();
        match std::fs::read(&state) {
            Ok(bytes) => {
                let entries: Vec<Rpcb> = courier_xdr::from_slice(&bytes).map_err(|e| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", state.display()))
                })?;
                table.restore(entries);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(Binder { table: Arc::new(Mutex::new(table)), state: Some(Arc::new(state)) })
    }

    /// Writes the registrations (but the binder's own) to the state file, replacing it
    /// whole (write, sync, rename), so a crash leaves the old file or the new one.
    fn save(&self, table: &Table) {
        let Some(path) = &self.state else { return };
        let entries: Vec<&Rpcb> = table.entries().iter().filter(|e| e.prog != protocol::PROGRAM).collect();
        let result = courier_xdr::to_bytes(&entries).map_err(std::io::Error::other).and_then(|bytes| {
            let tmp = path.with_extension("tmp");
            let mut file = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut file, &bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, path.as_path())
        });
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "cannot save the binder's registrations");
        }
    }

    /// Adds the binder's versions 2, 3 and 4 to a server.
    pub fn serve(self, builder: ServerBuilder) -> ServerBuilder {
        self.serve_versions(builder, &[protocol::PMAP_VERSION, protocol::RPCB_VERSION_3, protocol::RPCB_VERSION_4])
    }

    /// Adds only some of the binder's versions to a server: `&[2]` is an old port
    /// mapper, `&[2, 3]` an rpcbind without version 4.
    pub fn serve_versions(self, builder: ServerBuilder, versions: &[u32]) -> ServerBuilder {
        versions
            .iter()
            .filter(|v| (protocol::PMAP_VERSION..=protocol::RPCB_VERSION_4).contains(v))
            .fold(builder, |b, &vers| b.register(protocol::PROGRAM, vers, BinderVersion { binder: self.clone(), vers }))
    }

    /// Registers the binder itself (versions 2, 3 and 4) at its own addresses, and at
    /// its local socket if it has one.
    pub fn register_self(&self, addrs: &[(&str, SocketAddr)], local: Option<&std::path::Path>) {
        self.table().add_binder(addrs, local);
    }

    /// The registrations now.
    pub fn entries(&self) -> Vec<Rpcb> {
        self.table().entries().to_vec()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        lock(&self.table)
    }
}

/// One version of the binder's program.
struct BinderVersion {
    binder: Binder,
    vers: u32,
}

impl Service for BinderVersion {
    fn saw_null(&self, _call: &Call) {
        self.binder.table().count_call(self.vers, 0);
    }

    fn call(&self, call: Call) -> BoxFuture<Outcome> {
        self.binder.table().count_call(self.vers, call.header.proc);
        let proc = call.header.proc;
        if proc == pmap::CALLIT || (proc == rpcb::INDIRECT && self.vers == protocol::RPCB_VERSION_4) {
            return Box::pin(remote_call(self.binder.clone(), self.vers, call));
        }
        let outcome = if self.vers == protocol::PMAP_VERSION { self.pmap(&call) } else { self.rpcb(&call) };
        Box::pin(std::future::ready(outcome))
    }
}

impl BinderVersion {
    /// After a SET (`unset` false) or UNSET: counts it and, if it changed anything, saves.
    fn changed(&self, table: &mut Table, unset: bool, done: bool) {
        table.count_change(self.vers, unset, done);
        if done {
            self.binder.save(table);
        }
    }

    fn pmap(&self, call: &Call) -> Outcome {
        let caller = caller(&call.peer);
        match call.header.proc {
            pmap::SET => {
                let mut table = self.binder.table();
                let done = table.pmap_set(&call.args::<Mapping>()?, caller);
                self.changed(&mut table, false, done);
                encode_results(&done)
            }
            pmap::UNSET => {
                let mut table = self.binder.table();
                let done = table.pmap_unset(&call.args::<Mapping>()?, caller);
                self.changed(&mut table, true, done);
                encode_results(&done)
            }
            pmap::GETPORT => {
                let query = call.args::<Mapping>()?;
                let mut table = self.binder.table();
                let port = table.pmap_getport(&query);
                let netid = if query.prot == protocol::IPPROTO_UDP { "udp" } else { "tcp" };
                table.count_lookup(self.vers, query.prog, query.vers, netid, port != 0);
                encode_results(&port)
            }
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
            rpcb::SET => {
                let mut table = self.binder.table();
                let done = table.set(&call.args::<Rpcb>()?, caller);
                self.changed(&mut table, false, done);
                encode_results(&done)
            }
            rpcb::UNSET => {
                let mut table = self.binder.table();
                let done = table.unset(&call.args::<Rpcb>()?, caller);
                self.changed(&mut table, true, done);
                encode_results(&done)
            }
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
            rpcb::UADDR2TADDR => encode_results(&uaddr_to_taddr(&call.args::<String>()?)),
            rpcb::TADDR2UADDR => encode_results(&taddr_to_uaddr(&call.args::<Netbuf>()?)),
            rpcb::GETADDRLIST if self.vers == protocol::RPCB_VERSION_4 => {
                let query = call.args::<Rpcb>()?;
                let ipv6 = matches!(&call.peer, Peer::Tcp(a) | Peer::Udp(a) if a.is_ipv6());
                let mut table = self.binder.table();
                let list = table.getaddrlist(query.prog, query.vers, ipv6, reachable(&call.peer));
                // rpcbind counts GETADDRLIST among the lookups, under the caller's netid.
                table.count_lookup(self.vers, query.prog, query.vers, arrival_netid(&call.peer), !list.is_empty());
                encode_results(&OptionalList(list))
            }
            rpcb::GETSTAT if self.vers == protocol::RPCB_VERSION_4 => {
                call.args::<()>()?;
                encode_results(&self.binder.table().stats())
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
        let mut table = self.binder.table();
        let addr = lookup(&table, query.prog, query.vers, &netid, reachable(&call.peer));
        table.count_lookup(self.vers, query.prog, query.vers, &netid, addr.is_some());
        encode_results(&addr.unwrap_or_default())
    }
}

/// CALLIT (version 2, 3), BCAST (version 4) and INDIRECT (version 4): calls a
/// registered program on the caller's behalf, over the transport the call came on, with
/// the caller's credential, and answers with its results and address. CALLIT and BCAST
/// answer only success (they serve broadcasts) and say nothing otherwise; INDIRECT
/// answers the failure. A call to the binder itself is refused, so no call can loop.
async fn remote_call(binder: Binder, vers: u32, call: Call) -> Outcome {
    let indirect = call.header.proc == rpcb::INDIRECT;
    let failed = |fault: Fault| if indirect { fault } else { Fault::Silent };
    let args = call.args::<RmtCallArgs>().map_err(failed)?;
    let netid = arrival_netid(&call.peer);
    let what = (args.prog, args.vers, args.proc);
    if args.prog == protocol::PROGRAM {
        binder.table().count_remote(vers, what, netid, indirect, false);
        return Err(failed(Fault::ProcUnavail));
    }
    let uaddr = binder.table().getaddr(args.prog, args.vers, netid, reachable(&call.peer));
    let target = uaddr.as_deref().map(super::uaddr::from_uaddr);
    let Some(Ok(addr)) = target else {
        binder.table().count_remote(vers, what, netid, indirect, false);
        return Err(failed(Fault::ProgUnavail));
    };
    let endpoint = if netid.starts_with("udp") { Endpoint::Udp(addr) } else { Endpoint::Tcp(addr) };
    let config = ClientConfig { timeout: REMOTE_CALL_TIMEOUT, ..ClientConfig::default() };
    let opts = CallOptions { credential: Some(call.header.cred.clone()), ..CallOptions::default() };
    let proc_id = ProcId { prog: args.prog, vers: args.vers, proc: args.proc };
    let result = match Client::connect(&endpoint, config).await {
        Ok(client) => client.do_operation(proc_id, args.args.into_bytes(), &opts).await.map_err(|e| fault_of(&e)),
        Err(_) => Err(Fault::SystemErr),
    };
    binder.table().count_remote(vers, what, netid, indirect, result.is_ok());
    let results = courier_xdr::Opaque::from(result.map_err(failed)?);
    if vers == protocol::PMAP_VERSION {
        encode_results(&PmapCallResult { port: u32::from(addr.port()), res: results })
    } else {
        encode_results(&RmtCallRes { addr: uaddr.unwrap_or_default(), results })
    }
}

/// How long the binder waits for a program it calls on a caller's behalf.
const REMOTE_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The reply status that passes a failed call's failure on.
fn fault_of(e: &CallError) -> Fault {
    match e {
        CallError::ProgUnavail { .. } => Fault::ProgUnavail,
        CallError::ProgMismatch { low, high, .. } => Fault::ProgMismatch { low: *low, high: *high },
        CallError::ProcUnavail { .. } => Fault::ProcUnavail,
        CallError::GarbageArgs { .. } => Fault::GarbageArgs,
        CallError::Auth { stat, .. } => Fault::Auth(*stat),
        _ => Fault::SystemErr,
    }
}

/// TADDR2UADDR: a `sockaddr_in`/`sockaddr_in6` of this machine (family in the machine's
/// byte order) to a universal address; "" for anything else.
fn taddr_to_uaddr(netbuf: &Netbuf) -> String {
    const AF_INET: u16 = 2;
    const AF_INET6: u16 = 10;
    let b = netbuf.buf.as_ref();
    let family = b.get(..2).map(|f| u16::from_ne_bytes([f[0], f[1]]));
    let port = b.get(2..4).map(|p| u16::from_be_bytes([p[0], p[1]]));
    let addr: Option<SocketAddr> = match (family, port) {
        (Some(AF_INET), Some(port)) => {
            b.get(4..8).map(|a| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])), port))
        }
        (Some(AF_INET6), Some(port)) => b
            .get(8..24)
            .and_then(|a| <[u8; 16]>::try_from(a).ok())
            .map(|a| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a)), port)),
        _ => None,
    };
    addr.map(super::uaddr::to_uaddr).unwrap_or_default()
}

/// UADDR2TADDR: a universal address to a `sockaddr_in`/`sockaddr_in6` of this machine;
/// an empty buffer for one that does not parse.
fn uaddr_to_taddr(uaddr: &str) -> Netbuf {
    let Ok(addr) = super::uaddr::from_uaddr(uaddr) else { return Netbuf::default() };
    let mut buf = Vec::with_capacity(28);
    match addr.ip() {
        IpAddr::V4(ip) => {
            buf.extend_from_slice(&2u16.to_ne_bytes());
            buf.extend_from_slice(&addr.port().to_be_bytes());
            buf.extend_from_slice(&ip.octets());
            buf.extend_from_slice(&[0; 8]);
        }
        IpAddr::V6(ip) => {
            buf.extend_from_slice(&10u16.to_ne_bytes());
            buf.extend_from_slice(&addr.port().to_be_bytes());
            buf.extend_from_slice(&[0; 4]);
            buf.extend_from_slice(&ip.octets());
            buf.extend_from_slice(&[0; 4]);
        }
    }
    // At most 28 bytes, so the length fits.
    Netbuf { maxlen: buf.len() as u32, buf: buf.into() }
}

fn caller(peer: &Peer) -> Caller {
    match peer {
        Peer::Tcp(addr) | Peer::Udp(addr) => Caller::from_addr(*addr),
        Peer::Unix { uid: Some(uid) } => Caller::Local { uid: *uid },
        // A local caller whose credentials are not known: an ordinary user.
        Peer::Unix { uid: None } | Peer::Local => {
            Caller::Loopback(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), u16::MAX))
        }
    }
}

/// The netid of the transport a request arrived on.
fn arrival_netid(peer: &Peer) -> &'static str {
    match peer {
        Peer::Unix { .. } => "local",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_addresses_and_universal_addresses_convert_both_ways() {
        for uaddr in ["127.0.0.1.0.111", "::1.8.1", "192.0.2.9.255.255"] {
            let netbuf = uaddr_to_taddr(uaddr);
            assert!(netbuf.maxlen == 16 || netbuf.maxlen == 28, "{netbuf:?}");
            assert_eq!(taddr_to_uaddr(&netbuf), uaddr);
        }
        assert_eq!(uaddr_to_taddr("nonsense"), Netbuf::default());
        assert_eq!(taddr_to_uaddr(&Netbuf { maxlen: 3, buf: vec![1u8, 2, 3].into() }), "");
    }
}
