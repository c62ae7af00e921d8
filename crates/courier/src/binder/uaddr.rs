//! Universal addresses (RFC 5665 §5.2.3): how rpcbind writes a transport address as text.
//!
//! An IPv4 address and port 1024 is `127.0.0.1.4.0`: the dotted address, then the port's
//! high and low bytes. An IPv6 address is its usual text form followed the same way
//! (`::1.4.0`). A local (Unix socket) address is the socket's path.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::transport::Endpoint;

/// A universal address that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a universal address (RFC 5665: ADDRESS.p1.p2)")]
pub struct UaddrError(pub String);

/// The universal address of an IP socket address.
pub fn to_uaddr(addr: SocketAddr) -> String {
    let port = addr.port();
    format!("{}.{}.{}", addr.ip(), port >> 8, port & 0xff)
}

/// Parses the universal address of an IP socket address (IPv4 or IPv6).
pub fn from_uaddr(uaddr: &str) -> Result<SocketAddr, UaddrError> {
    let err = || UaddrError(uaddr.to_owned());
    let (rest, low) = uaddr.rsplit_once('.').ok_or_else(err)?;
    let (host, high) = rest.rsplit_once('.').ok_or_else(err)?;
    let (high, low): (u8, u8) = (high.parse().map_err(|_| err())?, low.parse().map_err(|_| err())?);
    let ip: IpAddr = host.parse().map_err(|_| err())?;
    Ok(SocketAddr::new(ip, u16::from(high) << 8 | u16::from(low)))
}

/// The endpoint a registration names: its netid (`tcp`, `udp`, `tcp6`, `udp6`, `local`)
/// and universal address.
pub fn to_endpoint(netid: &str, uaddr: &str) -> Result<Endpoint, UaddrError> {
    match netid {
        "tcp" | "tcp6" => from_uaddr(uaddr).map(Endpoint::Tcp),
        "udp" | "udp6" => from_uaddr(uaddr).map(Endpoint::Udp),
        "local" | "unix" if uaddr.starts_with('/') => Ok(Endpoint::Unix(PathBuf::from(uaddr))),
        _ => Err(UaddrError(format!("{netid} {uaddr}"))),
    }
}

/// The netid and universal address of an endpoint, as a registration names it.
pub fn from_endpoint(endpoint: &Endpoint) -> (&'static str, String) {
    match endpoint {
        Endpoint::Tcp(a) => (if a.is_ipv6() { "tcp6" } else { "tcp" }, to_uaddr(*a)),
        Endpoint::Udp(a) => (if a.is_ipv6() { "udp6" } else { "udp" }, to_uaddr(*a)),
        Endpoint::Unix(path) => ("local", path.display().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_rfc_forms_parse_and_print() {
        assert_eq!(to_uaddr("127.0.0.1:111".parse().unwrap()), "127.0.0.1.0.111");
        assert_eq!(to_uaddr("[::1]:1024".parse().unwrap()), "::1.4.0");
        assert_eq!(from_uaddr("192.0.2.7.3.255").unwrap(), "192.0.2.7:1023".parse().unwrap());
        assert_eq!(from_uaddr("fe80::1.0.111").unwrap(), "[fe80::1]:111".parse().unwrap());
        assert_eq!(from_uaddr("0.0.0.0.8.1").unwrap(), "0.0.0.0:2049".parse().unwrap());
        for bad in ["", "127.0.0.1", "127.0.0.1.256.1", "host.1.2", "::1.1", "1.2.3.4.-1.0"] {
            assert!(from_uaddr(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn endpoints_of_every_netid_convert_both_ways() {
        for endpoint in ["tcp://127.0.0.1:111", "udp://[::1]:2049", "unix:///run/rpcbind.sock"] {
            let endpoint: Endpoint = endpoint.parse().unwrap();
            let (netid, uaddr) = from_endpoint(&endpoint);
            assert_eq!(to_endpoint(netid, &uaddr).unwrap(), endpoint);
        }
        assert_eq!(
            from_endpoint(&"unix:///run/rpcbind.sock".parse().unwrap()),
            ("local", "/run/rpcbind.sock".to_owned())
        );
        assert!(to_endpoint("local", "relative").is_err());
        assert!(to_endpoint("sctp", "127.0.0.1.0.1").is_err());
    }

    proptest! {
        #[test]
        fn any_socket_address_round_trips(addr: SocketAddr) {
            let addr = match addr {
                SocketAddr::V6(v6) => SocketAddr::new(IpAddr::V6(*v6.ip()), v6.port()),
                v4 => v4,
            };
            prop_assert_eq!(from_uaddr(&to_uaddr(addr)).unwrap(), addr);
        }
    }
}
