//! Message passing (issue 8, first part): mailboxes in process — the seeds' ports with
//! every mode of send and receive — on the sans-IO [`queue`].
//!
//! A [`Mailbox`] has a name, any number of senders and one receiver or a group of
//! competing receivers (every clone of a mailbox handle can receive; each message goes
//! to one of them). Sending is asynchronous ([`Mailbox::send`]: returns once the message
//! is queued) or synchronous ([`Mailbox::send_sync`]: returns once a receiver has taken
//! it). Receiving is non-blocking ([`Mailbox::try_receive`]), waiting
//! ([`Mailbox::receive`], a future), with a timeout ([`Mailbox::receive_timeout`]) or
//! event-driven ([`Mailbox::deliveries`], a `Stream`), optionally only from one source.
//! A received message is removed only when its [`Delivery`] is acknowledged; otherwise
//! it is delivered again after the visibility timeout, and after the configured number
//! of deliveries it goes to the dead-letter mailbox, if there is one. A full mailbox
//! makes senders wait or refuses them, as configured.
//!
//! A durable mailbox ([`Mailbox::durable`]) keeps the messages of durable sends in a
//! [`store`] until they are acknowledged. See `docs/mailboxes.md`.

pub mod queue;
pub mod store;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::{oneshot, Notify};

use crate::sync::lock;
use queue::{Full, Queue};
pub use queue::{Message, QueueConfig, WhenFull};

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The mailbox is full and refuses senders (`WhenFull::Reject`).
    #[error("mailbox `{0}` is full")]
    Full(String),
    /// A durable send could not persist its message (a full disk, say): the message
    /// may be delivered but is not durable.
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
    state: Mutex<State>,
    /// Messages arrived (or came back): receivers look again.
    arrived: Notify,
    /// Room freed: waiting senders look again.
    room: Notify,
    dead_letters: Option<Mailbox>,
    /// Where durable sends persist their messages, if anywhere.
    store: Option<Durable>,
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
}

/// A mailbox's store, with group commit in front.
struct Durable {
    store: Arc<dyn store::Store>,
    group: store::GroupCommit,
}

impl std::fmt::Debug for Durable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Durable").finish_non_exhaustive()
    }
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

    /// Acknowledges the message: it is removed for good. False if it was too late (its
    /// visibility timeout passed and it was delivered again).
    pub fn ack(self) -> bool {
        let acked = self.mailbox.lock().queue.ack(self.message.id);
        self.mailbox.shared.room.notify_waiters();
        if acked {
            self.mailbox.forget(&[self.message.id]);
        }
        acked
    }

    /// Gives the message back unprocessed, for another delivery at once.
    pub fn release(self) -> bool {
        let released = self.mailbox.lock().queue.release(self.message.id);
        self.mailbox.shared.arrived.notify_waiters();
        released
    }
}

impl Mailbox {
    /// A new mailbox.
    pub fn new(name: &str, config: QueueConfig) -> Mailbox {
        Mailbox::build(name, config, None)
    }

    /// A new mailbox whose messages go to `dead_letters` after their last delivery.
    pub fn with_dead_letters(name: &str, config: QueueConfig, dead_letters: Mailbox) -> Mailbox {
        Mailbox::build(name, config, Some(dead_letters))
    }

    /// A durable mailbox: its messages sent with [`Mailbox::send_durable`] are kept in
    /// `store` until acknowledged, and those already there are waiting again, oldest
    /// first. Blocks on the disk while it loads them.
    pub fn durable(name: &str, config: QueueConfig, store: Arc<dyn store::Store>) -> std::io::Result<Mailbox> {
        let messages = store
            .load(name)?
            .into_iter()
            .map(|r| Message { id: r.id, source: r.source, body: r.body, deliveries: 0 })
            .collect();
        let group = store::GroupCommit::new(store.clone());
        Ok(Mailbox::assemble(name, Queue::restore(config, messages), None, Some(Durable { store, group })))
    }

    fn build(name: &str, config: QueueConfig, dead_letters: Option<Mailbox>) -> Mailbox {
        Mailbox::assemble(name, Queue::new(config), dead_letters, None)
    }

    fn assemble(name: &str, queue: Queue, dead_letters: Option<Mailbox>, store: Option<Durable>) -> Mailbox {
        let state = State { queue, takers: Default::default() };
        let shared = Shared {
            name: name.to_owned(),
            state: Mutex::new(state),
            arrived: Notify::new(),
            room: Notify::new(),
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

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.shared.state)
    }

    /// Messages waiting, and messages delivered but not acknowledged.
    pub fn depth(&self) -> (usize, usize) {
        let state = self.lock();
        (state.queue.waiting(), state.queue.in_flight())
    }

    /// Asynchronous send: returns the message's id once it is queued (waiting for room
    /// first, or failing, when the mailbox is full, as configured).
    pub async fn send(&self, source: &str, body: Bytes) -> Result<u64, SendError> {
        self.offer(source, body, None).await
    }

    /// Durable send: returns the message's id once it is persisted in the mailbox's
    /// store (synced to disk; concurrent durable sends share a sync). On a mailbox
    /// without a store it is an asynchronous send.
    pub async fn send_durable(&self, source: &str, body: Bytes) -> Result<u64, SendError> {
        let id = self.offer(source, body.clone(), None).await?;
        if let Some(durable) = &self.shared.store {
            let record = store::Record { mailbox: self.shared.name.clone(), id, source: source.to_owned(), body };
            durable
                .group
                .append(record)
                .await
                .map_err(|e| SendError::Store(self.shared.name.clone(), e.to_string()))?;
        }
        Ok(id)
    }

    /// Removes acknowledged (or dead) messages from the store, in the background: a
    /// removal lost in a crash only means a redelivery after the restart.
    fn forget(&self, ids: &[u64]) {
        let (Some(durable), Ok(runtime)) = (&self.shared.store, tokio::runtime::Handle::try_current()) else { return };
        let (store, name, ids) = (durable.store.clone(), self.shared.name.clone(), ids.to_vec());
        runtime.spawn_blocking(move || {
            if let Err(e) = store.remove(&name, &ids) {
                tracing::warn!(mailbox = %name, error = %e, "cannot forget acknowledged messages");
            }
        });
    }

    /// Synchronous send: returns once a receiver has taken the message (the seeds'
    /// blocking send; the rendezvous of a synchronous channel).
    pub async fn send_sync(&self, source: &str, body: Bytes) -> Result<u64, SendError> {
        let (taken, waited) = oneshot::channel();
        let id = self.offer(source, body, Some(taken)).await?;
        // The sender is dropped only when the message is taken (or the mailbox is gone).
        let _ = waited.await;
        Ok(id)
    }

    async fn offer(&self, source: &str, body: Bytes, taker: Option<oneshot::Sender<()>>) -> Result<u64, SendError> {
        let mut taker = taker;
        loop {
            let room = self.shared.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut state = self.lock();
                self.expire(&mut state);
                match state.queue.offer(source, body.clone()) {
                    Ok(id) => {
                        if let Some(taker) = taker.take() {
                            state.takers.insert(id, taker);
                        }
                        drop(state);
                        self.shared.arrived.notify_waiters();
                        return Ok(id);
                    }
                    Err(Full) if state.queue.config().when_full == WhenFull::Reject => {
                        return Err(SendError::Full(self.shared.name.clone()))
                    }
                    Err(Full) => {}
                }
            }
            room.await;
        }
    }

    /// Moves messages past their deadline back in line, and dead letters out.
    fn expire(&self, state: &mut State) {
        let dead = state.queue.expire(Instant::now());
        if dead.is_empty() {
            return;
        }
        self.forget(&dead.iter().map(|m| m.id).collect::<Vec<_>>());
        self.shared.room.notify_waiters();
        if let Some(dead_letters) = &self.shared.dead_letters {
            let mut target = dead_letters.lock();
            for message in dead {
                // A full dead-letter mailbox loses the letter; it never blocks this one.
                if target.queue.offer(&message.source, message.body).is_err() {
                    tracing::warn!(mailbox = %dead_letters.name(), "dead-letter mailbox full; letter dropped");
                }
            }
            drop(target);
            dead_letters.shared.arrived.notify_waiters();
        }
    }

    /// Non-blocking receive: the oldest message (from `source`, if given), if any.
    pub fn try_receive(&self, source: Option<&str>) -> Option<Delivery> {
        let mut state = self.lock();
        self.expire(&mut state);
        let message = state.queue.take(Instant::now(), source)?;
        if let Some(taker) = state.takers.remove(&message.id) {
            let _ = taker.send(());
        }
        drop(state);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            self.shared.reaper.get_or_init(|| runtime.spawn(reap(Arc::downgrade(&self.shared))));
        }
        Some(Delivery { message, mailbox: self.clone() })
    }

    /// Receives the next message (from `source`, if given), waiting for one.
    pub async fn receive(&self, source: Option<&str>) -> Delivery {
        loop {
            let arrived = self.shared.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some(delivery) = self.try_receive(source) {
                return delivery;
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
        mailbox.shared.arrived.notify_waiters();
    }
}
