//! A store whose commits take a while, as a slow disk's: the tests of a durable send
//! whose caller stops waiting, or asks not to wait, while its message is written.

use std::sync::Arc;
use std::time::Duration;

use courier::mailbox::store::{Record, Store};

/// `Slow(store, delay)`: `store`, each of whose commits first sleeps `delay`.
pub struct Slow(pub Arc<dyn Store>, pub Duration);

impl Store for Slow {
    fn commit(&self, records: &[Record], removals: &[(String, u64)]) -> std::io::Result<()> {
        std::thread::sleep(self.1);
        self.0.commit(records, removals)
    }
    fn load(&self, mailbox: &str) -> std::io::Result<Vec<Record>> {
        self.0.load(mailbox)
    }
    fn mailboxes(&self) -> std::io::Result<Vec<String>> {
        self.0.mailboxes()
    }
}
