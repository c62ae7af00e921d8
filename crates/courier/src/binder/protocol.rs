//! The binder's wire types: the port mapper (program 100000 version 2, RFC 1833 §3) and
//! rpcbind (versions 3 and 4, RFC 1833 §2), as XDR types with their procedure numbers.

use serde::{Deserialize, Serialize};

/// The binder's program number, for every version.
pub const PROGRAM: u32 = 100_000;
/// The port mapper's version (PMAP).
pub const PMAP_VERSION: u32 = 2;
/// rpcbind version 3.
pub const RPCB_VERSION_3: u32 = 3;
/// rpcbind version 4.
pub const RPCB_VERSION_4: u32 = 4;
/// The binder's well-known port.
pub const PORT: u16 = 111;

/// Port mapper procedures (version 2).
pub mod pmap {
    /// Registers a mapping.
    pub const SET: u32 = 1;
    /// Removes a mapping.
    pub const UNSET: u32 = 2;
    /// Looks up a port.
    pub const GETPORT: u32 = 3;
    /// Lists every mapping.
    pub const DUMP: u32 = 4;
    /// Calls a registered program on the caller's behalf.
    pub const CALLIT: u32 = 5;
}

/// rpcbind procedures (versions 3 and 4; the last five are version 4's).
pub mod rpcb {
    /// Registers an address.
    pub const SET: u32 = 1;
    /// Removes an address.
    pub const UNSET: u32 = 2;
    /// Looks up an address.
    pub const GETADDR: u32 = 3;
    /// Lists every registration.
    pub const DUMP: u32 = 4;
    /// Calls a registered program (v3 CALLIT, v4 BCAST).
    pub const CALLIT: u32 = 5;
    /// The binder's time.
    pub const GETTIME: u32 = 6;
    /// Universal address to transport address.
    pub const UADDR2TADDR: u32 = 7;
    /// Transport address to universal address.
    pub const TADDR2UADDR: u32 = 8;
    /// Looks up an address for exactly this version.
    pub const GETVERSADDR: u32 = 9;
    /// Calls a registered program (v4).
    pub const INDIRECT: u32 = 10;
    /// Every address of a program version.
    pub const GETADDRLIST: u32 = 11;
    /// The binder's statistics.
    pub const GETSTAT: u32 = 12;
}

/// IP protocol numbers in port mapper mappings.
pub const IPPROTO_TCP: u32 = 6;
/// IP protocol numbers in port mapper mappings.
pub const IPPROTO_UDP: u32 = 17;

/// A port mapper mapping (`struct mapping`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mapping {
    /// Program number.
    pub prog: u32,
    /// Version number.
    pub vers: u32,
    /// [`IPPROTO_TCP`] or [`IPPROTO_UDP`].
    pub prot: u32,
    /// The port.
    pub port: u32,
}

/// An rpcbind registration (`struct rpcb`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rpcb {
    /// Program number.
    pub prog: u32,
    /// Version number.
    pub vers: u32,
    /// The transport: `tcp`, `udp`, `tcp6`, `udp6`, `local`.
    pub netid: String,
    /// The universal address.
    pub addr: String,
    /// Who registered it (the binder decides, not the caller).
    pub owner: String,
}

/// How many procedures GETSTAT counts per version (`RPCBSTAT_HIGHPROC`).
pub const STAT_PROCS: usize = 13;

/// GETSTAT's lookup counts for one program version on one netid (`rpcbs_addrlist`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct AddrStat {
    /// Program number.
    pub prog: u32,
    /// Version number.
    pub vers: u32,
    /// Lookups that found an address.
    pub success: i32,
    /// Lookups that did not.
    pub failure: i32,
    /// The netid looked up.
    pub netid: String,
}

/// GETSTAT's counts of calls made on callers' behalf (`rpcbs_rmtcalllist`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct RmtStat {
    /// Program number.
    pub prog: u32,
    /// Version number.
    pub vers: u32,
    /// Procedure number.
    pub proc: u32,
    /// Calls that succeeded.
    pub success: i32,
    /// Calls that failed.
    pub failure: i32,
    /// Whether they came through INDIRECT (1) or CALLIT/BCAST (0).
    pub indirect: i32,
    /// The netid.
    pub netid: String,
}

/// GETSTAT's statistics of one version (`rpcb_stat`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionStat {
    /// Calls of each procedure.
    pub info: [i32; STAT_PROCS],
    /// Successful SETs.
    pub setinfo: i32,
    /// Successful UNSETs.
    pub unsetinfo: i32,
    /// Lookups (GETADDR, GETPORT) by program version and netid.
    pub addrinfo: courier_xdr::OptionalList<AddrStat>,
    /// Calls made on callers' behalf.
    pub rmtinfo: courier_xdr::OptionalList<RmtStat>,
}

/// One address of GETADDRLIST's answer (`rpcb_entry`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct RpcbEntry {
    /// The universal address.
    pub maddr: String,
    /// The netid.
    pub nc_netid: String,
    /// The transport's semantics: 1 datagram (CLTS), 3 stream (COTS_ORD).
    pub nc_semantics: u32,
    /// The protocol family: `inet`, `inet6`.
    pub nc_protofmly: String,
    /// The protocol: `tcp`, `udp`.
    pub nc_proto: String,
}

/// A transport address as raw bytes (`struct netbuf`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Netbuf {
    /// The buffer's size at the sender.
    pub maxlen: u32,
    /// The bytes: a `struct sockaddr_in` or `sockaddr_in6` of this machine.
    pub buf: courier_xdr::Opaque,
}

/// The arguments of a call made through the binder: CALLIT, BCAST, INDIRECT
/// (`call_args` of the port mapper, `rpcb_rmtcallargs` of rpcbind: the same bytes).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct RmtCallArgs {
    /// Program number.
    pub prog: u32,
    /// Version number.
    pub vers: u32,
    /// Procedure number.
    pub proc: u32,
    /// The procedure's encoded arguments.
    pub args: courier_xdr::Opaque,
}

/// The port mapper's answer to CALLIT (`call_result`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PmapCallResult {
    /// The port of the program that was called.
    pub port: u32,
    /// Its encoded results.
    pub res: courier_xdr::Opaque,
}

/// rpcbind's answer to CALLIT, BCAST and INDIRECT (`rpcb_rmtcallres`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct RmtCallRes {
    /// The universal address of the program that was called.
    pub addr: String,
    /// Its encoded results.
    pub results: courier_xdr::Opaque,
}
