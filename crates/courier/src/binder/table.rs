//! The binder's registration table, sans-IO: what rpcbind keeps and the rules it keeps
//! it by, as a plain type that the service (`binder::service`) drives.
//!
//! Rules, as Debian's rpcbind applies them:
//! - Only callers on this machine may register or unregister (loopback or a local socket).
//! - The owner of an entry is decided by the binder, not the caller's claim: on the local
//!   socket the caller's user (`superuser` for root, else the uid); over loopback
//!   `superuser` for a caller on a privileged port (below 1024), `unknown` otherwise.
//! - A SET of a program, version and netid registered at another address answers FALSE;
//!   the same SET again answers TRUE.
//! - UNSET removes the entries of the program and version (on one netid, or all when
//!   the netid is empty) that the caller owns; a superuser may remove any. It answers
//!   TRUE to any local caller, whatever it removed.
//! - GETADDR answers the exact version, or else another version of the program on that
//!   netid (so the server can answer PROG_MISMATCH), or nothing.

use std::net::SocketAddr;

use super::protocol::{AddrStat, Mapping, RmtStat, Rpcb, RpcbEntry, VersionStat, IPPROTO_TCP, IPPROTO_UDP};
use super::uaddr::{from_uaddr, to_uaddr};

/// Who is asking, as far as the rules go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A process on this machine, on the binder's local socket, with this user id.
    Local {
        /// Its user id.
        uid: u32,
    },
    /// A caller on this machine at this socket address.
    Loopback(SocketAddr),
    /// A caller elsewhere.
    Remote(SocketAddr),
}

impl Caller {
    /// The caller of a request that came from `addr`.
    pub fn from_addr(addr: SocketAddr) -> Caller {
        if addr.ip().is_loopback() {
            Caller::Loopback(addr)
        } else {
            Caller::Remote(addr)
        }
    }

    /// The owner the binder records for entries this caller registers, if it may
    /// register: on the local socket the user (`superuser` for root, else the uid), over
    /// loopback `superuser` from a privileged port and `unknown` otherwise.
    fn owner(self) -> Option<String> {
        match self {
            Caller::Local { uid: 0 } => Some("superuser".to_owned()),
            Caller::Local { uid } => Some(uid.to_string()),
            Caller::Loopback(addr) if addr.port() < 1024 => Some("superuser".to_owned()),
            Caller::Loopback(_) => Some("unknown".to_owned()),
            Caller::Remote(_) => None,
        }
    }
}

/// The registrations, in the order they were made, and the statistics GETSTAT reports.
#[derive(Debug, Clone, Default)]
pub struct Table {
    entries: Vec<Rpcb>,
    /// Per version of the binder (2, 3, 4).
    stats: [VersionStat; 3],
}

/// The index of a binder version in the statistics (`RPCBVERS_2_STAT` …).
fn stat_index(vers: u32) -> usize {
    (vers.clamp(2, 4) - 2) as usize
}

impl Table {
    /// Adds the binder's own registrations at `addrs` (netid and address of each of its
    /// sockets) and at its local socket, for versions 4, 3 and 2, owned by the superuser —
    /// in the order rpcbind lists its own (IPv6 before IPv4, TCP before UDP, the local
    /// socket last; the newest version first), so that `rpcinfo` prints the same.
    pub fn add_binder(&mut self, addrs: &[(&str, SocketAddr)], local: Option<&std::path::Path>) {
        let mut all: Vec<(String, String)> = addrs
            .iter()
            .map(|(netid, addr)| ((*netid).to_owned(), to_uaddr(*addr)))
            .chain(local.map(|path| ("local".to_owned(), path.display().to_string())))
            .collect();
        let rank = |netid: &str| ["tcp6", "udp6", "tcp", "udp", "local"].iter().position(|n| *n == netid).unwrap_or(5);
        all.sort_by_key(|(netid, _)| rank(netid));
        for (netid, addr) in &all {
            for vers in [4, 3, 2] {
                self.entries.push(Rpcb {
                    prog: super::protocol::PROGRAM,
                    vers,
                    netid: netid.clone(),
                    addr: addr.clone(),
                    owner: "superuser".to_owned(),
                });
            }
        }
    }

    /// Takes back registrations kept from an earlier run, as they were (owners included).
    pub fn restore(&mut self, entries: Vec<Rpcb>) {
        for entry in entries {
            if !self.entries.iter().any(|e| e.prog == entry.prog && e.vers == entry.vers && e.netid == entry.netid) {
                self.entries.push(entry);
            }
        }
    }

    /// Every registration.
    pub fn entries(&self) -> &[Rpcb] {
        &self.entries
    }

    /// Counts a call of procedure `proc` of binder version `vers`.
    pub fn count_call(&mut self, vers: u32, proc: u32) {
        if let Some(n) = self.stats[stat_index(vers)].info.get_mut(proc as usize) {
            *n = n.saturating_add(1);
        }
    }

    /// Counts the outcome of a SET (`unset` false) or UNSET through version `vers`.
    pub fn count_change(&mut self, vers: u32, unset: bool, done: bool) {
        let stats = &mut self.stats[stat_index(vers)];
        if done {
            let n = if unset { &mut stats.unsetinfo } else { &mut stats.setinfo };
            *n = n.saturating_add(1);
        }
    }

    /// Counts a lookup (GETADDR, GETPORT …) through version `vers`.
    pub fn count_lookup(&mut self, vers: u32, prog: u32, looked_up: u32, netid: &str, found: bool) {
        let list = &mut self.stats[stat_index(vers)].addrinfo.0;
        let stat = match list.iter_mut().position(|s| s.prog == prog && s.vers == looked_up && s.netid == netid) {
            Some(i) => &mut list[i],
            None => {
                // rpcbind keeps the newest first.
                list.insert(0, AddrStat { prog, vers: looked_up, success: 0, failure: 0, netid: netid.to_owned() });
                &mut list[0]
            }
        };
        let n = if found { &mut stat.success } else { &mut stat.failure };
        *n = n.saturating_add(1);
    }

    /// Counts a call made on a caller's behalf (CALLIT, BCAST, INDIRECT) through `vers`.
    pub fn count_remote(&mut self, vers: u32, call: (u32, u32, u32), netid: &str, indirect: bool, ok: bool) {
        let (prog, rvers, proc) = call;
        let indirect = i32::from(indirect);
        let list = &mut self.stats[stat_index(vers)].rmtinfo.0;
        let same = |s: &RmtStat| {
            s.prog == prog && s.vers == rvers && s.proc == proc && s.netid == netid && s.indirect == indirect
        };
        let stat = match list.iter().position(same) {
            Some(i) => &mut list[i],
            None => {
                list.push(RmtStat {
                    prog,
                    vers: rvers,
                    proc,
                    success: 0,
                    failure: 0,
                    indirect,
                    netid: netid.to_owned(),
                });
                let last = list.len() - 1;
                &mut list[last]
            }
        };
        let n = if ok { &mut stat.success } else { &mut stat.failure };
        *n = n.saturating_add(1);
    }

    /// GETSTAT: the statistics of versions 2, 3 and 4.
    pub fn stats(&self) -> [VersionStat; 3] {
        self.stats.clone()
    }

    /// RPCBPROC_GETADDRLIST: every address of `prog` version `vers` in the caller's
    /// family (`inet6` callers get IPv6 ones), "any" given as `reachable`.
    pub fn getaddrlist(&self, prog: u32, vers: u32, ipv6: bool, reachable: Option<SocketAddr>) -> Vec<RpcbEntry> {
        self.entries
            .iter()
            .filter(|e| e.prog == prog && e.vers == vers)
            .filter_map(|e| {
                let (proto, semantics) = match e.netid.trim_end_matches('6') {
                    "tcp" => ("tcp", 3),
                    "udp" => ("udp", 1),
                    _ => return None,
                };
                let family_v6 = e.netid.ends_with('6');
                (family_v6 == ipv6).then(|| RpcbEntry {
                    maddr: reachable_uaddr(&e.addr, reachable),
                    nc_netid: e.netid.clone(),
                    nc_semantics: semantics,
                    nc_protofmly: if family_v6 { "inet6" } else { "inet" }.to_owned(),
                    nc_proto: proto.to_owned(),
                })
            })
            .collect()
    }

    /// RPCBPROC_SET.
    pub fn set(&mut self, entry: &Rpcb, caller: Caller) -> bool {
        let Some(owner) = caller.owner() else { return false };
        if entry.netid.is_empty() || entry.addr.is_empty() {
            return false;
        }
        match self.entries.iter().find(|e| e.prog == entry.prog && e.vers == entry.vers && e.netid == entry.netid) {
            Some(existing) => existing.addr == entry.addr,
            None => {
                self.entries.push(Rpcb { owner, ..entry.clone() });
                true
            }
        }
    }

    /// RPCBPROC_UNSET: answers TRUE to any caller on this machine, whether or not there
    /// was anything (of its own) to remove, as rpcbind does.
    pub fn unset(&mut self, entry: &Rpcb, caller: Caller) -> bool {
        let Some(owner) = caller.owner() else { return false };
        let matches = |e: &Rpcb| {
            e.prog == entry.prog && e.vers == entry.vers && (entry.netid.is_empty() || e.netid == entry.netid)
        };
        self.entries.retain(|e| !(matches(e) && (owner == "superuser" || e.owner == owner)));
        true
    }

    /// RPCBPROC_GETADDR: the address of `prog` version `vers` on `netid`, or of another
    /// version of it; an address registered as "any" is given as `reachable` (the
    /// address the caller reached the binder at), with the registered port.
    pub fn getaddr(&self, prog: u32, vers: u32, netid: &str, reachable: Option<SocketAddr>) -> Option<String> {
        let on_netid = |e: &&Rpcb| e.prog == prog && e.netid == netid;
        let entry = self
            .entries
            .iter()
            .filter(on_netid)
            .find(|e| e.vers == vers)
            .or_else(|| self.entries.iter().find(on_netid))?;
        Some(reachable_uaddr(&entry.addr, reachable))
    }

    /// RPCBPROC_GETVERSADDR: the address of exactly `prog` version `vers` on `netid`.
    pub fn getversaddr(&self, prog: u32, vers: u32, netid: &str, reachable: Option<SocketAddr>) -> Option<String> {
        let entry = self.entries.iter().find(|e| e.prog == prog && e.vers == vers && e.netid == netid)?;
        Some(reachable_uaddr(&entry.addr, reachable))
    }

    /// PMAPPROC_SET: an IPv4 TCP or UDP registration in port mapper form.
    pub fn pmap_set(&mut self, mapping: &Mapping, caller: Caller) -> bool {
        match pmap_entry(mapping) {
            Some(entry) => self.set(&entry, caller),
            None => false,
        }
    }

    /// PMAPPROC_UNSET: removes the program version on IPv4 TCP and UDP.
    pub fn pmap_unset(&mut self, mapping: &Mapping, caller: Caller) -> bool {
        let mut found = false;
        for netid in ["tcp", "udp"] {
            let entry = Rpcb {
                prog: mapping.prog,
                vers: mapping.vers,
                netid: netid.into(),
                addr: String::new(),
                owner: String::new(),
            };
            found |= self.unset(&entry, caller);
        }
        found
    }

    /// PMAPPROC_GETPORT: the port of the program version on IPv4 TCP or UDP, 0 if none.
    pub fn pmap_getport(&self, mapping: &Mapping) -> u32 {
        let netid = match mapping.prot {
            IPPROTO_TCP => "tcp",
            IPPROTO_UDP => "udp",
            _ => return 0,
        };
        self.getaddr(mapping.prog, mapping.vers, netid, None)
            .and_then(|uaddr| from_uaddr(&uaddr).ok())
            .map_or(0, |addr| u32::from(addr.port()))
    }

    /// PMAPPROC_DUMP: the IPv4 TCP and UDP registrations in port mapper form.
    pub fn pmap_dump(&self) -> Vec<Mapping> {
        self.entries
            .iter()
            .filter_map(|e| {
                let prot = match e.netid.as_str() {
                    "tcp" => IPPROTO_TCP,
                    "udp" => IPPROTO_UDP,
                    _ => return None,
                };
                let port = from_uaddr(&e.addr).ok()?.port();
                Some(Mapping { prog: e.prog, vers: e.vers, prot, port: u32::from(port) })
            })
            .collect()
    }
}

/// A registered address as the caller can reach it: "any" becomes the address the
/// caller reached the binder at.
fn reachable_uaddr(uaddr: &str, reachable: Option<SocketAddr>) -> String {
    match (from_uaddr(uaddr), reachable) {
        (Ok(addr), Some(here)) if addr.ip().is_unspecified() => to_uaddr(SocketAddr::new(here.ip(), addr.port())),
        _ => uaddr.to_owned(),
    }
}

fn pmap_entry(mapping: &Mapping) -> Option<Rpcb> {
    let netid = match mapping.prot {
        IPPROTO_TCP => "tcp",
        IPPROTO_UDP => "udp",
        _ => return None,
    };
    let port = u16::try_from(mapping.port).ok()?;
    Some(Rpcb {
        prog: mapping.prog,
        vers: mapping.vers,
        netid: netid.to_owned(),
        addr: to_uaddr(SocketAddr::from(([0, 0, 0, 0], port))),
        owner: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rpcb(prog: u32, vers: u32, netid: &str, addr: &str) -> Rpcb {
        Rpcb { prog, vers, netid: netid.into(), addr: addr.into(), owner: "claimed".into() }
    }

    const USER: Caller = Caller::Loopback(SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000));
    const ROOT: Caller = Caller::Loopback(SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 700));

    #[test]
    fn set_follows_rpcbind_rules() {
        let mut t = Table::default();
        assert!(t.set(&rpcb(9, 1, "tcp", "127.0.0.1.4.0"), USER));
        assert_eq!(t.entries()[0].owner, "unknown", "the binder decides the owner");
        assert!(t.set(&rpcb(9, 1, "tcp", "127.0.0.1.4.0"), USER), "the same SET again");
        assert!(!t.set(&rpcb(9, 1, "tcp", "127.0.0.1.4.1"), USER), "another address");
        let remote = Caller::from_addr("192.0.2.1:999".parse().unwrap());
        assert!(!t.set(&rpcb(9, 2, "tcp", "127.0.0.1.4.0"), remote), "not from elsewhere");
    }

    #[test]
    fn local_socket_callers_own_their_entries_by_uid() {
        let mut t = Table::default();
        assert!(t.set(&rpcb(9, 1, "tcp", "127.0.0.1.4.0"), Caller::Local { uid: 1000 }));
        assert!(t.set(&rpcb(9, 2, "tcp", "127.0.0.1.4.0"), Caller::Local { uid: 0 }));
        assert_eq!(t.entries()[0].owner, "1000");
        assert_eq!(t.entries()[1].owner, "superuser");
        assert!(t.unset(&rpcb(9, 2, "", ""), Caller::Local { uid: 1000 }));
        assert_eq!(t.entries().len(), 2, "another user's entry stays");
        assert!(t.unset(&rpcb(9, 1, "", ""), Caller::Local { uid: 1000 }));
        assert_eq!(t.entries().len(), 1);
    }

    #[test]
    fn only_the_owner_or_a_superuser_unsets() {
        let mut t = Table::default();
        assert!(t.set(&rpcb(9, 1, "tcp", "127.0.0.1.4.0"), ROOT));
        assert!(t.unset(&rpcb(9, 1, "", ""), USER), "answers TRUE…");
        assert_eq!(t.entries().len(), 1, "…and removes nothing");
        assert!(t.unset(&rpcb(9, 1, "", ""), ROOT));
        assert!(t.entries().is_empty());
        assert!(t.unset(&rpcb(9, 1, "", ""), ROOT), "TRUE even with nothing left");
        let remote = Caller::from_addr("192.0.2.1:999".parse().unwrap());
        assert!(!t.unset(&rpcb(9, 1, "", ""), remote), "not from elsewhere");
    }

    #[test]
    fn getaddr_falls_back_to_another_version_and_rewrites_any() {
        let mut t = Table::default();
        assert!(t.set(&rpcb(9, 2, "udp", "0.0.0.0.8.1"), USER));
        let here = Some("127.0.0.1:111".parse().unwrap());
        assert_eq!(t.getaddr(9, 2, "udp", here).as_deref(), Some("127.0.0.1.8.1"));
        assert_eq!(t.getaddr(9, 5, "udp", None).as_deref(), Some("0.0.0.0.8.1"), "another version");
        assert_eq!(t.getversaddr(9, 5, "udp", None), None, "GETVERSADDR is exact");
        assert_eq!(t.getaddr(9, 2, "tcp", None), None);
        assert_eq!(t.pmap_getport(&Mapping { prog: 9, vers: 2, prot: IPPROTO_UDP, port: 0 }), 2049);
    }

    #[test]
    fn the_port_mapper_sees_ipv4_tcp_and_udp() {
        let mut t = Table::default();
        assert!(t.pmap_set(&Mapping { prog: 7, vers: 1, prot: IPPROTO_TCP, port: 1234 }, USER));
        assert!(t.set(&rpcb(7, 1, "tcp6", "::1.4.210"), USER));
        assert_eq!(t.pmap_dump(), vec![Mapping { prog: 7, vers: 1, prot: IPPROTO_TCP, port: 1234 }]);
        assert!(t.pmap_unset(&Mapping { prog: 7, vers: 1, prot: 0, port: 0 }, USER));
        assert_eq!(t.entries().len(), 1, "the tcp6 entry stays");
    }
}
