//! Where durable mailboxes keep their messages: the [`Store`] trait, its embedded
//! implementation on fjall ([`FjallStore`]), and [`GroupCommit`], which makes many
//! concurrent durable sends share one synced write.
//!
//! The embedded store is fjall: a pure-Rust, log-structured (LSM-tree) embedded
//! key-value store. A commit is one atomic batch appended to its journal and, as this
//! store asks, synced (`fdatasync`) before `commit` returns; after a crash the journal
//! is replayed up to the last whole, checksummed batch. A message is persisted as
//! `(mailbox, id) → (source, body)`; an acknowledged message is removed (a tombstone,
//! compacted away later). "Acknowledged means durable": a durable send is answered only
//! after the batch holding its message is synced. Why fjall and not a B-tree store:
//! `docs/mailboxes.md`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::sync::lock;

/// One persisted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its mailbox.
    pub mailbox: String,
    /// Its id in the mailbox.
    pub id: u64,
    /// Who sent it.
    pub source: String,
    /// Its body.
    pub body: Bytes,
}

/// Durable storage of mailbox messages. Every method may block on the disk: call it
/// from a blocking context (`GroupCommit` does).
pub trait Store: Send + Sync + 'static {
    /// Persists `records` and forgets `removals` (mailbox and id, sorted) together;
    /// returns once both are on disk — in one transaction (one sync) where the store can.
    fn commit(&self, records: &[Record], removals: &[(String, u64)]) -> io::Result<()>;
    /// The messages of `mailbox` still persisted, oldest first.
    fn load(&self, mailbox: &str) -> io::Result<Vec<Record>>;
    /// The names of the mailboxes that have messages persisted, sorted.
    fn mailboxes(&self) -> io::Result<Vec<String>>;
    /// Persists `records` in one transaction; returns once they are on disk.
    fn append(&self, records: &[Record]) -> io::Result<()> {
        self.commit(records, &[])
    }
    /// Forgets acknowledged messages.
    fn remove(&self, mailbox: &str, ids: &[u64]) -> io::Result<()> {
        let removals: Vec<(String, u64)> = ids.iter().map(|id| (mailbox.to_owned(), *id)).collect();
        self.commit(&[], &removals)
    }
}

/// The embedded store: a fjall database in a directory of its own (which fjall locks).
///
/// After an I/O error (a full disk, say) fjall refuses every later write until the
/// database is opened again; this store then opens it again by itself, so that it works
/// once there is room, and meanwhile every failure says what the disk said.
pub struct FjallStore {
    path: PathBuf,
    /// `None` only while it is being opened again.
    db: RwLock<Option<Db>>,
}

impl std::fmt::Debug for FjallStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallStore").field("path", &self.path).finish_non_exhaustive()
    }
}

/// An open database and its one keyspace, of messages.
struct Db {
    db: fjall::Database,
    messages: fjall::Keyspace,
    /// A write failed: fjall refuses all the later ones; open it again.
    failed: AtomicBool,
}

impl Db {
    fn open(path: &Path) -> io::Result<Db> {
        // A journal of at most 64 MiB before memtables are flushed; one background thread.
        let db = fjall::Database::builder(path).max_journaling_size(64 << 20).worker_threads(1).open().map_err(
            |e| match e {
                fjall::Error::Locked => io::Error::new(
                    io::ErrorKind::ResourceBusy,
                    format!("{} is in use by another store (another node?)", path.display()),
                ),
                e => io_error(e),
            },
        )?;
        let messages = db.keyspace("messages", fjall::KeyspaceCreateOptions::default).map_err(io_error)?;
        Ok(Db { db, messages, failed: AtomicBool::new(false) })
    }
}

/// A message's key: its mailbox's name (its length first) and its id, big-endian, so
/// that a mailbox's messages are together, oldest first.
fn message_key(mailbox: &str, id: u64) -> io::Result<Vec<u8>> {
    let mut key = mailbox_prefix(mailbox)?;
    key.extend_from_slice(&id.to_be_bytes());
    Ok(key)
}

fn mailbox_prefix(mailbox: &str) -> io::Result<Vec<u8>> {
    let mut key = Vec::with_capacity(2 + mailbox.len() + 8);
    put_string(&mut key, mailbox, "mailbox name")?;
    Ok(key)
}

/// Appends `text`, its length (two bytes, big-endian) first.
fn put_string(out: &mut Vec<u8>, text: &str, what: &str) -> io::Result<()> {
    let len = u16::try_from(text.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("a {what} longer than 65535 bytes")))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// Splits a length-prefixed string off the front of `bytes`.
fn take_string(bytes: &[u8]) -> io::Result<(String, &[u8])> {
    let corrupt = || io::Error::new(io::ErrorKind::InvalidData, "a corrupt message in the store");
    let (len, rest) = bytes.split_first_chunk::<2>().ok_or_else(corrupt)?;
    let (text, rest) = rest.split_at_checked(usize::from(u16::from_be_bytes(*len))).ok_or_else(corrupt)?;
    let text = String::from_utf8(text.to_vec()).map_err(|_| corrupt())?;
    Ok((text, rest))
}

/// A key's mailbox and message id.
fn split_key(key: &[u8]) -> io::Result<(String, u64)> {
    let (mailbox, id) = take_string(key)?;
    let id = <[u8; 8]>::try_from(id)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a corrupt message key in the store"))?;
    Ok((mailbox, u64::from_be_bytes(id)))
}

fn io_error(e: fjall::Error) -> io::Error {
    match e {
        fjall::Error::Io(e) | fjall::Error::Storage(fjall::LsmError::Io(e)) => e,
        e => io::Error::other(e),
    }
}

impl FjallStore {
    /// Opens (or creates) the store in the directory `path`.
    pub fn open(path: &Path) -> io::Result<FjallStore> {
        let db = Db::open(path)?;
        Ok(FjallStore { path: path.to_owned(), db: RwLock::new(Some(db)) })
    }

    /// Runs `f` on the database; after a failed write, opens it again first.
    fn with<T>(&self, f: impl Fn(&Db) -> io::Result<T>) -> io::Result<T> {
        if let Some(db) = &*self.db.read().unwrap_or_else(|e| e.into_inner()) {
            if !db.failed.load(Ordering::Acquire) {
                return f(db);
            }
        }
        let mut db = self.db.write().unwrap_or_else(|e| e.into_inner());
        if db.as_ref().is_none_or(|db| db.failed.load(Ordering::Acquire)) {
            // The old database (its threads, its lock) must be gone before the directory
            // is opened again.
            *db = None;
            *db = Some(Db::open(&self.path)?);
        }
        f(db.as_ref().expect("just opened"))
    }
}

impl Store for FjallStore {
    fn commit(&self, records: &[Record], removals: &[(String, u64)]) -> io::Result<()> {
        self.with(|db| {
            // Sized at once: a round of a few hundred grown item by item reallocates
            // (and touches fresh pages) as it goes.
            let mut batch = fjall::OwnedWriteBatch::with_capacity(db.db.clone(), records.len() + removals.len())
                .durability(Some(fjall::PersistMode::SyncData));
            for r in records {
                let mut value = Vec::with_capacity(2 + r.source.len() + r.body.len());
                put_string(&mut value, &r.source, "source")?;
                value.extend_from_slice(&r.body);
                batch.insert(&db.messages, message_key(&r.mailbox, r.id)?, value);
            }
            for (mailbox, id) in removals {
                batch.remove(&db.messages, message_key(mailbox, *id)?);
            }
            batch.commit().map_err(|e| {
                db.failed.store(true, Ordering::Release);
                io_error(e)
            })
        })
    }

    fn load(&self, mailbox: &str) -> io::Result<Vec<Record>> {
        self.with(|db| {
            let mut records = Vec::new();
            for entry in db.messages.prefix(mailbox_prefix(mailbox)?) {
                let (key, value) = entry.into_inner().map_err(io_error)?;
                let (_, id) = split_key(&key)?;
                let (source, body) = take_string(&value)?;
                records.push(Record { mailbox: mailbox.to_owned(), id, source, body: Bytes::copy_from_slice(body) });
            }
            Ok(records)
        })
    }

    fn mailboxes(&self) -> io::Result<Vec<String>> {
        self.with(|db| {
            let mut names = Vec::new();
            // One look per mailbox: the first key after the last message of the one before.
            let mut after = Vec::new();
            while let Some(entry) = db.messages.range(after.as_slice()..).next() {
                let (name, _) = split_key(&entry.into_inner().map_err(io_error)?.0)?;
                after = message_key(&name, u64::MAX)?;
                after.push(0);
                names.push(name);
            }
            // Keys order names by length first.
            names.sort();
            Ok(names)
        })
    }
}

/// Appends to a store with group commit: while one transaction is being written, the
/// records that arrive wait, and the next transaction takes them all, so N concurrent
/// durable sends cost far fewer than N syncs.
///
/// Removals (acknowledged messages) ride on the appends' transactions: while durable
/// sends are coming (one came within the last ten lingers), a removal waits up to
/// [`REMOVAL_LINGER`] for the next append to share its sync, and only then does a round
/// start for it — started by its own [`Removal`], so that no committer thread is woken
/// for removals that an append will take anyway. One sender whose receiver acknowledges
/// each message thus costs one sync per message, not two; the acknowledgement is
/// answered at most that much later. Without sends (receivers draining a backlog) a
/// removal waited for commits at once.
///
/// Appends gather too: concurrent senders answered by one round send again at about the
/// same time, but the first of them would otherwise start the next round alone, the
/// others waiting a whole sync behind it (rounds of 1, 15, 1, 15 … for 16 senders). So
/// a round with fewer appends than the last one waits, at most half the last commit's
/// time (and at most the linger), for as many; one sender's round, like the last,
/// has its one append and starts at once.
#[derive(Clone)]
pub struct GroupCommit {
    store: Arc<dyn Store>,
    pending: Arc<(Mutex<Pending>, Condvar)>,
}

/// How long, by default, a removal waits for an append's round to share its sync, while
/// appends come, before a round is started for it ([`GroupCommit::with_removal_linger`]).
pub const REMOVAL_LINGER: Duration = Duration::from_millis(1);

/// How quick the last commit must have been for a lone append to be written on the
/// sender's thread ([`GroupCommit::append_here`]): that thread is one of the runtime's,
/// and while it waits for the disk, what it would run waits too — the runtime's I/O
/// among it, when the other workers are asleep. With a disk this slow or slower, lone
/// appends go to the committer thread instead.
const QUICK_COMMIT: Duration = Duration::from_millis(5);

/// How recent the last append must be, in lingers, for removals to wait for the next.
const APPENDS_RECENT: u32 = 10;

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

/// Who waits for a round: told its outcome.
type Waiter = oneshot::Sender<Result<(), String>>;

/// What is waiting to be committed (with a condition variable a lingering committer
/// waits on).
struct Pending {
    /// How long a removal waits for an append's round, while appends come.
    linger: Duration,
    records: Vec<Record>,
    /// Acknowledged messages to forget, by mailbox.
    removals: Vec<(String, u64)>,
    /// When the oldest pending removal came.
    oldest_removal: Option<Instant>,
    /// When the last append came.
    last_append: Option<Instant>,
    /// When the oldest pending append came.
    oldest_record: Option<Instant>,
    /// How many appends the last round wrote.
    last_round: usize,
    /// How many rounds have taken what was pending.
    rounds: u64,
    /// How long the last round's commit took (none yet: unknown).
    last_commit: Option<Duration>,
    /// How long a round waits for as many appends as the last one: half the last
    /// commit's time, at most the linger.
    gather: Duration,
    waiters: Vec<Waiter>,
    /// A committer thread runs (and will take what arrives).
    committing: bool,
    /// A round is being written (by the committer or on a sender's thread): nobody else
    /// starts one.
    writing: bool,
    /// The committer is waiting (on the condition variable) for more, or for a round
    /// written on a sender's thread to end: a new arrival, or that end, wakes it.
    holding: bool,
}

impl Pending {
    /// Until when the next round of appends should wait for more, if it should: for as
    /// many as the last round had.
    fn hold(&self, now: Instant) -> Option<Instant> {
        let until = self.oldest_record? + self.gather;
        (self.records.len() < self.last_round && now < until).then_some(until)
    }

    /// Whether appends come (the last within [`APPENDS_RECENT`] lingers).
    fn sending(&self, now: Instant) -> bool {
        self.last_append.is_some_and(|at| now.duration_since(at) < self.linger * APPENDS_RECENT)
    }

    /// Whether all that is pending is removals that may still wait for an append's
    /// round: appends come, and the oldest removal came less than a linger ago. (Each
    /// has its [`Removal`], which starts a round for it once its linger has passed.)
    fn removals_wait(&self, now: Instant) -> bool {
        self.records.is_empty() && self.sending(now) && self.oldest_removal.is_some_and(|at| now < at + self.linger)
    }

    /// Whether an append now would be alone in a round that starts at once: nobody is
    /// writing one, nothing is pending, and the round would not hold for more (see
    /// [`Pending::hold`]: it holds only after a round of more, for the gathering time).
    fn lone(&self) -> bool {
        !self.writing && self.records.is_empty() && (self.last_round <= 1 || self.gather.is_zero())
    }

    /// Whether an append now may be written on the caller's thread: it would be alone
    /// ([`Pending::lone`]) and the last commit was quick ([`QUICK_COMMIT`]; before the
    /// first, the committer writes and so measures).
    fn here(&self) -> bool {
        self.lone() && self.last_commit.is_some_and(|took| took < QUICK_COMMIT)
    }

    /// Takes what the next round writes: its records, removals and waiters.
    fn take_round(&mut self) -> Round {
        self.oldest_removal = None;
        self.oldest_record = None;
        self.last_round = self.records.len();
        self.rounds += 1;
        (std::mem::take(&mut self.records), std::mem::take(&mut self.removals), std::mem::take(&mut self.waiters))
    }
}

impl GroupCommit {
    /// Group commit in front of `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        GroupCommit::with_removal_linger(store, REMOVAL_LINGER)
    }

    /// Group commit in front of `store` whose removals, while appends come, wait up to
    /// `linger` for the next.
    pub fn with_removal_linger(store: Arc<dyn Store>, linger: Duration) -> Self {
        let pending = Pending {
            linger,
            records: Vec::new(),
            removals: Vec::new(),
            oldest_removal: None,
            last_append: None,
            oldest_record: None,
            last_round: 0,
            rounds: 0,
            last_commit: None,
            gather: Duration::ZERO,
            waiters: Vec::new(),
            committing: false,
            writing: false,
            holding: false,
        };
        GroupCommit { store, pending: Arc::new((Mutex::new(pending), Condvar::new())) }
    }

    /// The store it commits to.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Whether an append now would be written by [`GroupCommit::append_here`] on the
    /// caller's thread: alone in a round that starts at once, while commits are quick. A
    /// hint: by the time the caller appends, that may have changed.
    pub fn idle(&self) -> bool {
        lock(&self.pending.0).here()
    }

    /// Persists `record`; returns once it is on disk. Call within a tokio runtime.
    pub async fn append(&self, record: Record) -> io::Result<()> {
        self.queue_append(record).await
    }

    /// Queues `record` for the next round at once; the future tells when it is on disk.
    /// Dropping the future does not take the record back. Call within a tokio runtime.
    pub fn queue_append(&self, record: Record) -> Committed {
        self.queue(false, record)
    }

    /// Like [`GroupCommit::queue_append`], but if `record` would start a round alone
    /// while nobody writes one and commits are quick (the last took under 5 ms), it is
    /// written on this thread before this returns (when this is a worker of a
    /// multi-threaded runtime with other workers, which go on serving meanwhile): a lone
    /// sender's message then goes to disk without the two hand-offs between threads, to
    /// the committer and back. For a caller that gives up no wait by it (the post office:
    /// the write is answered whatever the call's wait), and whose task is its own or has
    /// nothing else to do (what else the task would do waits too; the post office's
    /// calls that came alone on their connection, `Call::alone`).
    pub fn append_here(&self, record: Record) -> Committed {
        self.queue(true, record)
    }

    /// Forgets messages `ids` of `mailbox`; returns once that is on disk. Removals share
    /// the appends' rounds.
    pub async fn remove(&self, mailbox: &str, ids: &[u64]) -> io::Result<()> {
        self.queue_removal(mailbox, ids).done().await
    }

    /// Queues the removal of messages `ids` of `mailbox` at once, for a round to come:
    /// the next append's, or one started for it ([`Removal`]). Call within a tokio
    /// runtime.
    pub fn queue_removal(&self, mailbox: &str, ids: &[u64]) -> Removal {
        let (done, committed) = oneshot::channel();
        let now = Instant::now();
        let mut pending = lock(&self.pending.0);
        pending.removals.extend(ids.iter().map(|id| (mailbox.to_owned(), *id)));
        pending.oldest_removal.get_or_insert(now);
        pending.waiters.push(done);
        let (group, after, ride_until) = (self.clone(), pending.rounds, now + pending.linger);
        Removal { group, after, ride_until, committed: Some(Committed(committed)) }
    }

    /// Makes sure a round will write what is pending, unless one has taken it since
    /// round number `after`: starts the committer if none runs (and wakes one that holds
    /// for appends, if appends wait).
    fn start_after(&self, after: u64) {
        let pending = lock(&self.pending.0);
        if pending.rounds == after && !pending.waiters.is_empty() {
            self.hand_on(pending);
        }
    }

    /// Adds an append to the next round, and writes that round here if `here` allows
    /// ([`GroupCommit::append_here`]).
    fn queue(&self, here: bool, record: Record) -> Committed {
        let (done, committed) = oneshot::channel();
        let mut pending = lock(&self.pending.0);
        let alone = pending.here();
        let now = Instant::now();
        pending.records.push(record);
        pending.last_append = Some(now);
        pending.oldest_record.get_or_insert(now);
        pending.waiters.push(done);
        if here && alone && may_write_here() {
            write_round(&*self.store, &self.pending, pending);
        } else {
            self.hand_on(pending);
        }
        Committed(committed)
    }

    /// Leaves what is pending to the committer: starts it if none runs, or wakes it if
    /// it holds a round that an append may have made ready (not for a removal: the
    /// committer does not hold for removals).
    fn hand_on(&self, mut pending: MutexGuard<'_, Pending>) {
        let start = !std::mem::replace(&mut pending.committing, true);
        let wake = pending.holding && pending.oldest_record.is_some();
        drop(pending);
        if start {
            let (store, pending) = (self.store.clone(), self.pending.clone());
            tokio::task::spawn_blocking(move || commit_all(&*store, &pending));
        } else if wake {
            self.pending.1.notify_one();
        }
    }
}

/// Whether this thread may write a round itself: a worker of a multi-threaded tokio
/// runtime with at least one other worker, which goes on serving while this one waits
/// for the disk. (Handing the worker's place to another thread, `block_in_place`, costs
/// the very hand-offs that writing here saves, and measured slower.) At most one round
/// is written at a time, so at most one worker waits so.
fn may_write_here() -> bool {
    tokio::runtime::Handle::try_current().is_ok_and(|runtime| {
        runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread && runtime.metrics().num_workers() > 1
    })
}

/// What a round writes: its records, removals, and who waits for it.
type Round = (Vec<Record>, Vec<(String, u64)>, Vec<Waiter>);

/// Writes the next round — what `pending` (the locked state of `shared`) holds — on this
/// thread, nobody else writing meanwhile; then sets the next rounds' gathering time by
/// how long it took, lets others write, wakes a committer waiting for that, and only
/// then tells the round's waiters.
fn write_round(store: &dyn Store, shared: &(Mutex<Pending>, Condvar), mut pending: MutexGuard<'_, Pending>) {
    pending.writing = true;
    let (records, mut removals, waiters) = pending.take_round();
    drop(pending);
    removals.sort();
    let started = Instant::now();
    let result = store.commit(&records, &removals).map_err(|e| e.to_string());
    let took = started.elapsed();
    let (pending, arrived) = shared;
    let mut pending = lock(pending);
    pending.last_commit = Some(took);
    pending.gather = (took / 2).min(pending.linger);
    pending.writing = false;
    // A committer with nothing left to write finds that out at its own deadline.
    if pending.holding && !pending.waiters.is_empty() {
        arrived.notify_one();
    }
    drop(pending);
    // Told once the state is the next round's: what a waiter does next (a lone sender's
    // next append) finds the round over.
    for waiter in waiters {
        let _ = waiter.send(result.clone());
    }
}

/// A removal queued for a round to come ([`GroupCommit::queue_removal`]), which nothing
/// has started yet: it rides on the next append's round if one comes; else a round starts
/// for it when it is waited for ([`Removal::done`]), or a linger after it is dropped
/// unwaited. Until then it is not on disk: a crash forgets it, and the message comes
/// back after a restart — so whoever acknowledged it must not be told it is done before
/// [`Removal::done`] returns.
#[derive(Debug)]
#[must_use = "a removal is written when a round starts: wait for it with `done`"]
pub struct Removal {
    group: GroupCommit,
    /// How many rounds had taken what was pending when it was queued: the next takes it.
    after: u64,
    /// Until when, while appends come, it waits for one's round: a linger after it was
    /// queued.
    ride_until: Instant,
    /// Until it is waited for.
    committed: Option<Committed>,
}

impl Removal {
    /// Returns once the removal is on disk. While appends come, it waits until a linger
    /// after it was queued for one's round to take it; then, or at once when no appends
    /// come, it starts a round for it if none has taken it.
    pub async fn done(mut self) -> io::Result<()> {
        let Removal { group, after, ride_until, committed } = &mut self;
        let committed = committed.as_mut().expect("waited for once");
        let sending = lock(&group.pending.0).sending(Instant::now());
        let rode = match sending {
            true => tokio::time::timeout_at((*ride_until).into(), &mut *committed).await.ok(),
            false => None,
        };
        let result = match rode {
            Some(result) => result,
            None => {
                group.start_after(*after);
                committed.await
            }
        };
        self.committed = None;
        result
    }
}

impl Drop for Removal {
    /// Not waited for to the end: a round for it starts once the linger has passed, if
    /// none has taken it by then.
    fn drop(&mut self) {
        if self.committed.is_none() {
            return;
        }
        let (group, after, ride_until) = (self.group.clone(), self.after, self.ride_until);
        // Outside a runtime (against `queue_removal`'s terms) it waits for the next round.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                tokio::time::sleep_until(ride_until.into()).await;
                group.start_after(after);
            });
        }
    }
}

/// The outcome of a round, to come: ready once what was queued is on disk (or failed).
#[derive(Debug)]
#[must_use = "a future does nothing unless polled (what it waits for is queued already)"]
pub struct Committed(oneshot::Receiver<Result<(), String>>);

impl Committed {
    /// Blocks the thread until the round is over (outside an async runtime).
    pub fn wait(self) -> io::Result<()> {
        outcome(self.0.blocking_recv())
    }
}

/// What a waiter heard, as a result.
fn outcome(heard: Result<Result<(), String>, oneshot::error::RecvError>) -> io::Result<()> {
    match heard {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(io::Error::other(e)),
        Err(_) => Err(io::Error::other("the committer stopped")),
    }
}

impl std::future::Future for Committed {
    type Output = io::Result<()>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(outcome)
    }
}

/// Writes what is pending, one commit per batch, until nothing is — or nothing but
/// removals that may still wait for an append's round ([`Pending::removals_wait`]),
/// which their [`Removal`]s see written.
fn commit_all(store: &dyn Store, shared: &(Mutex<Pending>, Condvar)) {
    let (state, arrived) = shared;
    loop {
        let mut pending = lock(state);
        // Wait while a round is written on a sender's thread (at most a linger at a time: its
        // end wakes us only if something is left for us), or while this one holds.
        while let Some(until) =
            if pending.writing { Some(Instant::now() + pending.linger) } else { pending.hold(Instant::now()) }
        {
            let wait = until.saturating_duration_since(Instant::now());
            pending.holding = true;
            pending = arrived.wait_timeout(pending, wait).unwrap_or_else(|e| e.into_inner()).0;
            pending.holding = false;
        }
        if pending.waiters.is_empty() || pending.removals_wait(Instant::now()) {
            pending.committing = false;
            return;
        }
        write_round(store, shared, pending);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store in memory that keeps what each commit held, (records, removals), and on
    /// which thread; each commit takes `delay`. Commits that overlap are counted.
    #[derive(Default)]
    struct Recording {
        commits: Mutex<Vec<(Vec<u64>, Vec<u64>)>>,
        threads: Mutex<Vec<std::thread::ThreadId>>,
        delay: Duration,
        writing: std::sync::atomic::AtomicBool,
        overlaps: std::sync::atomic::AtomicUsize,
    }

    impl Recording {
        fn slow(delay: Duration) -> Recording {
            Recording { delay, ..Recording::default() }
        }
    }

    impl Store for Recording {
        fn load(&self, _: &str) -> io::Result<Vec<Record>> {
            Ok(Vec::new())
        }
        fn mailboxes(&self) -> io::Result<Vec<String>> {
            Ok(Vec::new())
        }
        fn commit(&self, records: &[Record], removals: &[(String, u64)]) -> io::Result<()> {
            use std::sync::atomic::Ordering::SeqCst;
            if self.writing.swap(true, SeqCst) {
                self.overlaps.fetch_add(1, SeqCst);
            }
            std::thread::sleep(self.delay);
            let ids = records.iter().map(|r| r.id).collect();
            lock(&self.commits).push((ids, removals.iter().map(|r| r.1).collect()));
            lock(&self.threads).push(std::thread::current().id());
            self.writing.store(false, SeqCst);
            Ok(())
        }
    }

    fn record(id: u64) -> Record {
        Record { mailbox: "q".into(), id, source: "s".into(), body: Bytes::from_static(b"m") }
    }

    proptest::proptest! {
        /// Keys and values read back as written, and bytes that are neither (a corrupt
        /// store) are an error, never a panic.
        #[test]
        fn keys_and_values_round_trip(mailbox in ".{0,40}", id: u64, source in ".{0,40}", body: Vec<u8>) {
            let key = message_key(&mailbox, id).unwrap();
            proptest::prop_assert_eq!(split_key(&key).unwrap(), (mailbox.clone(), id));
            proptest::prop_assert!(key.starts_with(&mailbox_prefix(&mailbox).unwrap()));
            let mut value = Vec::new();
            put_string(&mut value, &source, "source").unwrap();
            value.extend_from_slice(&body);
            let (read, rest) = take_string(&value).unwrap();
            proptest::prop_assert_eq!((read, rest), (source, &body[..]));
        }

        #[test]
        fn garbage_is_an_error_not_a_panic(bytes: Vec<u8>) {
            let _ = split_key(&bytes);
            let _ = take_string(&bytes);
        }
    }

    #[test]
    fn names_too_long_for_a_key_are_refused() {
        let name = "n".repeat(70_000);
        assert_eq!(message_key(&name, 1).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }

    const LINGER: Duration = Duration::from_millis(500);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn while_appends_come_a_removal_rides_on_the_next_one() {
        let store = Arc::new(Recording::default());
        let group = GroupCommit::with_removal_linger(store.clone(), LINGER);
        group.append(record(1)).await.unwrap();
        // The receiver acknowledges 1 a little before the sender's next message.
        let removal = tokio::spawn({
            let group = group.clone();
            async move { group.remove("q", &[1]).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        group.append(record(2)).await.unwrap();
        removal.await.unwrap().unwrap();
        assert_eq!(*lock(&store.commits), [(vec![1], vec![]), (vec![2], vec![1])]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_removal_waits_no_longer_than_the_linger_and_not_at_all_without_appends() {
        let store = Arc::new(Recording::default());
        let group = GroupCommit::with_removal_linger(store.clone(), LINGER);
        let start = Instant::now();
        group.remove("q", &[7]).await.unwrap();
        assert!(start.elapsed() < LINGER / 2, "a removal without appends waited {:?}", start.elapsed());
        group.append(record(8)).await.unwrap();
        let start = Instant::now();
        group.remove("q", &[8]).await.unwrap();
        let waited = start.elapsed();
        assert!(waited >= LINGER && waited < LINGER * 4, "a removal after an append waited {waited:?}");
        assert_eq!(*lock(&store.commits), [(vec![], vec![7]), (vec![8], vec![]), (vec![], vec![8])]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_queued_removal_rides_on_an_append_and_else_on_a_round_started_when_it_is_waited_for() {
        let store = Arc::new(Recording::default());
        let commits = || lock(&store.commits).clone();
        let group = GroupCommit::with_removal_linger(store.clone(), LINGER);
        group.append(record(1)).await.unwrap();
        // A receiver acknowledges 1 and waits for more; a message is sent 50 ms later: one
        // commit writes both.
        let removal = group.queue_removal("q", &[1]);
        tokio::time::sleep(Duration::from_millis(50)).await;
        group.append(record(2)).await.unwrap();
        // Another receiver's removal, queued after that round: no round starts for it
        // while its receiver waits, however long.
        let other = group.queue_removal("q", &[2]);
        tokio::time::sleep(LINGER * 2).await;
        removal.done().await.unwrap();
        assert_eq!(commits(), [(vec![1], vec![]), (vec![2], vec![1])]);
        // Waited for once its linger is over, it gets a round at once.
        let start = Instant::now();
        other.done().await.unwrap();
        assert!(start.elapsed() < LINGER / 2, "waited {:?}", start.elapsed());
        assert_eq!(commits()[2..], [(vec![], vec![2])]);
        // Waited for at once while appends come, it waits a linger for one, then gets a round.
        let start = Instant::now();
        group.queue_removal("q", &[3]).done().await.unwrap();
        let waited = start.elapsed();
        assert!(waited >= LINGER && waited < LINGER * 4, "waited {waited:?}");
        assert_eq!(commits()[3..], [(vec![], vec![3])]);
        // Dropped without a wait, a removal gets a round once the linger has passed.
        drop(group.queue_removal("q", &[4]));
        tokio::time::sleep(LINGER / 2).await;
        assert_eq!(commits().len(), 4, "a round started within the linger");
        tokio::time::sleep(LINGER * 2).await;
        assert_eq!(commits()[4..], [(vec![], vec![4])]);
    }

    /// Appends `ids` from tasks of their own, each `stagger` after the one before; waits
    /// for them all.
    async fn append_staggered(group: &GroupCommit, ids: std::ops::Range<u64>, stagger: Duration) {
        let mut appends = Vec::new();
        for id in ids {
            let group = group.clone();
            appends.push(tokio::spawn(async move { group.append(record(id)).await }));
            tokio::time::sleep(stagger).await;
        }
        for append in appends {
            append.await.unwrap().unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appends_after_a_round_gather_for_as_many_as_it_had() {
        let store = Arc::new(Recording::slow(Duration::from_millis(100)));
        let group = GroupCommit::with_removal_linger(store.clone(), LINGER);
        // 1 alone, 2 to 5 arrive while it is written: a round of four.
        let first = tokio::spawn({
            let group = group.clone();
            async move { group.append(record(1)).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        append_staggered(&group, 2..6, Duration::ZERO).await;
        first.await.unwrap().unwrap();
        // Four senders again, 5 ms apart: they gather (for up to 50 ms, half a commit)
        // into one round instead of the first going alone.
        append_staggered(&group, 6..10, Duration::from_millis(5)).await;
        // One sender now: it waits for the others for at most the gathering time, and
        // the round after it has one append, so the next does not wait at all.
        let start = Instant::now();
        group.append(record(10)).await.unwrap();
        let alone = start.elapsed();
        let start = Instant::now();
        group.append(record(11)).await.unwrap();
        let next = start.elapsed();
        assert!(next < alone, "a round after a round of one does not wait: {next:?}, before {alone:?}");
        let rounds: Vec<Vec<u64>> = lock(&store.commits).iter().map(|(records, _)| records.clone()).collect();
        assert_eq!(rounds, [vec![1], vec![2, 3, 4, 5], vec![6, 7, 8, 9], vec![10], vec![11]]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lone_append_is_written_on_the_senders_thread() {
        let store = Arc::new(Recording::default());
        let group = GroupCommit::new(store.clone());
        // The first commit is the committer's: it tells how quick the disk is.
        let here = std::thread::current().id();
        group.append_here(record(0)).await.unwrap();
        assert_ne!(lock(&store.threads).last(), Some(&here), "the first append");
        for id in 1..=3 {
            let here = std::thread::current().id();
            let committed = group.append_here(record(id));
            assert_eq!(lock(&store.threads).last(), Some(&here), "append {id}");
            committed.await.unwrap();
        }
    }

    /// While commits are slow, a lone append is left to the committer: the sender's
    /// thread, one of the runtime's, would be kept from its other work (and the
    /// runtime's I/O) for as long.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn while_commits_are_slow_a_lone_append_goes_to_the_committer() {
        let store = Arc::new(Recording::slow(QUICK_COMMIT + Duration::from_millis(5)));
        let group = GroupCommit::new(store.clone());
        for id in 1..=3 {
            let here = std::thread::current().id();
            let committed = group.append_here(record(id));
            committed.await.unwrap();
            assert_ne!(lock(&store.threads).last(), Some(&here), "append {id}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_only_thread_of_a_runtime_leaves_the_writing_to_the_committer() {
        let store = Arc::new(Recording::default());
        let group = GroupCommit::new(store.clone());
        group.append(record(1)).await.unwrap();
        assert_ne!(lock(&store.threads)[0], std::thread::current().id());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rounds_written_by_senders_and_by_the_committer_never_overlap_and_lose_nothing() {
        let store = Arc::new(Recording::slow(Duration::from_millis(2)));
        let group = GroupCommit::with_removal_linger(store.clone(), Duration::from_millis(1));
        let senders = (0..4u64).map(|sender| {
            let group = group.clone();
            tokio::spawn(async move {
                for n in 0..40 {
                    let id = sender * 1000 + n;
                    group.append_here(record(id)).await.unwrap();
                    if n % 3 == 0 {
                        group.remove("q", &[id]).await.unwrap();
                    }
                    tokio::time::sleep(Duration::from_micros(300 * sender)).await;
                }
            })
        });
        for sender in senders.collect::<Vec<_>>() {
            sender.await.unwrap();
        }
        assert_eq!(store.overlaps.load(std::sync::atomic::Ordering::SeqCst), 0);
        let commits = lock(&store.commits);
        let mut appended: Vec<u64> = commits.iter().flat_map(|(records, _)| records.clone()).collect();
        let mut removed: Vec<u64> = commits.iter().flat_map(|(_, removals)| removals.clone()).collect();
        appended.sort_unstable();
        removed.sort_unstable();
        let expected: Vec<u64> = (0..4u64).flat_map(|s| (0..40).map(move |n| s * 1000 + n)).collect();
        assert_eq!(appended, expected);
        assert_eq!(removed, expected.iter().copied().filter(|id| id % 1000 % 3 == 0).collect::<Vec<_>>());
        let threads: std::collections::HashSet<_> = lock(&store.threads).iter().copied().collect();
        assert!(threads.len() > 1, "rounds were written by the senders' threads and the committer");
    }

    #[test]
    fn a_round_holds_for_as_many_appends_as_the_last_at_most_the_gathering_time() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut pending = Pending {
            linger: ms(10),
            records: vec![record(1)],
            removals: Vec::new(),
            oldest_removal: None,
            last_append: Some(t0),
            oldest_record: Some(t0),
            last_round: 3,
            rounds: 0,
            last_commit: Some(ms(4)),
            gather: ms(2),
            waiters: Vec::new(),
            committing: true,
            writing: false,
            holding: false,
        };
        assert_eq!(pending.hold(t0 + ms(1)), Some(t0 + ms(2)), "one of three: wait");
        assert_eq!(pending.hold(t0 + ms(2)), None, "the gathering time is over");
        pending.records.extend([record(2), record(3)]);
        assert_eq!(pending.hold(t0 + ms(1)), None, "as many as the last round");
        pending.last_round = 1;
        pending.records.truncate(1);
        assert_eq!(pending.hold(t0), None, "the last round had one");
        // Removals alone wait for an append while appends come, for a linger.
        let (records, _, _) = pending.take_round();
        assert_eq!((records.len(), pending.last_round), (1, 1));
        pending.removals.push(("q".into(), 1));
        pending.oldest_removal = Some(t0 + ms(1));
        assert_eq!(pending.hold(t0 + ms(2)), None, "only appends gather");
        assert!(pending.removals_wait(t0 + ms(2)));
        assert!(!pending.removals_wait(t0 + ms(11)), "the linger is over");
        assert!(!pending.removals_wait(t0 + ms(200)), "no append for a while: commit at once");
    }
}
