//! Universal addresses (RFC 5665 §5.2.3): how rpcbind writes a transport address as text.
//!
//! An IPv4 address and port 1024 is `127.0.0.1.4.0`: the dotted address, then the port's
//! high and low bytes. An IPv6 address is its usual text form followed the same way
//! (`::1.4.0`). A local (Unix socket) address is the socket's path.

use std::net::{IpAddr, SocketAddr};

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
