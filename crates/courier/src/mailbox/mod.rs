//! Message passing (issue 8, first part): mailboxes in process — the seeds' ports with
//! every mode of send and receive — on the sans-IO [`queue`].
//!
//! A [`Mailbox`] has a name, any number of senders and one receiver or a group of
//! competing receivers (every clone of a mailbox handle can receive; each message goes
//! to one of them). Sending is asynchronous ([`Mailbox::send`]: returns once the message
//! is queued) or synchronous ([`Mailbox::send_sync`]: returns once a receiver has taken
//! it). Receiving is non-blocking ([`Mailbox::try_receive`]), waiting
//! ([`Mailbox::receive`], a future), with a timeout ([`Mailbox::receive_timeout`]) or
//! event-driven ([`Mailbox::deliveries`], a `Stream`), optionally only from one source,
//! one message at a time or in batches ([`Mailbox::receive_batch`],
//! [`Mailbox::ack_batch`]).
//! A received message is removed only when its [`Delivery`] is acknowledged; otherwise
//! it is delivered again after the visibility timeout, and after the configured number
//! of deliveries it goes to the dead-letter mailbox, if there is one. A full mailbox
//! makes senders wait or refuses them, as configured.
//!
//! A durable mailbox ([`Mailbox::durable`]) keeps the messages of durable sends in a
//! [`store`] until they are acknowledged. See `docs/mailboxes.md`.

#[cfg(feature = "jetstream")]
pub mod jetstream;
pub mod post_office;
pub mod protocol;
pub mod queue;
pub mod remote;
mod stats;
pub mod store;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::{oneshot, Notify};

use crate::sync::lock;
use queue::{Acked, Batch, Full, Queue};
pub use queue::{Message, QueueConfig, WhenFull};
pub use stats::MailboxStats;
use stats::Meter;

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The mailbox is full and refuses senders (`WhenFull::Reject`).
    #[error("mailbox `{0}` is full")]
    Full(String),
    /// A durable send could not persist its message (a full disk, say): the message was
    /// not sent.
    #[error("mailbox `{0}`: the message could not be persisted: {1}")]
    Store(String, String),
}

/// A mailbox; clones are handles on the same mailbox.
#[derive(Clone, Debug)]
pub struct Mailbox {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    name: String,
    /// This opening of the mailbox (the clock when it was opened): part of every
    /// receipt, since delivery numbers start again when a mailbox is opened again.
    incarnation: u64,
    state: Mutex<State>,
    /// Messages arrived (or came back): receivers look again.
    arrived: Notify,
    /// Room freed: waiting senders look again.
    room: Notify,
    /// Receivers waiting in [`Mailbox::receive`] now.
    receivers: AtomicUsize,
    /// Those of them waiting for one source only: while there are any, a new message
    /// wakes every receiver (one woken alone might not want it), else just one.
    choosy: AtomicUsize,
    /// Receivers keeping a batch open for more ([`Mailbox::receive_batch_lingering`]):
    /// while there are any, a new message wakes one of them (through `fill`), not a
    /// waiting receiver, so that the batches fill instead of each waking receiver taking a
    /// message or two.
    filling: AtomicUsize,
    /// A message arrived for the receivers filling a batch.
    fill: Notify,
    dead_letters: Option<Mailbox>,
    /// Where durable sends persist their messages (the store, behind group commit), if
    /// anywhere.
    store: Option<store::GroupCommit>,
    /// The task that puts unacknowledged messages back in line when their visibility
    /// timeout passes (and moves dead letters out), started by the first delivery.
    reaper: std::sync::OnceLock<tokio::task::JoinHandle<()>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(reaper) = self.reaper.get() {
            reaper.abort();
        }
    }
}

#[derive(Debug)]
struct State {
    queue: Queue,
    /// Synchronous senders waiting for their message to be taken, by message id.
    takers: std::collections::HashMap<u64, oneshot::Sender<()>>,
    sent: Meter,
    received: Meter,
    acknowledged: u64,
}

/// What names one delivery, to acknowledge or release it by: the message, which
/// delivery of it, and which opening of the mailbox delivered it (delivery numbers
/// start again after a restart, so a receipt from before one never matches a delivery
/// after it). On the wire it is the mailbox program's `receipt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Receipt {
    /// The message's id.
    pub id: u64,
    /// The delivery's number (1 the first time).
    pub delivery: u32,
    /// The mailbox's incarnation when it delivered.
    pub incarnation: u64,
}

/// A received message, to acknowledge once processed.
#[derive(Debug)]
#[must_use = "a delivery that is not acknowledged is delivered again"]
pub struct Delivery {
    message: Message,
    mailbox: Mailbox,
}

impl Delivery {
    /// The message.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// Acknowledges the message: it is removed for good (from the store in the
    /// background: a removal lost in a crash means one more delivery after the restart;
    /// [`Delivery::ack_durable`] waits for it). False if it was too late (its visibility
    /// timeout passed and it waits or was delivered again).
    pub fn ack(self) -> bool {
        let (settled, persisted) = self.mailbox.take_settled(&[self.receipt()]);
        if !persisted.is_empty() {
            self.mailbox.forget(persisted);
        }
        settled == [true]
    }

    /// Acknowledges the message and, if it is persisted, returns once its removal from
    /// the store is on disk too: it is never delivered again, even after a crash.
    pub async fn ack_durable(self) -> std::io::Result<bool> {
        self.mailbox.ack(self.receipt()).await
    }

    /// This delivery's receipt.
    pub fn receipt(&self) -> Receipt {
        Receipt { id: self.message.id, delivery: self.message.deliveries, incarnation: self.mailbox.shared.incarnation }
    }

    /// The message and its receipt, letting the handle go: acknowledge it later by the
    /// receipt with [`Mailbox::ack`] or [`Mailbox::release`], as the node does for
    /// remote receivers.
    pub fn into_parts(self) -> (Message, Receipt) {
        let receipt = self.receipt();
        (self.message, receipt)
    }

    /// Gives the message back unprocessed, for another delivery at once.
    pub fn release(self) -> bool {
        self.mailbox.release(self.receipt())
    }
}

impl Mailbox {
    /// A new mailbox.
    pub fn new(name: &str, config: QueueConfig) -> Mailbox {
        Mailbox::assemble(name, config, Vec::new(), None, None)
    }

    /// A new mailbox whose messages go to `dead_letters` after their last delivery.
    pub fn with_dead_letters(name: &str, config: QueueConfig, dead_letters: Mailbox) -> Mailbox {
        Mailbox::assemble(name, config, Vec::new(), Some(dead_letters), None)
    }

    /// A durable mailbox: its messages sent with [`Mailbox::send_durable`] are kept in
    /// `store` until acknowledged, and those already there are waiting again, oldest
    /// first. Blocks on the disk while it loads them.
    pub fn durable(name: &str, config: QueueConfig, store: Arc<dyn store::Store>) -> std::io::Result<Mailbox> {
        Mailbox::open(name, config, Some(store::GroupCommit::new(store)), None)
    }

    /// A mailbox, durable when given a store (see [`Mailbox::durable`]; mailboxes opened
    /// with clones of one group commit share its syncs), whose messages go to
    /// `dead_letters`, if given, after their last delivery. Persisted messages stay
    /// persisted as dead letters when the dead-letter mailbox is durable too.
    pub fn open(
        name: &str,
        config: QueueConfig,
        store: Option<store::GroupCommit>,
        dead_letters: Option<Mailbox>,
    ) -> std::io::Result<Mailbox> {
        let Some(store) = store else { return Ok(Mailbox::assemble(name, config, Vec::new(), dead_letters, None)) };
        let messages = store
            .store()
            .load(name)?
            .into_iter()
            .map(|r| Message { id: r.id, source: r.source, body: r.body, deliveries: 0, durable: true })
            .collect();
        Ok(Mailbox::assemble(name, config, messages, dead_letters, Some(store)))
    }

    /// A mailbox holding `messages` (reloaded from its store) to begin with.
    fn assemble(
        name: &str,
        config: QueueConfig,
        messages: Vec<Message>,
        dead_letters: Option<Mailbox>,
        store: Option<store::GroupCommit>,
    ) -> Mailbox {
        let now = Instant::now();
        let incarnation = first_id();
        let state = State {
            queue: Queue::restore(config, messages, incarnation),
            takers: Default::default(),
            sent: Meter::new(now),
            received: Meter::new(now),
            acknowledged: 0,
        };
        let shared = Shared {
            name: name.to_owned(),
            incarnation,
            state: Mutex::new(state),
            arrived: Notify::new(),
            room: Notify::new(),
            receivers: AtomicUsize::new(0),
            choosy: AtomicUsize::new(0),
            filling: AtomicUsize::new(0),
            fill: Notify::new(),
            dead_letters,
            store,
            reaper: std::sync::OnceLock::new(),
        };
        Mailbox { shared: Arc::new(shared) }
    }

    /// The mailbox's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Whether its durable sends persist messages.
    pub fn is_durable(&self) -> bool {
        self.shared.store.is_some()
    }

    /// Whether a durable message sent now would likely be written on the sender's
    /// thread ([`store::GroupCommit::idle`]).
    pub(crate) fn store_idle(&self) -> bool {
        self.shared.store.as_ref().is_some_and(|group| group.idle())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.shared.state)
    }

    /// Messages waiting, and messages delivered but not acknowledged.
    pub fn depth(&self) -> (usize, usize) {
        let state = self.lock();
        (state.queue.waiting(), state.queue.in_flight())
    }

    /// What the mailbox holds and how busy it is.
    pub fn stats(&self) -> MailboxStats {
        let now = Instant::now();
        let state = self.lock();
        MailboxStats {
            waiting: state.queue.waiting() as u64,
            in_flight: state.queue.in_flight() as u64,
            consumers: u32::try_from(self.shared.receivers.load(Ordering::Relaxed)).unwrap_or(u32::MAX),
            durable: self.is_durable(),
            sent: state.sent.total(),
            received: state.received.total(),
            acknowledged: state.acknowledged,
            sent_rate: state.sent.rate(now),
            received_rate: state.received.rate(now),
        }
    }

    /// Asynchronous send: returns the message's id once it is queued (waiting for room
    /// first, or failing, when the mailbox is full, as configured).
    pub async fn send(&self, source: &str, body: Bytes) -> Result<u64, SendError> {
        let id = self.reserve().await?;
        Ok(self.post(id, source, body, None))
    }

    /// Durable send: returns the message's id once it is persisted in the mailbox's
    /// store (synced to disk; concurrent durable sends share a sync). Receivers see it
    /// only then. On a mailbox without a store it is an asynchronous send.
    pub async fn send_durable(&self, source: &str, body: Bytes) -> Result<u64, SendError> {
        let id = self.reserve().await?;
        self.persist(id, source, body, false).await
    }

    /// Synchronous send: returns once a receiver has taken the message (the seeds'
    /// blocking send; the rendezvous of a synchronous channel).
    pub async fn send_sync(&self, source: &str, body: Bytes) -> Result<u64, SendError> {
        let id = self.reserve().await?;
        let (taken, waited) = oneshot::channel();
        self.post(id, source, body, Some(taken));
        let _ = waited.await;
        Ok(id)
    }

    /// Makes a message receivable in the room reserved for it (`id`, from
    /// [`Mailbox::reserve`]); `taker` hears when a receiver takes it. Returns `id`.
    pub(crate) fn post(&self, id: u64, source: &str, body: Bytes, taker: Option<oneshot::Sender<()>>) -> u64 {
        self.admit(Message { id, source: source.to_owned(), body, deliveries: 0, durable: false }, taker);
        id
    }

    /// Persists a message in the room reserved for it (`id`), then makes it receivable
    /// (without a store, at once). The message is queued for the store now; dropping the
    /// future does not take it back: once written it is still admitted (it may be on
    /// disk, so it must not vanish until a restart), or its room is given back if the
    /// write failed. `here`: the message may be written on this thread, before this
    /// returns ([`store::GroupCommit::append_here`]).
    pub(crate) fn persist(&self, id: u64, source: &str, body: Bytes, here: bool) -> Persisting {
        let durable = self.shared.store.is_some();
        let message = Message { id, source: source.to_owned(), body, deliveries: 0, durable };
        let committed = self.shared.store.as_ref().map(|group| {
            let (source, body) = (message.source.clone(), message.body.clone());
            let record = store::Record { mailbox: self.shared.name.clone(), id, source, body };
            if here {
                group.append_here(record)
            } else {
                group.queue_append(record)
            }
        });
        Persisting { mailbox: self.clone(), message: Some(message), committed }
    }

    /// Admits a message whose write is over, or gives its room back if it failed.
    fn settle_persisted(&self, message: Message, written: std::io::Result<()>) -> Result<u64, SendError> {
        match written {
            Ok(()) => {
                let id = message.id;
                self.admit(message, None);
                Ok(id)
            }
            Err(e) => {
                self.lock().queue.cancel();
                self.shared.room.notify_waiters();
                Err(SendError::Store(self.shared.name.clone(), e.to_string()))
            }
        }
    }

    /// Sets room and an id aside for a message, waiting for room (or failing) when the
    /// mailbox is full, as configured.
    pub(crate) async fn reserve(&self) -> Result<u64, SendError> {
        loop {
            let room = self.shared.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut state = self.lock();
                self.expire(&mut state);
                match state.queue.reserve() {
                    Ok(id) => return Ok(id),
                    Err(Full) if state.queue.config().when_full == WhenFull::Reject => {
                        return Err(SendError::Full(self.shared.name.clone()))
                    }
                    Err(Full) => {}
                }
            }
            room.await;
        }
    }

    /// Makes a reserved message receivable; `taker` hears when it is taken.
    fn admit(&self, message: Message, taker: Option<oneshot::Sender<()>>) {
        let mut state = self.lock();
        if let Some(taker) = taker {
            state.takers.insert(message.id, taker);
        }
        state.queue.admit(message);
        state.sent.record(Instant::now());
        drop(state);
        // One message, one receiver to wake (a woken receiver that gives up passes its
        // wake-up on; one filling a batch hands on what it leaves), unless some receivers
        // are choosy.
        if self.shared.choosy.load(Ordering::SeqCst) > 0 {
            self.shared.arrived.notify_waiters();
            self.shared.fill.notify_waiters();
        } else if self.shared.filling.load(Ordering::SeqCst) > 0 {
            self.shared.fill.notify_one();
        } else {
            self.shared.arrived.notify_one();
        }
    }

    /// Acknowledges the delivery of `receipt` (as a remote receiver holds it): removes
    /// the message, and returns once its removal from the store, if it was persisted, is
    /// on disk. True when the message will not come again (also when it was gone
    /// already: acknowledging twice is harmless); false when that delivery is over and
    /// the message waits for, or went to, another.
    pub async fn ack(&self, receipt: Receipt) -> std::io::Result<bool> {
        Ok(self.ack_batch(&[receipt]).await? == [true])
    }

    /// Acknowledges the deliveries of `receipts` at once, as [`Mailbox::ack`] does one
    /// (the persisted ones leave the store in one commit): for each, whether its message
    /// will not come again.
    pub async fn ack_batch(&self, receipts: &[Receipt]) -> std::io::Result<Vec<bool>> {
        let (settled, removal) = self.queue_acks(receipts);
        if let Some(removal) = removal {
            removal.done().await?;
        }
        Ok(settled)
    }

    /// Acknowledges the deliveries of `receipts` as [`Mailbox::ack_batch`] does, but
    /// returns at once: for each, whether its message will not come again; and the
    /// removal of the persisted ones from the store, queued for a round to come.
    pub(crate) fn queue_acks(&self, receipts: &[Receipt]) -> (Vec<bool>, Option<store::Removal>) {
        let (settled, persisted) = self.take_settled(receipts);
        let removal = match (persisted.is_empty(), &self.shared.store) {
            (false, Some(durable)) => Some(durable.queue_removal(&self.shared.name, &persisted)),
            _ => None,
        };
        (settled, removal)
    }

    /// Messages came back (given back, or past their visibility timeout): every receiver
    /// looks again, those filling a batch too.
    fn came_back(&self) {
        self.shared.arrived.notify_waiters();
        self.shared.fill.notify_waiters();
    }

    /// Gives a batch taken from this mailbox back unprocessed, first in line and in its
    /// order (the newest goes back first, so that the oldest ends up first).
    pub(crate) fn give_back(&self, batch: Vec<Delivery>) {
        if batch.is_empty() {
            return;
        }
        let mut state = self.lock();
        for delivery in batch.into_iter().rev() {
            state.queue.release(delivery.message.id, delivery.message.deliveries);
        }
        drop(state);
        self.came_back();
    }

    /// Gives the delivery of `receipt` back unprocessed, first in line. False if that
    /// delivery is no longer in flight.
    pub fn release(&self, receipt: Receipt) -> bool {
        let released = self.lock().queue.release(receipt.id, self.delivery_of(receipt));
        self.came_back();
        released
    }

    /// The delivery number a receipt names in this opening of the mailbox: 0, which no
    /// delivery has, for a receipt of an earlier one (its delivery is over).
    fn delivery_of(&self, receipt: Receipt) -> u32 {
        if receipt.incarnation == self.shared.incarnation {
            receipt.delivery
        } else {
            0
        }
    }

    /// Acknowledges the deliveries of `receipts` in the queue: whether each message is
    /// settled (removed now, or gone before), and the ids of the removed messages that
    /// are persisted, to remove from the store.
    fn take_settled(&self, receipts: &[Receipt]) -> (Vec<bool>, Vec<u64>) {
        let mut state = self.lock();
        let mut persisted = Vec::new();
        let before = state.acknowledged;
        let settled = receipts
            .iter()
            .map(|&receipt| match state.queue.ack(receipt.id, self.delivery_of(receipt)) {
                Acked::Removed(message) => {
                    state.acknowledged += 1;
                    if message.durable {
                        persisted.push(message.id);
                    }
                    true
                }
                Acked::Gone => true,
                Acked::Stale => false,
            })
            .collect();
        let removed = state.acknowledged > before;
        drop(state);
        if removed {
            self.shared.room.notify_waiters();
        }
        (settled, persisted)
    }

    /// Removes persisted messages from the store, in the background: a removal lost in a
    /// crash only means a redelivery after the restart.
    fn forget(&self, ids: Vec<u64>) {
        let (Some(durable), Ok(runtime)) = (&self.shared.store, tokio::runtime::Handle::try_current()) else { return };
        let (group, name) = (durable.clone(), self.shared.name.clone());
        // Through the group commit, so that many acknowledgements share a sync.
        runtime.spawn(async move {
            if let Err(e) = group.remove(&name, &ids).await {
                tracing::warn!(mailbox = %name, error = %e, "cannot forget acknowledged messages");
            }
        });
    }

    /// Moves messages past their deadline back in line, and dead letters out.
    fn expire(&self, state: &mut State) {
        let dead = state.queue.expire(Instant::now());
        if dead.is_empty() {
            return;
        }
        self.shared.room.notify_waiters();
        let Some(dead_letters) = &self.shared.dead_letters else {
            self.forget(dead.iter().filter(|m| m.durable).map(|m| m.id).collect());
            return;
        };
        for message in dead {
            dead_letters.bury(message, self);
        }
    }

    /// Takes a dead letter of `origin` in. A persisted letter is persisted here (if this
    /// mailbox is durable) before it leaves the origin's store, so that a crash between
    /// the two duplicates it rather than loses it. A full dead-letter mailbox drops the
    /// letter; it never blocks the origin.
    fn bury(&self, letter: Message, origin: &Mailbox) {
        let id = match self.lock().queue.reserve() {
            Ok(id) => id,
            Err(Full) => {
                tracing::warn!(mailbox = %self.name(), "dead-letter mailbox full; letter dropped");
                if letter.durable {
                    origin.forget(vec![letter.id]);
                }
                return;
            }
        };
        let buried =
            Message { id, source: letter.source.clone(), body: letter.body.clone(), deliveries: 0, durable: false };
        let runtime = tokio::runtime::Handle::try_current();
        let (Some(durable), true, Ok(runtime)) = (&self.shared.store, letter.durable, runtime) else {
            self.admit(buried, None);
            if letter.durable {
                origin.forget(vec![letter.id]);
            }
            return;
        };
        let record = store::Record {
            mailbox: self.name().to_owned(),
            id,
            source: buried.source.clone(),
            body: buried.body.clone(),
        };
        let (this, origin, group) = (self.clone(), origin.clone(), durable.clone());
        runtime.spawn(async move {
            match group.append(record).await {
                Ok(()) => {
                    this.admit(Message { durable: true, ..buried }, None);
                    origin.forget(vec![letter.id]);
                }
                Err(e) => {
                    // The letter stays in the origin's store: after a restart it is
                    // delivered there again.
                    tracing::warn!(mailbox = %this.name(), error = %e, "cannot persist a dead letter");
                    this.admit(buried, None);
                }
            }
        });
    }

    /// Non-blocking receive: the oldest message (from `source`, if given), if any.
    pub fn try_receive(&self, source: Option<&str>) -> Option<Delivery> {
        self.take(source, 1).pop()
    }

    /// Non-blocking receive of a batch: the oldest messages (from `source`, if given),
    /// at most `max` of them; each is a delivery of its own, to acknowledge or release.
    pub fn try_receive_batch(&self, source: Option<&str>, max: usize) -> Vec<Delivery> {
        self.take(source, max)
    }

    /// Delivers the oldest waiting messages (from `source`, if given), at most `max`.
    fn take(&self, source: Option<&str>, max: usize) -> Vec<Delivery> {
        self.take_more(source, &mut Batch::new(max, usize::MAX))
    }

    /// Adds to `batch` the oldest waiting messages (from `source`, if given) that fit in
    /// it.
    pub(crate) fn take_more(&self, source: Option<&str>, batch: &mut Batch) -> Vec<Delivery> {
        let mut state = self.lock();
        self.expire(&mut state);
        let now = Instant::now();
        let messages = state.queue.take_more(now, source, batch);
        for message in &messages {
            state.received.record(now);
            if let Some(taker) = state.takers.remove(&message.id) {
                let _ = taker.send(());
            }
        }
        drop(state);
        if let (false, Ok(runtime)) = (messages.is_empty(), tokio::runtime::Handle::try_current()) {
            self.shared.reaper.get_or_init(|| runtime.spawn(reap(Arc::downgrade(&self.shared))));
        }
        messages.into_iter().map(|message| Delivery { message, mailbox: self.clone() }).collect()
    }

    /// Receives the next message (from `source`, if given), waiting for one.
    pub async fn receive(&self, source: Option<&str>) -> Delivery {
        self.wait_for(source, || self.try_receive(source)).await
    }

    /// Receives a batch: waits at most `timeout` for a message (from `source`, if
    /// given), then takes it and those waiting behind it, at most `max` in all (see
    /// [`Mailbox::try_receive_batch`]). Empty if none came in time.
    pub async fn receive_batch(&self, source: Option<&str>, max: usize, timeout: Duration) -> Vec<Delivery> {
        self.receive_batch_lingering(source, max, timeout, Duration::ZERO).await
    }

    /// Receives a batch as [`Mailbox::receive_batch`] does, then keeps it open for
    /// `linger` (at most; and at most half the visibility timeout) and takes what comes
    /// meanwhile, until it holds `max`: fewer, fuller batches for a receiver that can
    /// wait that much longer. While a receiver fills its batch, new messages go to it
    /// rather than to another receiver. If the future is dropped meanwhile, what it took
    /// goes back, first in line.
    pub async fn receive_batch_lingering(
        &self,
        source: Option<&str>,
        max: usize,
        timeout: Duration,
        linger: Duration,
    ) -> Vec<Delivery> {
        let mut batch = Batch::new(max, usize::MAX);
        let taken = self.receive_batch_within(source, &mut batch, timeout).await;
        self.linger(source, &mut batch, taken, linger).await
    }

    /// [`Mailbox::receive_batch`] into `batch`.
    pub(crate) async fn receive_batch_within(
        &self,
        source: Option<&str>,
        batch: &mut Batch,
        timeout: Duration,
    ) -> Vec<Delivery> {
        if batch.is_full() {
            return Vec::new();
        }
        let taken = self.wait_for(source, || Some(self.take_more(source, batch)).filter(|b| !b.is_empty()));
        tokio::time::timeout(timeout, taken).await.unwrap_or_default()
    }

    /// Keeps a batch that has its first messages (`taken`) open for `linger` at most (and
    /// at most half the visibility timeout, so that none of them comes back meanwhile),
    /// adding what comes until it is full ([`Filling`]).
    pub(crate) async fn linger(
        &self,
        source: Option<&str>,
        batch: &mut Batch,
        taken: Vec<Delivery>,
        linger: Duration,
    ) -> Vec<Delivery> {
        if taken.is_empty() || linger.is_zero() || batch.is_full() {
            return taken;
        }
        let linger = linger.min(self.lock().queue.config().visibility / 2);
        let until = tokio::time::Instant::now().checked_add(linger);
        let mut filling = Filling::new(self, source, taken);
        loop {
            let more = self.shared.fill.notified();
            tokio::pin!(more);
            more.as_mut().enable();
            filling.taken.extend(self.take_more(source, batch));
            if batch.is_full() {
                break;
            }
            let over = match until {
                Some(until) => tokio::time::timeout_at(until, more).await.is_err(),
                None => {
                    more.await;
                    false
                }
            };
            if over {
                break;
            }
        }
        filling.finish()
    }

    /// Waits, as a receiver (from `source`, if given), until `take` takes something.
    async fn wait_for<T>(&self, source: Option<&str>, mut take: impl FnMut() -> Option<T>) -> T {
        let _waiting = Receiving::new(&self.shared.receivers);
        let _choosy = source.map(|_| Receiving::new(&self.shared.choosy));
        loop {
            let arrived = self.shared.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some(taken) = take() {
                return taken;
            }
            // Also wake when an unacknowledged message comes back.
            let deadline = self.lock().queue.next_deadline();
            match deadline {
                Some(deadline) => {
                    let _ = tokio::time::timeout_at(deadline.into(), arrived).await;
                }
                None => arrived.await,
            }
        }
    }

    /// Receives the next message, waiting at most `timeout`; `None` if none came.
    pub async fn receive_timeout(&self, source: Option<&str>, timeout: Duration) -> Option<Delivery> {
        tokio::time::timeout(timeout, self.receive(source)).await.ok()
    }

    /// Event-driven receive: every message, as it comes (from `source`, if given).
    pub fn deliveries(&self, source: Option<String>) -> impl Stream<Item = Delivery> {
        futures_util::stream::unfold((self.clone(), source), |(mailbox, source)| async move {
            let delivery = mailbox.receive(source.as_deref()).await;
            Some((delivery, (mailbox, source)))
        })
    }
}

/// A durable message on its way to the store ([`Mailbox::persist`]): ready with its id
/// once it is written and receivable. Dropped before that, it still sees the message
/// admitted (or its room given back) when the write is over, in the background.
#[must_use = "a future does nothing unless polled (the message is queued for the store already)"]
pub(crate) struct Persisting {
    mailbox: Mailbox,
    /// Until the write is over and the message settled.
    message: Option<Message>,
    /// The write, if the mailbox has a store.
    committed: Option<store::Committed>,
}

impl std::future::Future for Persisting {
    type Output = Result<u64, SendError>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let this = self.get_mut();
        let written = match this.committed.as_mut() {
            Some(committed) => std::task::ready!(std::pin::Pin::new(committed).poll(cx)),
            None => Ok(()),
        };
        this.committed = None;
        let message = this.message.take().expect("Persisting polled after it completed");
        std::task::Poll::Ready(this.mailbox.settle_persisted(message, written))
    }
}

impl Drop for Persisting {
    fn drop(&mut self) {
        let (Some(message), Some(committed)) = (self.message.take(), self.committed.take()) else { return };
        let mailbox = self.mailbox.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(async move { mailbox.settle_persisted(message, committed.await) })),
            Err(_) => drop(std::thread::spawn(move || mailbox.settle_persisted(message, committed.wait()))),
        }
    }
}

/// The first message id of a mailbox opened now: the microseconds since 1970, so that
/// ids are not reused when a mailbox is opened again after a restart (its receipts from
/// before the restart must not match new messages) while fewer than a million messages
/// a second are sent on average.
fn first_id() -> u64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX / 2)
}

/// A receiver filling a batch ([`Mailbox::linger`]), counted as such (and as choosy, if
/// it is) while it lives. When it ends, the messages left waiting — which, coming while
/// it filled, woke only it — are handed on: as many waiting receivers are woken as there
/// are messages (at most), and another filling receiver. A batch given up (its future
/// dropped) goes back, first in line.
struct Filling<'a> {
    mailbox: &'a Mailbox,
    taken: Vec<Delivery>,
    _choosy: Option<Receiving<'a>>,
}

impl<'a> Filling<'a> {
    fn new(mailbox: &'a Mailbox, source: Option<&str>, taken: Vec<Delivery>) -> Self {
        mailbox.shared.filling.fetch_add(1, Ordering::SeqCst);
        Filling { mailbox, taken, _choosy: source.map(|_| Receiving::new(&mailbox.shared.choosy)) }
    }

    /// The batch, complete.
    fn finish(mut self) -> Vec<Delivery> {
        std::mem::take(&mut self.taken)
    }
}

impl Drop for Filling<'_> {
    fn drop(&mut self) {
        let shared = &self.mailbox.shared;
        shared.filling.fetch_sub(1, Ordering::SeqCst);
        self.mailbox.give_back(std::mem::take(&mut self.taken));
        let waiting = self.mailbox.lock().queue.waiting();
        if waiting > 0 {
            for _ in 0..waiting.min(shared.receivers.load(Ordering::SeqCst)).max(1) {
                shared.arrived.notify_one();
            }
            if shared.filling.load(Ordering::SeqCst) > 0 {
                shared.fill.notify_one();
            }
        }
    }
}

/// Counts a receiver as waiting while it lives.
struct Receiving<'a>(&'a AtomicUsize);

impl<'a> Receiving<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Receiving(count)
    }
}

impl Drop for Receiving<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Puts a mailbox's unacknowledged messages back in line as their deadlines pass, and
/// its dead letters out, while the mailbox exists.
async fn reap(shared: std::sync::Weak<Shared>) {
    loop {
        let next = {
            let Some(shared) = shared.upgrade() else { return };
            let mailbox = Mailbox { shared };
            let state = mailbox.lock();
            state.queue.next_deadline().unwrap_or_else(|| Instant::now() + state.queue.config().visibility)
        };
        tokio::time::sleep_until(next.into()).await;
        let Some(shared) = shared.upgrade() else { return };
        let mailbox = Mailbox { shared };
        let mut state = mailbox.lock();
        mailbox.expire(&mut state);
        drop(state);
        mailbox.came_back();
    }
}
