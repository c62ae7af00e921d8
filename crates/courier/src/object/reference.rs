//! The remote object reference (the seeds' "referência de objeto remoto"): an identifier
//! that names one remote object throughout a distributed system.
//!
//! Its fields are the seeds': the internet address and port of the server that holds
//! the object, the *time* — here the server's incarnation ([`crate::rpc::Server::incarnation`]),
//! random per server process, so that a reference to an object of a server that has
//! since restarted is detectably stale — the object's number in that server, and its
//! interface (ONC RPC program and version).
//!
//! As text (for logs, the command line and copy-paste) a reference reads
//!
//! ```text
//! obj://127.0.0.1:7111/0x20005050.1/42@9f86d081884c7d65
//! obj://[::1]:7111/0x20005050.1/42@9f86d081884c7d65
//! ```
//!
//! that is `obj://ADDRESS:PORT/PROGRAM.VERSION/OBJECT@INCARNATION`, the program in hex,
//! the incarnation in 16 hex digits. On the wire it is the XDR structure
//!
//! ```c
//! struct object_ref {
//!     string uaddr<64>;            /* RFC 5665 universal address: 127.0.0.1.27.199 */
//!     unsigned hyper incarnation;
//!     unsigned hyper object;
//!     unsigned int prog;           /* the interface: program number */
//!     unsigned int vers;           /* and version */
//! };
//! ```
//!
//! so a C program built with rpcgen can carry references too (`program` and `version`
//! are keywords of the RPC language, hence `prog` and `vers`).

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use courier_xdr::BoundedString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::binder::uaddr;

/// The longest universal address on the wire: an IPv6 address, its port, and room.
pub const MAX_UADDR: u32 = 64;

/// A remote object reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    /// Where the object's server listens (TCP and UDP share the port on a courier node).
    pub addr: SocketAddr,
    /// The incarnation of the server that made the reference.
    pub incarnation: u64,
    /// The object's number in that server.
    pub object: u64,
    /// The object's interface: ONC RPC program number.
    pub program: u32,
    /// The object's interface: program version.
    pub version: u32,
}

/// A reference in text that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an object reference ({why}); expected obj://ADDRESS:PORT/PROGRAM.VERSION/OBJECT@INCARNATION")]
pub struct ObjectRefError {
    text: String,
    why: &'static str,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "obj://{}/{:#x}.{}/{}@{:016x}", self.addr, self.program, self.version, self.object, self.incarnation)
    }
}

impl FromStr for ObjectRef {
    type Err = ObjectRefError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |why| ObjectRefError { text: text.to_owned(), why };
        let rest = text.strip_prefix("obj://").ok_or_else(|| err("no obj:// scheme"))?;
        let mut parts = rest.splitn(3, '/');
        let (Some(addr), Some(interface), Some(object)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(err("missing parts"));
        };
        let addr: SocketAddr = addr.parse().map_err(|_| err("bad ADDRESS:PORT"))?;
        let (program, version) = interface.split_once('.').ok_or_else(|| err("no PROGRAM.VERSION"))?;
        let program = parse_number(program).ok_or_else(|| err("bad program number"))?;
        let version = version.parse().map_err(|_| err("bad version number"))?;
        let (object, incarnation) = object.split_once('@').ok_or_else(|| err("no @INCARNATION"))?;
        let object = object.parse().map_err(|_| err("bad object number"))?;
        let incarnation = u64::from_str_radix(incarnation, 16).map_err(|_| err("bad incarnation"))?;
        Ok(ObjectRef { addr, incarnation, object, program, version })
    }
}

/// A program number, in hex with `0x` or in decimal.
fn parse_number(text: &str) -> Option<u32> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// The XDR shape of a reference.
#[derive(Serialize, Deserialize)]
struct Wire {
    uaddr: BoundedString<MAX_UADDR>,
    incarnation: u64,
    object: u64,
    program: u32,
    version: u32,
}

impl Serialize for ObjectRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let uaddr = BoundedString::new(uaddr::to_uaddr(self.addr)).map_err(serde::ser::Error::custom)?;
        let wire = Wire {
            uaddr,
            incarnation: self.incarnation,
            object: self.object,
            program: self.program,
            version: self.version,
        };
        wire.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ObjectRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = Wire::deserialize(deserializer)?;
        let addr = uaddr::from_uaddr(&wire.uaddr).map_err(serde::de::Error::custom)?;
        Ok(ObjectRef {
            addr,
            incarnation: wire.incarnation,
            object: wire.object,
            program: wire.program,
            version: wire.version,
        })
    }
}

impl courier_xdr::schema::XdrType for ObjectRef {
    fn xdr_declaration(name: &str, defs: &mut courier_xdr::schema::XdrDefinitions) -> String {
        defs.define("object_ref", |_| {
            format!(
                "struct object_ref {{\n    string uaddr<{MAX_UADDR}>;\n    unsigned hyper incarnation;\n    \
                 unsigned hyper object;\n    unsigned int prog;\n    unsigned int vers;\n}};"
            )
        });
        format!("object_ref {name}")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn sample() -> ObjectRef {
        ObjectRef {
            addr: "127.0.0.1:7111".parse().unwrap(),
            incarnation: 0x9f86_d081_884c_7d65,
            object: 42,
            program: 0x2000_5050,
            version: 1,
        }
    }

    #[test]
    fn text_round_trips() {
        let r = sample();
        assert_eq!(r.to_string(), "obj://127.0.0.1:7111/0x20005050.1/42@9f86d081884c7d65");
        assert_eq!(r.to_string().parse::<ObjectRef>().unwrap(), r);
        let v6 = ObjectRef { addr: "[::1]:7111".parse().unwrap(), incarnation: 1, ..r };
        assert_eq!(v6.to_string(), "obj://[::1]:7111/0x20005050.1/42@0000000000000001");
        assert_eq!(v6.to_string().parse::<ObjectRef>().unwrap(), v6);
        assert_eq!("obj://127.0.0.1:7111/536891472.1/42@9f86d081884c7d65".parse::<ObjectRef>().unwrap(), r);
    }

    #[test]
    fn bad_text_says_what_is_wrong() {
        for (text, why) in [
            ("http://127.0.0.1:1/0x1.1/1@1", "no obj:// scheme"),
            ("obj://127.0.0.1:1/0x1.1", "missing parts"),
            ("obj://localhost:1/0x1.1/1@1", "bad ADDRESS:PORT"),
            ("obj://127.0.0.1:1/0x1/1@1", "no PROGRAM.VERSION"),
            ("obj://127.0.0.1:1/0xg.1/1@1", "bad program number"),
            ("obj://127.0.0.1:1/0x1.one/1@1", "bad version number"),
            ("obj://127.0.0.1:1/0x1.1/1", "no @INCARNATION"),
            ("obj://127.0.0.1:1/0x1.1/-1@1", "bad object number"),
            ("obj://127.0.0.1:1/0x1.1/1@xyz", "bad incarnation"),
        ] {
            let err = text.parse::<ObjectRef>().unwrap_err();
            assert_eq!(err.why, why, "{text}");
            assert!(err.to_string().contains(text));
        }
    }

    #[test]
    fn xdr_is_the_documented_structure() {
        let r = sample();
        let bytes = courier_xdr::to_bytes(&r).unwrap();
        let mut expected = Vec::new();
        let uaddr = b"127.0.0.1.27.199";
        expected.extend_from_slice(&(uaddr.len() as u32).to_be_bytes());
        expected.extend_from_slice(uaddr);
        expected.extend_from_slice(&0x9f86_d081_884c_7d65u64.to_be_bytes());
        expected.extend_from_slice(&42u64.to_be_bytes());
        expected.extend_from_slice(&0x2000_5050u32.to_be_bytes());
        expected.extend_from_slice(&1u32.to_be_bytes());
        assert_eq!(&bytes[..], &expected[..]);
        assert_eq!(courier_xdr::from_bytes::<ObjectRef>(bytes).unwrap(), r);
        let v6 = ObjectRef { addr: "[fe80::1:2:3:4]:65535".parse().unwrap(), ..r };
        assert_eq!(courier_xdr::from_bytes::<ObjectRef>(courier_xdr::to_bytes(&v6).unwrap()).unwrap(), v6);
    }

    #[test]
    fn the_rpc_language_definition_is_the_documented_structure() {
        use courier_xdr::schema::{XdrDefinitions, XdrType};
        let mut defs = XdrDefinitions::new();
        assert_eq!(ObjectRef::xdr_type_name(&mut defs), "object_ref");
        let text = defs.to_text();
        let documented: String = include_str!("reference.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//! "))
            .skip_while(|l| !l.starts_with("struct"))
            .take(7)
            .map(|l| format!("{}\n", l.split(" /*").next().unwrap_or(l).trim_end()))
            .collect();
        assert_eq!(text.trim(), documented.trim());
        let x = format!("{text}program P {{ version V {{ object_ref ECHO(object_ref) = 1; }} = 1; }} = 0x20006400;\n");
        let source = courier_idl::Source::from_text("object_ref.x", &x);
        courier_idl::check_source(&source).unwrap_or_else(|e| panic!("courier-idl rejects it:\n{e}\n{x}"));
    }

    #[test]
    fn a_bad_address_on_the_wire_is_an_error() {
        let wire = Wire {
            uaddr: BoundedString::new("not-an-address").unwrap(),
            incarnation: 1,
            object: 1,
            program: 1,
            version: 1,
        };
        let bytes = courier_xdr::to_bytes(&wire).unwrap();
        assert!(courier_xdr::from_bytes::<ObjectRef>(bytes).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_reference_round_trips_as_text_and_as_xdr(
            ip in proptest::prelude::any::<std::net::IpAddr>(),
            port: u16, incarnation: u64, object: u64, program: u32, version: u32,
        ) {
            let r = ObjectRef { addr: SocketAddr::new(ip, port), incarnation, object, program, version };
            proptest::prop_assert_eq!(r.to_string().parse::<ObjectRef>().unwrap(), r);
            let bytes = courier_xdr::to_bytes(&r).unwrap();
            proptest::prop_assert_eq!(courier_xdr::from_bytes::<ObjectRef>(bytes).unwrap(), r);
        }
    }

    #[test]
    fn references_compare_and_hash_by_every_field() {
        let r = sample();
        let restarted = ObjectRef { incarnation: r.incarnation + 1, ..r };
        assert_ne!(r, restarted, "a reference from another incarnation is another reference");
        let set: HashSet<ObjectRef> = [r, r, restarted].into_iter().collect();
        assert_eq!(set.len(), 2);
        assert!(r < ObjectRef { object: 43, ..r });
    }
}
