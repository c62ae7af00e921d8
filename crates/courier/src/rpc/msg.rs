//! The RPC message (RFC 5531 §9): calls and replies, encoded and decoded by hand on the
//! primitive XDR codec, because this is the hot path.
//!
//! A call is a [`CallHeader`] followed by the procedure's arguments; a reply is a
//! [`ReplyHeader`] followed, on success, by the results. Arguments and results are never
//! copied here: decoding yields them as a `Bytes` slice of the received record, and
//! encoding writes the header into the buffer the body is then appended to.

use bytes::{Bytes, BytesMut};
use courier_xdr::{Decoder, Encoder};

use super::auth::OpaqueAuth;

/// The RPC protocol version this implementation speaks (RFC 5531 §9: `rpcvers` must be 2).
pub const RPC_VERSION: u32 = 2;

const CALL: u32 = 0;
const REPLY: u32 = 1;
const MSG_ACCEPTED: u32 = 0;
const MSG_DENIED: u32 = 1;
const RPC_MISMATCH: u32 = 0;
const AUTH_ERROR: u32 = 1;

/// Why a call was not executed although the server accepted its credentials
/// (`accept_stat`, RFC 5531 §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AcceptStat {
    /// The call executed; results follow.
    Success,
    /// The program is not available here.
    ProgUnavail,
    /// The program is here, but not this version; `low..=high` are.
    ProgMismatch {
        /// The lowest version served.
        low: u32,
        /// The highest version served.
        high: u32,
    },
    /// The program does not have this procedure.
    ProcUnavail,
    /// The arguments could not be decoded.
    GarbageArgs,
    /// A server error, such as a failure to allocate.
    SystemErr,
}

impl AcceptStat {
    fn code(self) -> u32 {
        match self {
            AcceptStat::Success => 0,
            AcceptStat::ProgUnavail => 1,
            AcceptStat::ProgMismatch { .. } => 2,
            AcceptStat::ProcUnavail => 3,
            AcceptStat::GarbageArgs => 4,
            AcceptStat::SystemErr => 5,
        }
    }
}

/// Why a call was rejected (`reject_stat` with its data, RFC 5531 §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectStat {
    /// The caller's RPC version is not served; `low..=high` are.
    RpcMismatch {
        /// The lowest RPC version served.
        low: u32,
        /// The highest RPC version served.
        high: u32,
    },
    /// The credentials were refused.
    AuthError(AuthStat),
}

macro_rules! auth_stat {
    ($($(#[$m:meta])* $name:ident = $code:expr),+ $(,)?) => {
        /// Why authentication failed (`auth_stat`, RFC 5531 §9).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum AuthStat {
            $($(#[$m])* $name,)+
            /// A value this implementation does not know.
            Unknown(u32),
        }
        impl AuthStat {
            /// The number on the wire.
            pub fn code(self) -> u32 {
                match self { $(AuthStat::$name => $code,)+ AuthStat::Unknown(c) => c }
            }
            /// The status for a number from the wire.
            pub fn from_code(code: u32) -> Self {
                match code { $($code => AuthStat::$name,)+ c => AuthStat::Unknown(c) }
            }
        }
    };
}

auth_stat! {
    /// Success.
    Ok = 0,
    /// Bad credential (seal broken).
    BadCred = 1,
    /// The client must begin a new session.
    RejectedCred = 2,
    /// Bad verifier (seal broken).
    BadVerf = 3,
    /// The verifier expired or was replayed.
    RejectedVerf = 4,
    /// Rejected for security reasons.
    TooWeak = 5,
    /// Bogus response verifier.
    InvalidResp = 6,
    /// Reason unknown.
    Failed = 7,
    /// Kerberos generic error.
    KerbGeneric = 8,
    /// The credential expired.
    TimeExpire = 9,
    /// Problem with the ticket file.
    TktFile = 10,
    /// Cannot decode the authenticator.
    Decode = 11,
    /// Wrong network address in the ticket.
    NetAddr = 12,
    /// RPCSEC_GSS: no credentials for the user.
    GssCredProblem = 13,
    /// RPCSEC_GSS: problem with the context.
    GssCtxProblem = 14,
}

/// The header of a call (`rpc_msg` with a `call_body`), without the arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallHeader {
    /// The transaction id that matches the reply to the call.
    pub xid: u32,
    /// The program number.
    pub prog: u32,
    /// The program version.
    pub vers: u32,
    /// The procedure number.
    pub proc: u32,
    /// The caller's credential.
    pub cred: OpaqueAuth,
    /// The caller's verifier.
    pub verf: OpaqueAuth,
}

impl CallHeader {
    /// Appends the header to `buf`; the arguments are appended after it.
    pub fn encode(&self, buf: &mut BytesMut) {
        let mut enc = Encoder::new(buf);
        enc.put_u32(self.xid);
        enc.put_u32(CALL);
        enc.put_u32(RPC_VERSION);
        enc.put_u32(self.prog);
        enc.put_u32(self.vers);
        enc.put_u32(self.proc);
        self.cred.encode(&mut enc);
        self.verf.encode(&mut enc);
    }
}

/// The header of a reply, without the results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyHeader {
    /// The transaction id of the call answered.
    pub xid: u32,
    /// Accepted (with the server's verifier and a status) or denied.
    pub body: ReplyBody,
}

/// `reply_body`: accepted or denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyBody {
    /// MSG_ACCEPTED.
    Accepted {
        /// The server's verifier.
        verf: OpaqueAuth,
        /// Whether the procedure ran.
        stat: AcceptStat,
    },
    /// MSG_DENIED.
    Denied(RejectStat),
}

impl ReplyHeader {
    /// An accepted reply with an AUTH_NONE verifier.
    pub fn accepted(xid: u32, stat: AcceptStat) -> Self {
        ReplyHeader { xid, body: ReplyBody::Accepted { verf: OpaqueAuth::NONE, stat } }
    }

    /// Appends the header to `buf`; on SUCCESS the results are appended after it.
    pub fn encode(&self, buf: &mut BytesMut) {
        let mut enc = Encoder::new(buf);
        enc.put_u32(self.xid);
        enc.put_u32(REPLY);
        match &self.body {
            ReplyBody::Accepted { verf, stat } => {
                enc.put_u32(MSG_ACCEPTED);
                verf.encode(&mut enc);
                enc.put_u32(stat.code());
                if let AcceptStat::ProgMismatch { low, high } = stat {
                    enc.put_u32(*low);
                    enc.put_u32(*high);
                }
            }
            ReplyBody::Denied(reject) => {
                enc.put_u32(MSG_DENIED);
                match reject {
                    RejectStat::RpcMismatch { low, high } => {
                        enc.put_u32(RPC_MISMATCH);
                        enc.put_u32(*low);
                        enc.put_u32(*high);
                    }
                    RejectStat::AuthError(stat) => {
                        enc.put_u32(AUTH_ERROR);
                        enc.put_u32(stat.code());
                    }
                }
            }
        }
    }
}

/// A decoded message: a call with its arguments or a reply with its results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A call; `args` is the rest of the record, undecoded.
    Call {
        /// The header.
        header: CallHeader,
        /// The procedure's arguments, a slice of the received record.
        args: Bytes,
    },
    /// A reply; `results` is the rest of the record (empty unless SUCCESS).
    Reply {
        /// The header.
        header: ReplyHeader,
        /// The procedure's results, a slice of the received record.
        results: Bytes,
    },
}

/// A message that could not be decoded, with what the receiver can still do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// Too short to hold even a transaction id and a message type.
    #[error("message of {0} bytes is too short for an RPC header")]
    TooShort(usize),
    /// `msg_type` is neither CALL nor REPLY.
    #[error("xid {xid:#x}: unknown message type {mtype}")]
    UnknownType {
        /// The transaction id.
        xid: u32,
        /// The message type found.
        mtype: u32,
    },
    /// A call with an RPC version other than 2; answer RPC_MISMATCH (RFC 5531 §9).
    #[error("xid {xid:#x}: RPC version {version} is not 2")]
    RpcVersion {
        /// The transaction id.
        xid: u32,
        /// The version the caller used.
        version: u32,
    },
    /// A call whose credential or verifier does not decode; answer AUTH_BADCRED.
    #[error("xid {xid:#x}: malformed credential or verifier: {source}")]
    BadAuth {
        /// The transaction id.
        xid: u32,
        /// What was wrong.
        source: courier_xdr::Error,
    },
    /// A header field (other than the credential) is malformed.
    #[error("xid {xid:#x}: malformed header: {source}")]
    Malformed {
        /// The transaction id.
        xid: u32,
        /// What was wrong.
        source: courier_xdr::Error,
    },
}

impl Message {
    /// Decodes a whole record (TCP) or datagram (UDP).
    pub fn decode(record: Bytes) -> Result<Message, MessageError> {
        let len = record.len();
        let mut dec = Decoder::new(record);
        let (xid, mtype) = match (dec.get_u32(), dec.get_u32()) {
            (Ok(xid), Ok(mtype)) => (xid, mtype),
            _ => return Err(MessageError::TooShort(len)),
        };
        let malformed = |source| MessageError::Malformed { xid, source };
        match mtype {
            CALL => {
                let version = dec.get_u32().map_err(malformed)?;
                if version != RPC_VERSION {
                    return Err(MessageError::RpcVersion { xid, version });
                }
                let prog = dec.get_u32().map_err(malformed)?;
                let vers = dec.get_u32().map_err(malformed)?;
                let proc = dec.get_u32().map_err(malformed)?;
                let bad_auth = |source| MessageError::BadAuth { xid, source };
                let cred = OpaqueAuth::decode(&mut dec).map_err(bad_auth)?;
                let verf = OpaqueAuth::decode(&mut dec).map_err(bad_auth)?;
                let header = CallHeader { xid, prog, vers, proc, cred, verf };
                Ok(Message::Call { header, args: dec.take_rest() })
            }
            REPLY => {
                let body = decode_reply_body(&mut dec).map_err(malformed)?;
                Ok(Message::Reply { header: ReplyHeader { xid, body }, results: dec.take_rest() })
            }
            mtype => Err(MessageError::UnknownType { xid, mtype }),
        }
    }
}

fn invalid(what: &str, value: u32) -> courier_xdr::Error {
    courier_xdr::Error::InvalidValue { found: value.to_string(), expected: what.to_owned() }
}

fn decode_reply_body(dec: &mut Decoder) -> courier_xdr::Result<ReplyBody> {
    match dec.get_u32()? {
        MSG_ACCEPTED => {
            let verf = OpaqueAuth::decode(dec)?;
            let stat = match dec.get_u32()? {
                0 => AcceptStat::Success,
                1 => AcceptStat::ProgUnavail,
                2 => AcceptStat::ProgMismatch { low: dec.get_u32()?, high: dec.get_u32()? },
                3 => AcceptStat::ProcUnavail,
                4 => AcceptStat::GarbageArgs,
                5 => AcceptStat::SystemErr,
                other => return Err(invalid("an accept_stat (0-5)", other)),
            };
            Ok(ReplyBody::Accepted { verf, stat })
        }
        MSG_DENIED => match dec.get_u32()? {
            RPC_MISMATCH => {
                Ok(ReplyBody::Denied(RejectStat::RpcMismatch { low: dec.get_u32()?, high: dec.get_u32()? }))
            }
            AUTH_ERROR => Ok(ReplyBody::Denied(RejectStat::AuthError(AuthStat::from_code(dec.get_u32()?)))),
            other => Err(invalid("a reject_stat (0-1)", other)),
        },
        other => Err(invalid("a reply_stat (0-1)", other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Bytes {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<_>>().into()
    }

    #[test]
    fn a_call_header_encodes_as_rfc_5531_lays_it_out() {
        let header =
            CallHeader { xid: 0x1234, prog: 100_000, vers: 2, proc: 4, cred: OpaqueAuth::NONE, verf: OpaqueAuth::NONE };
        let mut buf = BytesMut::new();
        header.encode(&mut buf);
        buf.extend_from_slice(&[0, 0, 0, 9]);
        let wire =
            hex("00001234 00000000 00000002 000186a0 00000002 00000004 00000000 00000000 00000000 00000000 00000009");
        assert_eq!(buf.freeze(), wire);
        match Message::decode(wire).unwrap() {
            Message::Call { header: h, args } => {
                assert_eq!(h, header);
                assert_eq!(&args[..], &[0, 0, 0, 9]);
            }
            other => panic!("decoded as {other:?}"),
        }
    }

    #[test]
    fn every_reply_status_round_trips() {
        let bodies = [
            ReplyBody::Accepted { verf: OpaqueAuth::NONE, stat: AcceptStat::Success },
            ReplyBody::Accepted { verf: OpaqueAuth::NONE, stat: AcceptStat::ProgUnavail },
            ReplyBody::Accepted { verf: OpaqueAuth::NONE, stat: AcceptStat::ProgMismatch { low: 1, high: 3 } },
            ReplyBody::Accepted { verf: OpaqueAuth::NONE, stat: AcceptStat::ProcUnavail },
            ReplyBody::Accepted { verf: OpaqueAuth::NONE, stat: AcceptStat::GarbageArgs },
            ReplyBody::Accepted {
                verf: OpaqueAuth { flavor: 9, body: Bytes::from_static(b"v") },
                stat: AcceptStat::SystemErr,
            },
            ReplyBody::Denied(RejectStat::RpcMismatch { low: 2, high: 2 }),
        ]
        .into_iter()
        .chain((0..=15).map(|c| ReplyBody::Denied(RejectStat::AuthError(AuthStat::from_code(c)))));
        for body in bodies {
            let header = ReplyHeader { xid: 7, body };
            let mut buf = BytesMut::new();
            header.encode(&mut buf);
            let decoded = Message::decode(buf.freeze()).unwrap();
            assert_eq!(decoded, Message::Reply { header, results: Bytes::new() });
        }
        assert_eq!(AuthStat::from_code(99), AuthStat::Unknown(99));
        assert_eq!(AuthStat::TooWeak.code(), 5);
    }

    #[test]
    fn a_prog_mismatch_reply_matches_the_rfc_wire_form() {
        let mut buf = BytesMut::new();
        ReplyHeader::accepted(1, AcceptStat::ProgMismatch { low: 1, high: 2 }).encode(&mut buf);
        assert_eq!(buf.freeze(), hex("00000001 00000001 00000000 00000000 00000000 00000002 00000001 00000002"));
    }

    #[test]
    fn malformed_messages_are_classified() {
        assert_eq!(Message::decode(hex("0000")), Err(MessageError::TooShort(2)));
        assert_eq!(Message::decode(hex("00000001 00000005")), Err(MessageError::UnknownType { xid: 1, mtype: 5 }));
        assert_eq!(
            Message::decode(hex("00000001 00000000 00000003")),
            Err(MessageError::RpcVersion { xid: 1, version: 3 })
        );
        let bad_cred = hex("00000001 00000000 00000002 00000001 00000001 00000001 00000000 00000191");
        assert!(matches!(Message::decode(bad_cred), Err(MessageError::BadAuth { xid: 1, .. })));
        let bad_reply = hex("00000001 00000001 00000002");
        assert!(matches!(Message::decode(bad_reply), Err(MessageError::Malformed { xid: 1, .. })));
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn auth() -> impl Strategy<Value = OpaqueAuth> {
            (any::<u32>(), proptest::collection::vec(any::<u8>(), 0..=400))
                .prop_map(|(flavor, body)| OpaqueAuth { flavor, body: body.into() })
        }

        proptest! {
            #[test]
            fn any_call_round_trips(xid: u32, prog: u32, vers: u32, proc: u32, cred in auth(), verf in auth(),
                                    args in proptest::collection::vec(any::<u8>(), 0..64)) {
                let header = CallHeader { xid, prog, vers, proc, cred, verf };
                let mut buf = BytesMut::new();
                header.encode(&mut buf);
                prop_assert_eq!(buf.len() % 4, 0);
                buf.extend_from_slice(&args);
                let decoded = Message::decode(buf.freeze()).unwrap();
                prop_assert_eq!(decoded, Message::Call { header, args: args.into() });
            }

            #[test]
            fn any_bytes_decode_or_fail_without_panicking(data in proptest::collection::vec(any::<u8>(), 0..128)) {
                crate::fuzzing::message(&data);
                crate::fuzzing::record_and_message(&data);
            }
        }
    }
}
