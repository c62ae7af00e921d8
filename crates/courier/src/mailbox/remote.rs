//! Mailboxes of a node, from anywhere: [`RemoteMailbox`] has the same modes as the
//! in-process [`Mailbox`](super::Mailbox) — asynchronous, synchronous and durable send;
//! non-blocking, waiting, timed and event-driven receive with an optional source filter;
//! acknowledgement by receipt — each one call of the mailbox program
//! ([`protocol`](super::protocol)) to the node; and batches
//! ([`RemoteMailbox::receive_batch`], [`RemoteMailbox::ack_batch`]) that carry many
//! messages or receipts in one call, and for a receiver that goes on receiving, both in
//! one call ([`RemoteMailbox::ack_and_receive_batch`]).
//!
//! A waiting receive is a long poll: the node holds the call until a message comes or
//! the wait ends. A message received but never acknowledged (its receiver crashed, its
//! reply was lost) is delivered again after the mailbox's visibility timeout.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;

use courier_xdr::BoundedVec;

use super::protocol::{
    AckBatchArgs, AckBatchReply, AckReceiveBatchArgs, AckReceiveBatchReply, Body, Delivered, MailboxInfo, MailboxRef,
    Name, ReceiveArgs, ReceiveBatchArgs, ReceiveBatchReply, ReceiveReply, SendArgs, SendMode, SendReply, SettleArgs,
    SettleReply, Status, ACK, ACK_BATCH, ACK_RECEIVE_BATCH, LIST, MAX_BATCH, MAX_BODY, PROGRAM, RECEIVE, RECEIVE_BATCH,
    RELEASE, SEND, VERSION,
};
use super::{Message, Receipt};
use crate::rpc::{CallError, CallOptions, Client, ClientConfig, ProcId};
use crate::transport::Endpoint;

/// How long one long poll of [`RemoteMailbox::receive`] waits before it asks again.
const POLL: Duration = Duration::from_secs(20);
/// Time for a waiting call's reply to come back, on top of its wait.
const SLACK: Duration = Duration::from_secs(5);
/// How long a send waits at the node by default, for room or for a receiver.
const SEND_WAIT: Duration = Duration::from_secs(20);

/// Why a call to a node's mailbox failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The call failed (no node there, the connection broke, …).
    #[error(transparent)]
    Call(#[from] CallError),
    /// The mailbox is full and refuses senders (or stayed full the whole wait).
    #[error("{0}")]
    Full(String),
    /// A durable send could not be persisted (a full disk, say): it was not sent. Or an
    /// acknowledgement could not be persisted: the message may come again after a crash.
    #[error("{0}")]
    Store(String),
    /// A durable send to a node without durable state.
    #[error("{0}")]
    NoStore(String),
    /// The node holds as many mailboxes as it may.
    #[error("the node holds as many mailboxes as it may")]
    TooMany,
    /// A synchronous send was queued but no receiver took it in time.
    #[error("{0}")]
    NotTaken(String),
    /// The message is larger than the mailbox program carries.
    #[error("a message is at most {MAX_BODY} bytes; this one has {0}")]
    TooLarge(usize),
    /// A mailbox or source name longer than 255 bytes.
    #[error("a mailbox or source name is at most 255 bytes: `{0}`")]
    BadName(String),
}

fn millis(wait: Duration) -> u32 {
    u32::try_from(wait.as_millis()).unwrap_or(u32::MAX)
}

fn name(text: &str) -> Result<Name, RemoteError> {
    Name::new(text).map_err(|_| RemoteError::BadName(text.to_owned()))
}

/// A client of a node's mailbox program.
#[derive(Debug, Clone)]
pub struct MailboxClient {
    client: Client,
    node: Option<SocketAddr>,
}

impl MailboxClient {
    /// Over `client`, connected to a node.
    pub fn new(client: Client) -> Self {
        MailboxClient { client, node: None }
    }

    /// Connects to the node at `node` (TCP).
    pub async fn connect(node: SocketAddr) -> std::io::Result<Self> {
        let client = Client::connect(&Endpoint::Tcp(node), ClientConfig::default()).await?;
        Ok(MailboxClient { client, node: Some(node) })
    }

    /// The mailbox `name` of the node (made there on first use).
    pub fn mailbox(&self, name: &str) -> Result<RemoteMailbox, RemoteError> {
        Ok(RemoteMailbox { office: self.clone(), name: self::name(name)?, wait: SEND_WAIT, linger: Duration::ZERO })
    }

    /// Every mailbox of the node, sorted by name, with its depth, consumers and rates.
    pub async fn list(&self) -> Result<Vec<MailboxInfo>, RemoteError> {
        self.call(LIST, &(), CallOptions::idempotent(true)).await
    }

    async fn call<A: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        proc: u32,
        args: &A,
        options: CallOptions,
    ) -> Result<R, RemoteError> {
        let call = ProcId { prog: PROGRAM, vers: VERSION, proc };
        Ok(self.client.call_with(call, args, &options).await?)
    }
}

/// A mailbox of a node. Clones share the connection.
#[derive(Debug, Clone)]
pub struct RemoteMailbox {
    office: MailboxClient,
    name: Name,
    wait: Duration,
    linger: Duration,
}

/// A message received from a node's mailbox, to acknowledge once processed.
#[derive(Debug)]
#[must_use = "a delivery that is not acknowledged is delivered again"]
pub struct RemoteDelivery {
    message: Message,
    receipt: Receipt,
    mailbox: RemoteMailbox,
}

impl RemoteDelivery {
    /// The message (`deliveries` is this delivery's number).
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// This delivery's receipt.
    pub fn receipt(&self) -> Receipt {
        self.receipt
    }

    /// The message and its receipt, letting the handle go: acknowledge it later by the
    /// receipt, with [`RemoteMailbox::ack_batch`] (with others) or [`RemoteMailbox::ack`].
    pub fn into_parts(self) -> (Message, Receipt) {
        (self.message, self.receipt)
    }

    /// Acknowledges it: removed for good (for a persisted message, once that is on the
    /// node's disk). False if it was too late: its visibility timeout passed.
    pub async fn ack(self) -> Result<bool, RemoteError> {
        self.mailbox.ack(self.receipt).await
    }

    /// Gives it back unprocessed, for another delivery at once.
    pub async fn release(self) -> Result<bool, RemoteError> {
        self.mailbox.settle(RELEASE, self.receipt).await
    }
}

impl RemoteMailbox {
    /// Connects to the node of `reference` and opens its mailbox.
    pub async fn open(reference: &MailboxRef) -> Result<RemoteMailbox, RemoteError> {
        let office = MailboxClient::connect(reference.node).await.map_err(|source| {
            RemoteError::Call(CallError::Io {
                peer: reference.node.to_string(),
                call: ProcId { prog: PROGRAM, vers: VERSION, proc: 0 },
                source,
            })
        })?;
        office.mailbox(&reference.name)
    }

    /// The mailbox's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A reference to it, to pass to other machines (when its node's address is known:
    /// it was opened with [`MailboxClient::connect`] or [`RemoteMailbox::open`]).
    pub fn reference(&self) -> Option<MailboxRef> {
        Some(MailboxRef { node: self.office.node?, name: self.name.to_string() })
    }

    /// How long a send waits at the node for room in a full mailbox, and a synchronous
    /// send for a receiver to take its message (20 s unless set).
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// How long a batch receive ([`RemoteMailbox::receive_batch`],
    /// [`RemoteMailbox::ack_and_receive_batch`]) keeps its batch open at the node after
    /// the first message, for more up to its `max` (none unless set): fewer, fuller
    /// batches — less work per message for the receiver and the node — for messages
    /// that may wait that much longer. While a receiver fills its batch, new messages go
    /// to it rather than to another receiver.
    pub fn with_linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Asynchronous send: returns the message's id once the node has queued it.
    pub async fn send(&self, source: &str, body: Bytes) -> Result<u64, RemoteError> {
        self.send_as(SendMode::Async, source, body).await
    }

    /// Synchronous send: returns once a receiver has taken the message.
    pub async fn send_sync(&self, source: &str, body: Bytes) -> Result<u64, RemoteError> {
        self.send_as(SendMode::Sync, source, body).await
    }

    /// Durable send: returns once the node has persisted the message (synced to disk).
    pub async fn send_durable(&self, source: &str, body: Bytes) -> Result<u64, RemoteError> {
        self.send_as(SendMode::Durable, source, body).await
    }

    async fn send_as(&self, mode: SendMode, source: &str, body: Bytes) -> Result<u64, RemoteError> {
        let size = body.len();
        let body = Body::new(body).map_err(|_| RemoteError::TooLarge(size))?;
        let wait_ms = millis(self.wait);
        let args = SendArgs { mailbox: self.name.clone(), source: name(source)?, mode, wait_ms, body };
        let options = CallOptions { timeout: Some(self.wait + SLACK), ..CallOptions::default() };
        let reply: SendReply = self.office.call(SEND, &args, options).await?;
        match reply.status {
            Status::Ok => Ok(reply.id),
            Status::Full => Err(RemoteError::Full(reply.reason)),
            Status::StoreFailed => Err(RemoteError::Store(reply.reason)),
            Status::NoStore => Err(RemoteError::NoStore(reply.reason)),
            Status::TooMany => Err(RemoteError::TooMany),
            Status::NotTaken => Err(RemoteError::NotTaken(reply.reason)),
        }
    }

    /// Non-blocking receive: the oldest message (from `source`, if given), if any.
    pub async fn try_receive(&self, source: Option<&str>) -> Result<Option<RemoteDelivery>, RemoteError> {
        Ok(self.receive_within(source, 1, Duration::ZERO).await?.pop())
    }

    /// Receives the next message (from `source`, if given), waiting at most `timeout`;
    /// `None` if none came.
    pub async fn receive_timeout(
        &self,
        source: Option<&str>,
        timeout: Duration,
    ) -> Result<Option<RemoteDelivery>, RemoteError> {
        Ok(self.receive_batch(source, 1, timeout).await?.pop())
    }

    /// Receives a batch in one call (RECEIVE_BATCH): waits at most `timeout` for a
    /// message (from `source`, if given), then takes it and those waiting behind it, at
    /// most `max` (and at most [`MAX_BATCH`], and beyond the first at most
    /// [`MAX_BODY`] bytes of bodies and sources), and with a linger
    /// ([`RemoteMailbox::with_linger`]) what comes meanwhile. Empty if none came in time.
    /// Acknowledge them together with [`RemoteMailbox::ack_batch`].
    pub async fn receive_batch(
        &self,
        source: Option<&str>,
        max: u32,
        timeout: Duration,
    ) -> Result<Vec<RemoteDelivery>, RemoteError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let deadline = tokio::time::Instant::now().checked_add(timeout);
        loop {
            let left = time_left(deadline);
            let batch = self.receive_within(source, max, left.min(POLL)).await?;
            if !batch.is_empty() || left <= POLL {
                return Ok(batch);
            }
        }
    }

    /// Acknowledges one delivery by its receipt (see [`RemoteDelivery::ack`]).
    pub async fn ack(&self, receipt: Receipt) -> Result<bool, RemoteError> {
        self.settle(ACK, receipt).await
    }

    /// Acknowledges many deliveries (ACK_BATCH, one call per [`MAX_BATCH`] receipts; on
    /// the node, persisted messages are forgotten in one commit): for each receipt, in
    /// order, false if it was too late.
    pub async fn ack_batch(&self, receipts: &[Receipt]) -> Result<Vec<bool>, RemoteError> {
        let mut settled = Vec::with_capacity(receipts.len());
        for chunk in receipts.chunks(MAX_BATCH as usize) {
            let receipts = BoundedVec::new(chunk.to_vec()).expect("chunks of at most MAX_BATCH");
            let args = AckBatchArgs { mailbox: self.name.clone(), receipts };
            // Settling deliveries twice settles nothing more: safe to resend.
            let reply: AckBatchReply = self.office.call(ACK_BATCH, &args, CallOptions::idempotent(true)).await?;
            match reply.status {
                Status::StoreFailed => return Err(RemoteError::Store(reply.reason)),
                _ if reply.settled.len() != chunk.len() => return Err(RemoteError::Store(reply.reason)),
                _ => settled.extend(reply.settled.iter()),
            }
        }
        Ok(settled)
    }

    /// Acknowledges `receipts` and receives the next batch, in one call
    /// (ACK_RECEIVE_BATCH) where [`RemoteMailbox::ack_batch`] and
    /// [`RemoteMailbox::receive_batch`] take two: for each receipt, in order, whether its
    /// message will not come again; then what `receive_batch(source, max, timeout)`
    /// would return. The answer comes once both are done: the removals on the node's
    /// disk, and the batch taken (or the wait over). On a busy durable mailbox the
    /// removals share the commit of the next message, so they cost the receiver no wait
    /// of their own. All but the last [`MAX_BATCH`] receipts are acknowledged first, by
    /// ACK_BATCH. If the removals failed, the error says so, and the messages the call
    /// took went back, first in line.
    pub async fn ack_and_receive_batch(
        &self,
        receipts: &[Receipt],
        source: Option<&str>,
        max: u32,
        timeout: Duration,
    ) -> Result<(Vec<bool>, Vec<RemoteDelivery>), RemoteError> {
        if max == 0 {
            return Ok((self.ack_batch(receipts).await?, Vec::new()));
        }
        let (before, last) = receipts.split_at(receipts.len().saturating_sub(MAX_BATCH as usize));
        let mut settled = self.ack_batch(before).await?;
        let deadline = tokio::time::Instant::now().checked_add(timeout);
        let wait = timeout.min(POLL);
        let args = AckReceiveBatchArgs {
            mailbox: self.name.clone(),
            receipts: BoundedVec::new(last.to_vec()).expect("at most MAX_BATCH"),
            source: source.map(name).transpose()?,
            wait_ms: millis(wait),
            max,
            linger_ms: millis(self.linger),
        };
        let options = CallOptions { timeout: Some(self.lingering(wait)), ..CallOptions::default() };
        let reply: AckReceiveBatchReply = self.office.call(ACK_RECEIVE_BATCH, &args, options).await?;
        match reply.status {
            Status::TooMany => return Err(RemoteError::TooMany),
            Status::Ok if reply.settled.len() == last.len() => settled.extend(reply.settled.iter()),
            _ => return Err(RemoteError::Store(reply.reason)),
        }
        let mut batch: Vec<_> = reply.messages.into_vec().into_iter().map(|m| self.delivery(m)).collect();
        let left = time_left(deadline);
        if batch.is_empty() && timeout > POLL && !left.is_zero() {
            batch = self.receive_batch(source, max, left).await?;
        }
        Ok((settled, batch))
    }

    /// Receives the next message (from `source`, if given), waiting for one.
    pub async fn receive(&self, source: Option<&str>) -> Result<RemoteDelivery, RemoteError> {
        loop {
            if let Some(delivery) = self.receive_within(source, 1, POLL).await?.pop() {
                return Ok(delivery);
            }
        }
    }

    /// Event-driven receive: every message, as it comes (from `source`, if given); ends
    /// after the first error.
    pub fn deliveries(&self, source: Option<String>) -> impl Stream<Item = Result<RemoteDelivery, RemoteError>> {
        futures_util::stream::unfold(Some((self.clone(), source)), |state| async move {
            let (mailbox, source) = state?;
            match mailbox.receive(source.as_deref()).await {
                Ok(delivery) => Some((Ok(delivery), Some((mailbox, source)))),
                Err(e) => Some((Err(e), None)),
            }
        })
    }

    /// One call that waits at most `wait` at the node: RECEIVE for one message,
    /// RECEIVE_BATCH for more.
    async fn receive_within(
        &self,
        source: Option<&str>,
        max: u32,
        wait: Duration,
    ) -> Result<Vec<RemoteDelivery>, RemoteError> {
        let (mailbox, source, wait_ms) = (self.name.clone(), source.map(name).transpose()?, millis(wait));
        let (status, messages) = if max == 1 {
            let args = ReceiveArgs { mailbox, source, wait_ms };
            let options = CallOptions { timeout: Some(wait + SLACK), ..CallOptions::default() };
            let reply: ReceiveReply = self.office.call(RECEIVE, &args, options).await?;
            (reply.status, reply.message.into_iter().collect())
        } else {
            let args = ReceiveBatchArgs { mailbox, source, wait_ms, max, linger_ms: millis(self.linger) };
            let options = CallOptions { timeout: Some(self.lingering(wait)), ..CallOptions::default() };
            let reply: ReceiveBatchReply = self.office.call(RECEIVE_BATCH, &args, options).await?;
            (reply.status, reply.messages.into_vec())
        };
        if status == Status::TooMany {
            return Err(RemoteError::TooMany);
        }
        Ok(messages.into_iter().map(|m| self.delivery(m)).collect())
    }

    /// How long to wait for the answer to a batch receive that waits `wait` at the node,
    /// then lingers.
    fn lingering(&self, wait: Duration) -> Duration {
        wait.saturating_add(self.linger).saturating_add(SLACK)
    }

    fn delivery(&self, m: Delivered) -> RemoteDelivery {
        RemoteDelivery {
            receipt: Receipt { id: m.id, delivery: m.delivery, incarnation: m.incarnation },
            message: Message {
                id: m.id,
                source: m.source.into_string(),
                body: m.body.into_bytes(),
                deliveries: m.delivery,
                durable: m.durable,
            },
            mailbox: self.clone(),
        }
    }

    async fn settle(&self, proc: u32, receipt: Receipt) -> Result<bool, RemoteError> {
        let Receipt { id, delivery, incarnation } = receipt;
        let args = SettleArgs { mailbox: self.name.clone(), id, delivery, incarnation };
        // Settling one delivery twice settles nothing more: safe to resend.
        let reply: SettleReply = self.office.call(proc, &args, CallOptions::idempotent(true)).await?;
        match reply.status {
            Status::StoreFailed => Err(RemoteError::Store(reply.reason)),
            _ => Ok(reply.settled),
        }
    }
}

/// The time left until `deadline`; no deadline (a timeout past the clock's end): forever.
fn time_left(deadline: Option<tokio::time::Instant>) -> Duration {
    deadline.map_or(Duration::MAX, |at| at.saturating_duration_since(tokio::time::Instant::now()))
}
