//! A store whose commits take a while, as a slow disk's, and are counted: the tests of a
//! durable send whose caller stops waiting, or asks not to wait, while its message is
//! written, and of durable sends sharing commits.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use courier::mailbox::store::{Record, Store};

/// A store each of whose commits first sleeps a while.
pub struct Slow {
    store: Arc<dyn Store>,
    /// The delay, in microseconds.
    delay: AtomicU64,
    commits: AtomicUsize,
}

impl Slow {
    /// `store`, each of whose commits first sleeps `delay`.
    pub fn new(store: Arc<dyn Store>, delay: Duration) -> Slow {
        let delay = AtomicU64::new(delay.as_micros().try_into().unwrap_or(u64::MAX));
        Slow { store, delay, commits: AtomicUsize::new(0) }
    }

    /// From now on, each commit first sleeps `delay`.
    #[allow(dead_code)] // Not every test that includes this module changes it.
    pub fn set_delay(&self, delay: Duration) {
        self.delay.store(delay.as_micros().try_into().unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// How many commits were made.
    #[allow(dead_code)] // Not every test that includes this module counts.
    pub fn commits(&self) -> usize {
        self.commits.load(Ordering::SeqCst)
    }
}

impl Store for Slow {
    fn commit(&self, records: &[Record], removals: &[(String, u64)]) -> std::io::Result<()> {
        std::thread::sleep(Duration::from_micros(self.delay.load(Ordering::SeqCst)));
        self.commits.fetch_add(1, Ordering::SeqCst);
        self.store.commit(records, removals)
    }
    fn load(&self, mailbox: &str) -> std::io::Result<Vec<Record>> {
        self.store.load(mailbox)
    }
    fn mailboxes(&self) -> std::io::Result<Vec<String>> {
        self.store.mailboxes()
    }
}
