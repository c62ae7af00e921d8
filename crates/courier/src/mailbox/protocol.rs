//! The mailbox program: how a courier node's mailboxes are reached over ONC RPC, and
//! the mailbox reference ([`MailboxRef`]) that names one from any machine.
//!
//! It is ONC RPC program [`PROGRAM`] version [`VERSION`]; every reply starts with a
//! `mailbox_status`, so a C client built by rpcgen sees why a call failed:
//!
//! ```c
//! typedef string mailbox_name<255>;
//! typedef string source_name<255>;
//! typedef opaque message_body<1048576>;
//! enum send_mode { SEND_ASYNC = 0, SEND_SYNC = 1, SEND_DURABLE = 2 };
//! enum mailbox_status {
//!     MAILBOX_OK = 0,           /* done */
//!     MAILBOX_FULL = 1,         /* the mailbox is full and refuses senders */
//!     MAILBOX_STORE_FAILED = 2, /* a durable send could not be persisted: not sent */
//!     MAILBOX_NO_STORE = 3,     /* a durable send to a node without --data */
//!     MAILBOX_TOO_MANY = 4,     /* the node holds as many mailboxes as it may */
//!     MAILBOX_NOT_TAKEN = 5     /* a synchronous send queued but not taken in time */
//! };
//! struct send_args {
//!     mailbox_name mailbox;
//!     source_name source;
//!     send_mode mode;
//!     unsigned int wait_ms;     /* for room in a full mailbox; SEND_SYNC: and for a receiver */
//!     message_body body;
//! };
//! struct send_reply { mailbox_status status; unsigned hyper id; string reason<>; };
//! struct receive_args {
//!     mailbox_name mailbox;
//!     source_name *source;      /* only messages from this sender */
//!     unsigned int wait_ms;     /* 0: do not wait */
//! };
//! struct delivered {
//!     unsigned hyper id;
//!     unsigned int delivery;    /* 1 on the first delivery */
//!     unsigned hyper incarnation; /* the mailbox's opening; with id and delivery, the receipt */
//!     bool durable;
//!     source_name source;
//!     message_body body;
//! };
//! struct receive_reply { mailbox_status status; delivered *message; };
//! struct settle_args {
//!     mailbox_name mailbox;
//!     unsigned hyper id;
//!     unsigned int delivery;
//!     unsigned hyper incarnation;
//! };
//! struct settle_reply { mailbox_status status; bool settled; string reason<>; };
//! struct receive_batch_args {
//!     mailbox_name mailbox;
//!     source_name *source;      /* only messages from this sender */
//!     unsigned int wait_ms;     /* for the first message; 0: do not wait */
//!     unsigned int max;         /* at most this many messages (and at most 256) */
//!     unsigned int linger_ms;   /* then for more, until max; 0: answer at once */
//! };
//! struct receive_batch_reply { mailbox_status status; delivered messages<256>; };
//! struct receipt { unsigned hyper id; unsigned int delivery; unsigned hyper incarnation; };
//! struct ack_batch_args { mailbox_name mailbox; receipt receipts<256>; };
//! struct ack_batch_reply {
//!     mailbox_status status;
//!     bool settled<256>;        /* one per receipt, in order; empty when status is not OK */
//!     string reason<>;
//! };
//! struct ack_receive_batch_args {
//!     mailbox_name mailbox;
//!     receipt receipts<256>;    /* acknowledged first, as by ACK_BATCH */
//!     source_name *source;      /* then, as RECEIVE_BATCH: only messages from this sender */
//!     unsigned int wait_ms;     /* for the first message; 0: do not wait */
//!     unsigned int max;         /* at most this many messages (and at most 256) */
//!     unsigned int linger_ms;   /* then for more, until max; 0: answer at once */
//! };
//! struct ack_receive_batch_reply {
//!     mailbox_status status;    /* STORE_FAILED: the removals failed; the messages taken went back */
//!     bool settled<256>;        /* one per receipt, in order; empty when status is not OK */
//!     delivered messages<256>;
//!     string reason<>;
//! };
//! struct mailbox_info {
//!     mailbox_name name;
//!     unsigned hyper waiting;
//!     unsigned hyper in_flight;
//!     unsigned int consumers;
//!     bool durable;
//!     unsigned hyper sent;
//!     unsigned hyper received;
//!     unsigned hyper acknowledged;
//!     double sent_rate;         /* per second, the last 10 s */
//!     double received_rate;
//! };
//! typedef mailbox_info mailbox_infos<>;
//! program COURIER_MAILBOX {
//!     version COURIER_MAILBOX_V1 {
//!         send_reply SEND(send_args) = 1;
//!         receive_reply RECEIVE(receive_args) = 2;
//!         settle_reply ACK(settle_args) = 3;     /* durable: answered once forgotten on disk */
//!         settle_reply RELEASE(settle_args) = 4;
//!         mailbox_infos LIST(void) = 5;          /* sorted by name */
//!         receive_batch_reply RECEIVE_BATCH(receive_batch_args) = 6;
//!         ack_batch_reply ACK_BATCH(ack_batch_args) = 7;
//!         ack_receive_batch_reply ACK_RECEIVE_BATCH(ack_receive_batch_args) = 8;
//!     } = 1;
//! } = 0x20435204;
//! ```
//!
//! A message is acknowledged by its receipt — its id, the delivery's number and the
//! mailbox's incarnation — which names that one delivery: after its visibility timeout
//! passed and it went to another receiver, the first receiver's late acknowledgement is
//! refused (`settled` false) instead of removing a message someone else is working on.
//! The incarnation changes when the node restarts (delivery numbers start again then),
//! so a receipt from before a restart never matches a delivery after it; and message ids
//! are not reused across restarts, so it never matches another message. An
//! acknowledgement of a message that is gone already is `settled` true: the message
//! will not come again, so an ACK may be resent safely (after a lost reply, or to a
//! restarted node).
//!
//! A receiver that keeps up with a busy mailbox takes its messages in batches:
//! RECEIVE_BATCH waits like RECEIVE for the first message, then answers with it and
//! those waiting behind it — at most `max`, at most [`MAX_BATCH`], and beyond the first
//! at most [`MAX_BODY`] bytes of bodies and source names in all (32 KiB over UDP), so
//! that a reply stays well inside a record (a datagram) — each a delivery of its own; ACK_BATCH acknowledges many deliveries in one
//! call (and, for persisted messages, in one commit). One call then carries what took
//! one per message.
//!
//! A receiver that goes on receiving acknowledges what it has done with its next
//! receive: ACK_RECEIVE_BATCH settles its receipts as ACK_BATCH does, then waits for
//! messages as RECEIVE_BATCH does, and answers once both are done — the removals of
//! persisted messages on disk (they share the commit that persists the next message, on
//! a busy mailbox) and the batch taken. One call per batch, not two; the
//! acknowledgements' outcome comes with the next batch (or when the wait is over).

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use courier_xdr::{BoundedString, BoundedVec, Opaque};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{MailboxStats, Receipt};
use crate::binder::uaddr;
use crate::object::reference::MAX_UADDR;

/// The mailbox program's number ("C R" 04, next to the registry and leases).
pub const PROGRAM: u32 = 0x2043_5204;
/// Its version.
pub const VERSION: u32 = 1;
/// SEND(send_args): puts a message in a mailbox.
pub const SEND: u32 = 1;
/// RECEIVE(receive_args): takes the next message, waiting up to `wait_ms`.
pub const RECEIVE: u32 = 2;
/// ACK(settle_args): removes a delivered message.
pub const ACK: u32 = 3;
/// RELEASE(settle_args): gives a delivered message back.
pub const RELEASE: u32 = 4;
/// LIST(): every mailbox of the node, with its depth, consumers and rates.
pub const LIST: u32 = 5;
/// RECEIVE_BATCH(receive_batch_args): takes the next messages, waiting up to `wait_ms`
/// for the first, then up to `linger_ms` for more.
pub const RECEIVE_BATCH: u32 = 6;
/// ACK_BATCH(ack_batch_args): removes many delivered messages.
pub const ACK_BATCH: u32 = 7;
/// ACK_RECEIVE_BATCH(ack_receive_batch_args): removes delivered messages, then takes the
/// next ones, waiting up to `wait_ms` for the first, then up to `linger_ms` for more.
pub const ACK_RECEIVE_BATCH: u32 = 8;

/// The longest mailbox or source name.
pub const MAX_NAME: u32 = 255;
/// The largest message body.
pub const MAX_BODY: u32 = 1 << 20;

/// The most messages in a batch, and the most receipts acknowledged in one call.
pub const MAX_BATCH: u32 = 256;

/// A mailbox or source name.
pub type Name = BoundedString<MAX_NAME>;
/// A message body.
pub type Body = Opaque<MAX_BODY>;

/// How a SEND returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SendMode {
    /// Once the node has queued the message.
    Async,
    /// Once a receiver has taken it.
    Sync,
    /// Once the node has persisted it (synced to disk).
    Durable,
}

/// The first word of every reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Done.
    Ok,
    /// The mailbox is full and refuses senders.
    Full,
    /// A durable send could not be persisted (the reason says why): it was not sent.
    StoreFailed,
    /// A durable send to a node that keeps no durable state.
    NoStore,
    /// The node holds as many mailboxes as it may.
    TooMany,
    /// A synchronous send was queued but not taken before the call's time ran out.
    NotTaken,
}

/// SEND's arguments.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendArgs {
    /// The mailbox (made on first use).
    pub mailbox: Name,
    /// Who sends.
    pub source: Name,
    /// When to answer.
    pub mode: SendMode,
    /// How long to wait, in milliseconds, for room in a full mailbox and, for a
    /// synchronous send, for a receiver (bounded by the call's deadline and the node's
    /// longest wait).
    pub wait_ms: u32,
    /// The message.
    pub body: Body,
}

/// SEND's reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendReply {
    /// What happened.
    pub status: Status,
    /// The message's id in the mailbox (with `Ok` and `NotTaken`).
    pub id: u64,
    /// Why it failed, in words.
    pub reason: String,
}

/// RECEIVE's arguments.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceiveArgs {
    /// The mailbox (made on first use).
    pub mailbox: Name,
    /// Only messages from this sender.
    pub source: Option<Name>,
    /// How long to wait for a message, in milliseconds (bounded by the call's deadline
    /// and the node's longest wait).
    pub wait_ms: u32,
}

/// A delivered message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivered {
    /// Its id in the mailbox.
    pub id: u64,
    /// Which delivery this is (1 the first time).
    pub delivery: u32,
    /// The mailbox's incarnation; with the id and the delivery, the receipt to
    /// acknowledge or release it by.
    pub incarnation: u64,
    /// Whether it is persisted.
    pub durable: bool,
    /// Who sent it.
    pub source: Name,
    /// Its body.
    pub body: Body,
}

/// RECEIVE's reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceiveReply {
    /// What happened.
    pub status: Status,
    /// The message, if one came in time.
    pub message: Option<Delivered>,
}

/// ACK's and RELEASE's arguments: the receipt of one delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SettleArgs {
    /// The mailbox.
    pub mailbox: Name,
    /// The message's id.
    pub id: u64,
    /// The delivery's number.
    pub delivery: u32,
    /// The mailbox's incarnation that delivered it.
    pub incarnation: u64,
}

/// ACK's and RELEASE's reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SettleReply {
    /// What happened (`StoreFailed` when a durable removal failed).
    pub status: Status,
    /// False when that delivery was no longer in flight.
    pub settled: bool,
    /// Why it failed, in words.
    pub reason: String,
}

/// RECEIVE_BATCH's arguments.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceiveBatchArgs {
    /// The mailbox (made on first use).
    pub mailbox: Name,
    /// Only messages from this sender.
    pub source: Option<Name>,
    /// How long to wait for the first message, in milliseconds (bounded as RECEIVE's).
    pub wait_ms: u32,
    /// The most messages wanted (the node gives at most [`MAX_BATCH`]).
    pub max: u32,
    /// How long to keep the batch open after its first message, for more up to `max`,
    /// in milliseconds (bounded as the wait); 0: answer with what is there.
    pub linger_ms: u32,
}

/// RECEIVE_BATCH's reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceiveBatchReply {
    /// What happened.
    pub status: Status,
    /// The messages, oldest first; none if none came in time.
    pub messages: BoundedVec<Delivered, MAX_BATCH>,
}

/// ACK_BATCH's arguments.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AckBatchArgs {
    /// The mailbox.
    pub mailbox: Name,
    /// The deliveries to acknowledge.
    pub receipts: BoundedVec<Receipt, MAX_BATCH>,
}

/// ACK_BATCH's reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AckBatchReply {
    /// What happened (`StoreFailed` when the durable removals failed).
    pub status: Status,
    /// For each receipt, in order, false when that delivery was no longer in flight
    /// (empty unless `status` is `Ok`).
    pub settled: BoundedVec<bool, MAX_BATCH>,
    /// Why it failed, in words.
    pub reason: String,
}

/// ACK_RECEIVE_BATCH's arguments.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AckReceiveBatchArgs {
    /// The mailbox (made on first use).
    pub mailbox: Name,
    /// The deliveries to acknowledge first.
    pub receipts: BoundedVec<Receipt, MAX_BATCH>,
    /// Only messages from this sender.
    pub source: Option<Name>,
    /// How long to wait for the first message, in milliseconds (bounded as RECEIVE's).
    pub wait_ms: u32,
    /// The most messages wanted (the node gives at most [`MAX_BATCH`]).
    pub max: u32,
    /// How long to keep the batch open after its first message, for more up to `max`,
    /// in milliseconds (bounded as the wait); 0: answer with what is there.
    pub linger_ms: u32,
}

/// ACK_RECEIVE_BATCH's reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AckReceiveBatchReply {
    /// What happened (`StoreFailed` when the durable removals failed: then the messages
    /// the call took went back, first in line, and `messages` is empty).
    pub status: Status,
    /// For each receipt, in order, false when that delivery was no longer in flight
    /// (empty unless `status` is `Ok`).
    pub settled: BoundedVec<bool, MAX_BATCH>,
    /// The messages, oldest first; none if none came in time.
    pub messages: BoundedVec<Delivered, MAX_BATCH>,
    /// Why it failed, in words.
    pub reason: String,
}

/// One mailbox in LIST's reply: `mailbox_info`, its name then its stats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailboxInfo {
    /// The mailbox's name.
    pub name: Name,
    /// Its depth, consumers and traffic since the node started.
    pub stats: MailboxStats,
}

/// A reference to a mailbox of a node, usable from any machine that reaches the node:
/// `mailbox://127.0.0.1:7111/orders` in text; on the wire
/// `struct mailbox_ref { string uaddr<64>; mailbox_name name; }` (an RFC 5665 universal
/// address and the name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxRef {
    /// Where the node listens (TCP).
    pub node: SocketAddr,
    /// The mailbox's name there.
    pub name: String,
}

/// A mailbox reference in text that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a mailbox reference ({why}); expected mailbox://ADDRESS:PORT/NAME")]
pub struct MailboxRefError {
    text: String,
    why: &'static str,
}

impl fmt::Display for MailboxRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mailbox://{}/{}", self.node, self.name)
    }
}

impl FromStr for MailboxRef {
    type Err = MailboxRefError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |why| MailboxRefError { text: text.to_owned(), why };
        let rest = text.strip_prefix("mailbox://").ok_or_else(|| err("no mailbox:// scheme"))?;
        let (node, name) = rest.split_once('/').ok_or_else(|| err("no /NAME"))?;
        let node = node.parse().map_err(|_| err("bad ADDRESS:PORT"))?;
        if name.is_empty() || name.len() > MAX_NAME as usize {
            return Err(err("the name is empty or longer than 255 bytes"));
        }
        Ok(MailboxRef { node, name: name.to_owned() })
    }
}

/// The XDR shape of a reference.
#[derive(Serialize, Deserialize)]
struct WireRef {
    uaddr: BoundedString<MAX_UADDR>,
    name: Name,
}

impl Serialize for MailboxRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let uaddr = BoundedString::new(uaddr::to_uaddr(self.node)).map_err(serde::ser::Error::custom)?;
        let name = Name::new(self.name.clone()).map_err(serde::ser::Error::custom)?;
        WireRef { uaddr, name }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for MailboxRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireRef::deserialize(deserializer)?;
        let node = uaddr::from_uaddr(&wire.uaddr).map_err(serde::de::Error::custom)?;
        Ok(MailboxRef { node, name: wire.name.into_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `.x` text in this module's documentation is valid RPC language.
    #[test]
    fn the_documented_interface_is_valid_rpc_language() {
        let doc = crate::documented::rpc_language(include_str!("protocol.rs"));
        assert!(doc.contains("program COURIER_MAILBOX"), "{doc}");
        let source = courier_idl::Source::from_text("mailbox.x", &doc);
        courier_idl::check_source(&source).unwrap_or_else(|e| panic!("{e}\n{doc}"));
    }

    #[test]
    fn references_round_trip_in_text_and_xdr() {
        let reference: MailboxRef = "mailbox://127.0.0.1:7111/orders/eu".parse().unwrap();
        assert_eq!(reference, MailboxRef { node: "127.0.0.1:7111".parse().unwrap(), name: "orders/eu".into() });
        assert_eq!(reference.to_string(), "mailbox://127.0.0.1:7111/orders/eu");
        let bytes = courier_xdr::to_bytes(&reference).unwrap();
        assert_eq!(&bytes[..4], &16u32.to_be_bytes(), "uaddr 127.0.0.1.27.199 first");
        assert_eq!(courier_xdr::from_bytes::<MailboxRef>(bytes).unwrap(), reference);
        let v6: MailboxRef = "mailbox://[::1]:7111/q".parse().unwrap();
        assert_eq!(courier_xdr::from_bytes::<MailboxRef>(courier_xdr::to_bytes(&v6).unwrap()).unwrap(), v6);
        for bad in ["orders", "mailbox://127.0.0.1:7111", "mailbox://nowhere/q", "mailbox://127.0.0.1:7111/"] {
            assert!(bad.parse::<MailboxRef>().is_err(), "{bad}");
        }
    }
}
