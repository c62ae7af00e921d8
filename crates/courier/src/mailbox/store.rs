//! Where durable mailboxes keep their messages: the [`Store`] trait, its embedded
//! implementation on redb ([`RedbStore`]), and [`GroupCommit`], which makes many
//! concurrent durable sends share one synced transaction.
//!
//! The embedded store is redb: a pure-Rust, ACID, embedded key-value store whose commits
//! (with `Durability::Immediate`, its default) are synced to disk before `commit`
//! returns, and which recovers the last committed state after a crash (two checksummed
//! commit slots). A message is persisted as `(mailbox, id) → (source, body)`; an
//! acknowledged message is removed. "Acknowledged means durable": a durable send is
//! answered only after the transaction holding its message has committed.

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use redb::{Database, ReadableTable, TableDefinition};
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
    /// Persists `records` in one transaction; returns once they are on disk.
    fn append(&self, records: &[Record]) -> io::Result<()>;
    /// Forgets acknowledged messages.
    fn remove(&self, mailbox: &str, ids: &[u64]) -> io::Result<()>;
    /// The messages of `mailbox` still persisted, oldest first.
    fn load(&self, mailbox: &str) -> io::Result<Vec<Record>>;
    /// The names of the mailboxes that have messages persisted, sorted.
    fn mailboxes(&self) -> io::Result<Vec<String>>;
    /// Persists `records` and forgets `removals` (mailbox and id, sorted) together;
    /// returns once both are on disk. By default an append, then a removal per mailbox;
    /// a store that can do both in one transaction (one sync) should.
    fn commit(&self, records: &[Record], removals: &[(String, u64)]) -> io::Result<()> {
        if !records.is_empty() {
            self.append(records)?;
        }
        for group in removals.chunk_by(|a, b| a.0 == b.0) {
            let ids: Vec<u64> = group.iter().map(|(_, id)| *id).collect();
            self.remove(&group[0].0, &ids)?;
        }
        Ok(())
    }
}

/// Messages by (mailbox, id): (source, body).
const MESSAGES: TableDefinition<(&str, u64), (&str, &[u8])> = TableDefinition::new("messages");

/// The embedded store: one redb file.
///
/// After an I/O error (a full disk, say) redb refuses every later transaction until the
/// database is opened again; this store then opens it again by itself, so that it works
/// once there is room, and meanwhile every failure says what the disk said.
#[derive(Debug)]
pub struct RedbStore {
    path: std::path::PathBuf,
    /// `None` only while it is being opened again.
    db: RwLock<Option<Database>>,
}

fn io_error(e: impl Into<redb::Error>) -> io::Error {
    match e.into() {
        redb::Error::Io(e) => e,
        e => io::Error::other(e),
    }
}

// redb's error is large (160 bytes); here it only lives on its way to an io::Error.
#[allow(clippy::result_large_err)]
fn create(path: &Path) -> Result<Database, redb::Error> {
    let db = Database::create(path)?;
    let write = db.begin_write()?;
    write.open_table(MESSAGES)?;
    write.commit()?;
    Ok(db)
}

impl RedbStore {
    /// Opens (or creates) the store in `path`.
    pub fn open(path: &Path) -> io::Result<RedbStore> {
        let db = create(path).map_err(io_error)?;
        Ok(RedbStore { path: path.to_owned(), db: RwLock::new(Some(db)) })
    }

    /// Runs `f` on the database; after an earlier I/O error, opens it again first.
    #[allow(clippy::result_large_err)] // as for `create`
    fn with<T>(&self, f: impl Fn(&Database) -> Result<T, redb::Error>) -> io::Result<T> {
        let result = match &*self.db.read().unwrap_or_else(|e| e.into_inner()) {
            Some(db) => f(db),
            None => Err(redb::Error::PreviousIo),
        };
        match result {
            Err(redb::Error::PreviousIo) => {
                let mut db = self.db.write().unwrap_or_else(|e| e.into_inner());
                // The old handle must be closed before the file is opened again.
                *db = None;
                *db = Some(create(&self.path).map_err(io_error)?);
                f(db.as_ref().expect("just opened")).map_err(io_error)
            }
            result => result.map_err(io_error),
        }
    }
}

#[allow(clippy::result_large_err)] // as for `create`
impl Store for RedbStore {
    fn append(&self, records: &[Record]) -> io::Result<()> {
        self.commit(records, &[])
    }

    fn remove(&self, mailbox: &str, ids: &[u64]) -> io::Result<()> {
        let removals: Vec<(String, u64)> = ids.iter().map(|id| (mailbox.to_owned(), *id)).collect();
        self.commit(&[], &removals)
    }

    fn commit(&self, records: &[Record], removals: &[(String, u64)]) -> io::Result<()> {
        self.with(|db| {
            let write = db.begin_write()?;
            {
                let mut table = write.open_table(MESSAGES)?;
                for r in records {
                    table.insert((r.mailbox.as_str(), r.id), (r.source.as_str(), &r.body[..]))?;
                }
                for (mailbox, id) in removals {
                    table.remove((mailbox.as_str(), *id))?;
                }
            }
            Ok(write.commit()?)
        })
    }

    fn load(&self, mailbox: &str) -> io::Result<Vec<Record>> {
        self.with(|db| {
            let read = db.begin_read()?;
            let table = read.open_table(MESSAGES)?;
            let mut records = Vec::new();
            for entry in table.range((mailbox, 0)..=(mailbox, u64::MAX))? {
                let (key, value) = entry?;
                let (_, id) = key.value();
                let (source, body) = value.value();
                records.push(Record {
                    mailbox: mailbox.to_owned(),
                    id,
                    source: source.to_owned(),
                    body: Bytes::copy_from_slice(body),
                });
            }
            Ok(records)
        })
    }

    fn mailboxes(&self) -> io::Result<Vec<String>> {
        self.with(|db| {
            let read = db.begin_read()?;
            let table = read.open_table(MESSAGES)?;
            let mut names: Vec<String> = Vec::new();
            // One look per mailbox: the first key after the last message of the one before.
            let mut next = table.first()?.map(|(key, _)| key.value().0.to_owned());
            while let Some(name) = next {
                next = None;
                for entry in table.range((name.as_str(), u64::MAX)..)? {
                    let key = entry?.0.value().0.to_owned();
                    if key != name {
                        next = Some(key);
                        break;
                    }
                }
                names.push(name);
            }
            Ok(names)
        })
    }
}

/// Appends to a store with group commit: while one transaction is being written, the
/// records that arrive wait, and the next transaction takes them all, so N concurrent
/// durable sends cost far fewer than N syncs.
#[derive(Clone)]
pub struct GroupCommit {
    store: Arc<dyn Store>,
    pending: Arc<Mutex<Pending>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Pending {
    records: Vec<Record>,
    /// Acknowledged messages to forget, by mailbox.
    removals: Vec<(String, u64)>,
    waiters: Vec<oneshot::Sender<Result<(), String>>>,
    /// A committer is writing (and will take what arrives meanwhile).
    committing: bool,
}

impl GroupCommit {
    /// Group commit in front of `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        GroupCommit { store, pending: Arc::default() }
    }

    /// Persists `record`; returns once it is on disk. Call within a tokio runtime.
    pub async fn append(&self, record: Record) -> io::Result<()> {
        self.commit(|pending| pending.records.push(record)).await
    }

    /// Forgets messages `ids` of `mailbox`; returns once that is on disk. Removals share
    /// the appends' rounds.
    pub async fn remove(&self, mailbox: &str, ids: &[u64]) -> io::Result<()> {
        self.commit(|pending| pending.removals.extend(ids.iter().map(|id| (mailbox.to_owned(), *id)))).await
    }

    async fn commit(&self, add: impl FnOnce(&mut Pending)) -> io::Result<()> {
        let (done, committed) = oneshot::channel();
        let start = {
            let mut pending = lock(&self.pending);
            add(&mut pending);
            pending.waiters.push(done);
            !std::mem::replace(&mut pending.committing, true)
        };
        if start {
            let (store, pending) = (self.store.clone(), self.pending.clone());
            tokio::task::spawn_blocking(move || commit_all(&*store, &pending));
        }
        match committed.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(io::Error::other(e)),
            Err(_) => Err(io::Error::other("the committer stopped")),
        }
    }
}

/// Writes what is pending, one commit per batch, until nothing is.
fn commit_all(store: &dyn Store, pending: &Mutex<Pending>) {
    loop {
        let (records, mut removals, waiters) = {
            let mut pending = lock(pending);
            if pending.waiters.is_empty() {
                pending.committing = false;
                return;
            }
            let pending = &mut *pending;
            (
                std::mem::take(&mut pending.records),
                std::mem::take(&mut pending.removals),
                std::mem::take(&mut pending.waiters),
            )
        };
        removals.sort();
        let result = store.commit(&records, &removals).map_err(|e| e.to_string());
        for waiter in waiters {
            let _ = waiter.send(result.clone());
        }
    }
}
