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
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use redb::{Database, TableDefinition};
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
}

/// Messages by (mailbox, id): (source, body).
const MESSAGES: TableDefinition<(&str, u64), (&str, &[u8])> = TableDefinition::new("messages");

/// The embedded store: one redb file.
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
}

fn io_error(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::other(e)
}

impl RedbStore {
    /// Opens (or creates) the store in `path`.
    pub fn open(path: &Path) -> io::Result<RedbStore> {
        let db = Database::create(path).map_err(io_error)?;
        let write = db.begin_write().map_err(io_error)?;
        write.open_table(MESSAGES).map_err(io_error)?;
        write.commit().map_err(io_error)?;
        Ok(RedbStore { db })
    }
}

impl Store for RedbStore {
    fn append(&self, records: &[Record]) -> io::Result<()> {
        let write = self.db.begin_write().map_err(io_error)?;
        {
            let mut table = write.open_table(MESSAGES).map_err(io_error)?;
            for r in records {
                table.insert((r.mailbox.as_str(), r.id), (r.source.as_str(), &r.body[..])).map_err(io_error)?;
            }
        }
        write.commit().map_err(io_error)
    }

    fn remove(&self, mailbox: &str, ids: &[u64]) -> io::Result<()> {
        let write = self.db.begin_write().map_err(io_error)?;
        {
            let mut table = write.open_table(MESSAGES).map_err(io_error)?;
            for id in ids {
                table.remove((mailbox, *id)).map_err(io_error)?;
            }
        }
        write.commit().map_err(io_error)
    }

    fn load(&self, mailbox: &str) -> io::Result<Vec<Record>> {
        let read = self.db.begin_read().map_err(io_error)?;
        let table = read.open_table(MESSAGES).map_err(io_error)?;
        let mut records = Vec::new();
        for entry in table.range((mailbox, 0)..=(mailbox, u64::MAX)).map_err(io_error)? {
            let (key, value) = entry.map_err(io_error)?;
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
    }
}

/// Appends to a store with group commit: while one transaction is being written, the
/// records that arrive wait, and the next transaction takes them all, so N concurrent
/// durable sends cost far fewer than N syncs.
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
        let (done, committed) = oneshot::channel();
        let start = {
            let mut pending = lock(&self.pending);
            pending.records.push(record);
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

/// Writes what is pending, one transaction per batch, until nothing is.
fn commit_all(store: &dyn Store, pending: &Mutex<Pending>) {
    loop {
        let (records, waiters) = {
            let mut pending = lock(pending);
            if pending.records.is_empty() {
                pending.committing = false;
                return;
            }
            (std::mem::take(&mut pending.records), std::mem::take(&mut pending.waiters))
        };
        let result = store.append(&records).map_err(|e| e.to_string());
        for waiter in waiters {
            let _ = waiter.send(result.clone());
        }
    }
}
