//! The post office: a node's named mailboxes, served as the mailbox program
//! ([`protocol`](super::protocol)). Mailboxes are made on first use (a receiver may wait
//! before any sender came), durable when the node has a store, with a dead-letter
//! mailbox `NAME.dead` when messages have a last delivery; their number is bounded.
//!
//! Waiting calls (a synchronous send, a receive) wait at most the node's longest wait
//! and never past the caller's deadline: they answer a little before it, so that the
//! answer still arrives.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use courier_xdr::BoundedVec;

use super::protocol::{
    AckBatchArgs, AckBatchReply, AckReceiveBatchArgs, AckReceiveBatchReply, Body, Delivered, MailboxInfo, Name,
    ReceiveArgs, ReceiveBatchArgs, ReceiveBatchReply, ReceiveReply, SendArgs, SendMode, SendReply, SettleArgs,
    SettleReply, Status, ACK, ACK_BATCH, ACK_RECEIVE_BATCH, LIST, MAX_BATCH, MAX_BODY, RECEIVE, RECEIVE_BATCH, RELEASE,
    SEND,
};
use super::queue::Batch;
use super::store::{GroupCommit, Store};
use super::{Delivery, Mailbox, QueueConfig, Receipt, SendError};
use crate::rpc::{Call, Procedures};
use crate::sync::lock;
use crate::transport::Peer;

/// Over UDP, the most bytes of bodies and sources in a batch beyond its first message:
/// with [`MAX_BATCH`] messages' fixed fields the reply stays inside one datagram.
const DATAGRAM_BATCH_BYTES: usize = 32 << 10;

/// How a post office's mailboxes behave.
#[derive(Debug, Clone)]
pub struct PostOfficeConfig {
    /// Each mailbox's limits and timeouts. With `max_deliveries`, letters go to the
    /// mailbox `NAME.dead` after their last delivery.
    pub queue: QueueConfig,
    /// The most mailboxes (dead-letter ones included).
    pub max_mailboxes: usize,
    /// The longest a call waits for room, for a receiver or for a message; and the
    /// longest a batch then stays open for more.
    pub max_wait: Duration,
}

impl Default for PostOfficeConfig {
    fn default() -> Self {
        PostOfficeConfig { queue: QueueConfig::default(), max_mailboxes: 4096, max_wait: Duration::from_secs(300) }
    }
}

/// A node's mailboxes, by name.
pub struct PostOffice {
    config: PostOfficeConfig,
    /// Where durable messages are kept: one group commit for all the mailboxes, so that
    /// sends to different mailboxes share syncs too.
    store: Option<GroupCommit>,
    mailboxes: Mutex<BTreeMap<String, Mailbox>>,
}

impl std::fmt::Debug for PostOffice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostOffice").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The node holds as many mailboxes as it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the node holds as many mailboxes as it may")]
pub struct TooMany;

impl PostOffice {
    /// A post office keeping durable messages in `store`, if given; the mailboxes with
    /// messages persisted there are open again, their messages waiting. Blocks on the
    /// store while it loads them.
    pub fn open(config: PostOfficeConfig, store: Option<Arc<dyn Store>>) -> std::io::Result<Arc<PostOffice>> {
        let store = store.map(GroupCommit::new);
        let office = Arc::new(PostOffice { config, store, mailboxes: Mutex::new(BTreeMap::new()) });
        if let Some(store) = office.store() {
            for name in store.mailboxes()? {
                office.mailbox(&name).map_err(std::io::Error::other)?;
            }
        }
        Ok(office)
    }

    /// The mailbox `name`, made if it is new.
    pub fn mailbox(&self, name: &str) -> Result<Mailbox, TooMany> {
        let mut mailboxes = lock(&self.mailboxes);
        if let Some(mailbox) = mailboxes.get(name) {
            return Ok(mailbox.clone());
        }
        let dead_name = self.config.queue.max_deliveries.map(|_| format!("{name}.dead"));
        let needed = 1 + dead_name.as_ref().map_or(0, |d| usize::from(!mailboxes.contains_key(d)));
        if mailboxes.len() + needed > self.config.max_mailboxes {
            return Err(TooMany);
        }
        let dead_letters = dead_name.map(|dead| {
            mailboxes
                .entry(dead.clone())
                .or_insert_with(|| {
                    let config = QueueConfig { max_deliveries: None, ..self.config.queue };
                    self.open_one(&dead, config, None)
                })
                .clone()
        });
        let mailbox = self.open_one(name, self.config.queue, dead_letters);
        mailboxes.insert(name.to_owned(), mailbox.clone());
        Ok(mailbox)
    }

    fn open_one(&self, name: &str, config: QueueConfig, dead_letters: Option<Mailbox>) -> Mailbox {
        Mailbox::open(name, config, self.store.clone(), dead_letters.clone()).unwrap_or_else(|e| {
            // Its persisted messages stay in the store for the next start; the mailbox
            // works meanwhile, without them.
            tracing::error!(mailbox = name, error = %e, "cannot load the mailbox's messages");
            Mailbox::open(name, config, None, dead_letters).expect("a mailbox without a store opens")
        })
    }

    /// Where durable messages are kept, if anywhere.
    pub fn store(&self) -> Option<&Arc<dyn Store>> {
        self.store.as_ref().map(GroupCommit::store)
    }

    /// Every mailbox, by name.
    pub fn mailboxes(&self) -> Vec<Mailbox> {
        lock(&self.mailboxes).values().cloned().collect()
    }

    /// How long a call may wait: the node's longest wait, `wanted` if shorter, and
    /// ending a little before the caller's deadline.
    fn wait_for(&self, call: &Call, wanted: Duration) -> Duration {
        let mut wait = wanted.min(self.config.max_wait);
        if let Some(remaining) = call.remaining() {
            let margin = (remaining / 4).min(Duration::from_secs(1));
            wait = wait.min(remaining.saturating_sub(margin));
        }
        wait
    }

    async fn send(&self, call: &Call, args: SendArgs) -> SendReply {
        let reply = |status, id, reason: String| SendReply { status, id, reason };
        let mailbox = match self.mailbox(&args.mailbox) {
            Ok(mailbox) => mailbox,
            Err(e) => return reply(Status::TooMany, 0, e.to_string()),
        };
        if args.mode == SendMode::Durable && !mailbox.is_durable() {
            return reply(Status::NoStore, 0, "the node keeps no durable state (start it with --data DIR)".into());
        }
        let (source, body) = (args.source.as_str(), Bytes::from(args.body));
        let wait = self.wait_for(call, Duration::from_millis(args.wait_ms.into()));
        let deadline = tokio::time::Instant::now() + wait;
        // The wait bounds the wait for room (and a synchronous send's for a receiver),
        // never a durable message's write: once queued for the store it is answered by
        // the store.
        let id = match tokio::time::timeout(wait, mailbox.reserve()).await {
            Err(_) => return reply(Status::Full, 0, format!("mailbox `{}` stayed full for {wait:?}", mailbox.name())),
            Ok(Err(SendError::Full(name))) => return reply(Status::Full, 0, format!("mailbox `{name}` is full")),
            Ok(Err(e)) => return reply(Status::StoreFailed, 0, e.to_string()),
            Ok(Ok(id)) => id,
        };
        match args.mode {
            SendMode::Async => reply(Status::Ok, mailbox.post(id, source, body, None), String::new()),
            // A durable send's message that would be alone in its round, while commits
            // are quick, is written where the call runs (`GroupCommit::append_here`; on
            // a current-thread runtime it is the committer's anyway). If the call came
            // alone on its connection (`Call::alone`: when it was read, nothing else of
            // the connection was there or in progress), that is the connection's own
            // task: no other task or thread takes over, and a call that comes meanwhile
            // is read once the write is over. Otherwise the call first takes a task of
            // its own (the yield): the connection goes on reading the calls behind it,
            // whose messages then share the next round. Under load (a round being
            // written or gathering) the message goes to the committer at once.
            SendMode::Durable => {
                let here = mailbox.store_idle();
                if here && !call.alone() {
                    tokio::task::yield_now().await;
                }
                match mailbox.persist(id, source, body, here).await {
                    Ok(id) => reply(Status::Ok, id, String::new()),
                    Err(e) => reply(Status::StoreFailed, 0, e.to_string()),
                }
            }
            SendMode::Sync => {
                let (taken, waited) = tokio::sync::oneshot::channel();
                mailbox.post(id, source, body, Some(taken));
                match tokio::time::timeout_at(deadline, waited).await {
                    Ok(_) => reply(Status::Ok, id, String::new()),
                    Err(_) => reply(Status::NotTaken, id, format!("queued, but not taken within {wait:?}")),
                }
            }
        }
    }

    async fn receive(&self, call: &Call, args: ReceiveArgs) -> ReceiveReply {
        let batch = ReceiveBatchArgs {
            mailbox: args.mailbox,
            source: args.source,
            wait_ms: args.wait_ms,
            max: 1,
            linger_ms: 0,
        };
        let ReceiveBatchReply { status, messages } = self.receive_batch(call, batch).await;
        ReceiveReply { status, message: messages.into_vec().pop() }
    }

    async fn receive_batch(&self, call: &Call, args: ReceiveBatchArgs) -> ReceiveBatchReply {
        let mailbox = match self.mailbox(&args.mailbox) {
            Ok(mailbox) => mailbox,
            Err(_) => return ReceiveBatchReply { status: Status::TooMany, messages: BoundedVec::default() },
        };
        let wanted = (args.max, args.wait_ms, args.linger_ms);
        let batch = self.take_batch(call, &mailbox, args.source.as_deref(), wanted).await;
        ReceiveBatchReply { status: Status::Ok, messages: on_the_wire(batch) }
    }

    /// Takes a batch for a receive call: waits (at most `wait_ms`, as bounded by
    /// [`PostOffice::wait_for`]) for a message from `source`, if given, then takes it
    /// and those behind it, at most `max` (at least 1, at most [`MAX_BATCH`]) and, beyond
    /// the first, at most what a reply on the call's transport carries; then keeps the
    /// batch open for more for `linger_ms` (bounded alike, [`Mailbox::linger`]).
    async fn take_batch(
        &self,
        call: &Call,
        mailbox: &Mailbox,
        source: Option<&str>,
        (max, wait_ms, linger_ms): (u32, u32, u32),
    ) -> Vec<Delivery> {
        let bytes = match call.peer {
            Peer::Udp(_) => DATAGRAM_BATCH_BYTES,
            _ => MAX_BODY as usize,
        };
        let mut batch = Batch::new(max.clamp(1, MAX_BATCH) as usize, bytes);
        let wait = self.wait_for(call, Duration::from_millis(wait_ms.into()));
        let taken = match wait.is_zero() {
            true => mailbox.take_more(source, &mut batch),
            false => mailbox.receive_batch_within(source, &mut batch, wait).await,
        };
        let linger = self.wait_for(call, Duration::from_millis(linger_ms.into()));
        mailbox.linger(source, &mut batch, taken, linger).await
    }

    /// Settles the receipts, then receives: the removals of persisted messages are
    /// queued before the wait, to ride on the round of the next durable message (which
    /// is what a busy mailbox's receiver waits for), or else on one started when the
    /// wait is over; either way they are on disk before the answer. If they failed, the
    /// batch taken meanwhile goes back, first in line, and the answer says why.
    async fn ack_receive_batch(&self, call: &Call, args: AckReceiveBatchArgs) -> AckReceiveBatchReply {
        let reply = |status, settled, messages, reason: String| AckReceiveBatchReply {
            status,
            settled: BoundedVec::new(settled).unwrap_or_default(),
            messages,
            reason,
        };
        let mailbox = match self.mailbox(&args.mailbox) {
            Ok(mailbox) => mailbox,
            Err(e) => return reply(Status::TooMany, Vec::new(), BoundedVec::default(), e.to_string()),
        };
        let (settled, removal) = mailbox.queue_acks(&args.receipts);
        let wanted = (args.max, args.wait_ms, args.linger_ms);
        let batch = self.take_batch(call, &mailbox, args.source.as_deref(), wanted).await;
        let removed = match removal {
            Some(removal) => removal.done().await,
            None => Ok(()),
        };
        if let Err(e) = removed {
            mailbox.give_back(batch);
            return reply(Status::StoreFailed, Vec::new(), BoundedVec::default(), not_forgotten(e));
        }
        reply(Status::Ok, settled, on_the_wire(batch), String::new())
    }

    async fn settle(&self, args: SettleArgs, ack: bool) -> SettleReply {
        let reply = |status, settled, reason: String| SettleReply { status, settled, reason };
        let Some(mailbox) = lock(&self.mailboxes).get(args.mailbox.as_str()).cloned() else {
            return reply(Status::Ok, false, format!("no mailbox `{}`", args.mailbox.as_str()));
        };
        let receipt = Receipt { id: args.id, delivery: args.delivery, incarnation: args.incarnation };
        if !ack {
            return reply(Status::Ok, mailbox.release(receipt), String::new());
        }
        match mailbox.ack(receipt).await {
            Ok(settled) => reply(Status::Ok, settled, String::new()),
            Err(e) => reply(Status::StoreFailed, true, not_forgotten(e)),
        }
    }

    async fn ack_batch(&self, args: AckBatchArgs) -> AckBatchReply {
        let reply = |status, settled, reason: String| AckBatchReply { status, settled, reason };
        let Some(mailbox) = lock(&self.mailboxes).get(args.mailbox.as_str()).cloned() else {
            let none = BoundedVec::new(vec![false; args.receipts.len()]).unwrap_or_default();
            return reply(Status::Ok, none, format!("no mailbox `{}`", args.mailbox.as_str()));
        };
        match mailbox.ack_batch(&args.receipts).await {
            Ok(settled) => reply(Status::Ok, BoundedVec::new(settled).unwrap_or_default(), String::new()),
            Err(e) => reply(Status::StoreFailed, BoundedVec::default(), not_forgotten(e)),
        }
    }

    fn list(&self) -> Vec<MailboxInfo> {
        self.mailboxes()
            .iter()
            .filter_map(|mailbox| Some(MailboxInfo { name: Name::new(mailbox.name()).ok()?, stats: mailbox.stats() }))
            .collect()
    }

    /// The post office as an ONC RPC service, to register as the mailbox program
    /// ([`PROGRAM`](super::protocol::PROGRAM), [`VERSION`](super::protocol::VERSION)).
    pub fn service(self: &Arc<Self>) -> Procedures {
        let (send, receive, ack, release, list) =
            (self.clone(), self.clone(), self.clone(), self.clone(), self.clone());
        let (receive_batch, ack_batch, ack_receive_batch) = (self.clone(), self.clone(), self.clone());
        Procedures::new()
            .typed_call(SEND, move |call, args: SendArgs| {
                let office = send.clone();
                async move { office.send(&call, args).await }
            })
            .typed_call(RECEIVE, move |call, args: ReceiveArgs| {
                let office = receive.clone();
                async move { office.receive(&call, args).await }
            })
            .typed(ACK, move |args: SettleArgs| {
                let office = ack.clone();
                async move { office.settle(args, true).await }
            })
            .typed(RELEASE, move |args: SettleArgs| {
                let office = release.clone();
                async move { office.settle(args, false).await }
            })
            .typed(LIST, move |()| {
                let all = list.list();
                async move { all }
            })
            .typed_call(RECEIVE_BATCH, move |call, args: ReceiveBatchArgs| {
                let office = receive_batch.clone();
                async move { office.receive_batch(&call, args).await }
            })
            .typed(ACK_BATCH, move |args: AckBatchArgs| {
                let office = ack_batch.clone();
                async move { office.ack_batch(args).await }
            })
            .typed_call(ACK_RECEIVE_BATCH, move |call, args: AckReceiveBatchArgs| {
                let office = ack_receive_batch.clone();
                async move { office.ack_receive_batch(&call, args).await }
            })
    }
}

/// Why an acknowledgement failed: its removal from the store did.
fn not_forgotten(e: std::io::Error) -> String {
    format!("acknowledged, but not forgotten on disk: {e}")
}

/// A batch as the receive procedures' replies carry it.
fn on_the_wire(batch: Vec<Delivery>) -> BoundedVec<Delivered, MAX_BATCH> {
    BoundedVec::new(batch.into_iter().filter_map(delivered).collect()).unwrap_or_default()
}

/// A delivery as the receive procedures' replies carry it.
fn delivered(delivery: Delivery) -> Option<Delivered> {
    let (m, receipt) = delivery.into_parts();
    // Names and bodies came in through the same bounds.
    let (source, body) = (Name::new(m.source).ok()?, Body::new(m.body).ok()?);
    let Receipt { id, delivery, incarnation } = receipt;
    Some(Delivered { id, delivery, incarnation, durable: m.durable, source, body })
}
