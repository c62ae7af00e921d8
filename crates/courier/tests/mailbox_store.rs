//! The durable store of mailboxes: messages survive reopening the store, acknowledged
//! ones are forgotten, and group commit makes concurrent durable appends share
//! transactions while answering each only once it is on disk.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use courier::mailbox::store::{GroupCommit, Record, RedbStore, Store};

fn record(mailbox: &str, id: u64, body: &str) -> Record {
    Record { mailbox: mailbox.into(), id, source: "test".into(), body: Bytes::copy_from_slice(body.as_bytes()) }
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("mailboxes.redb")
}

#[test]
fn messages_survive_reopening_and_acknowledged_ones_are_gone() {
    let path = scratch("store-reopen");
    {
        let store = RedbStore::open(&path).unwrap();
        store.append(&[record("a", 1, "one"), record("a", 2, "two"), record("b", 1, "other")]).unwrap();
        store.remove("a", &[1]).unwrap();
    }
    let store = RedbStore::open(&path).unwrap();
    assert_eq!(store.load("a").unwrap(), [record("a", 2, "two")]);
    assert_eq!(store.load("b").unwrap(), [record("b", 1, "other")]);
    assert!(store.load("c").unwrap().is_empty());
}

/// A store that counts its transactions.
struct Counting(RedbStore, AtomicUsize);

impl Store for Counting {
    fn append(&self, records: &[Record]) -> std::io::Result<()> {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.append(records)
    }
    fn remove(&self, mailbox: &str, ids: &[u64]) -> std::io::Result<()> {
        self.0.remove(mailbox, ids)
    }
    fn load(&self, mailbox: &str) -> std::io::Result<Vec<Record>> {
        self.0.load(mailbox)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_durable_appends_share_transactions() {
    let path = scratch("store-group");
    let store = Arc::new(Counting(RedbStore::open(&path).unwrap(), AtomicUsize::new(0)));
    let group = Arc::new(GroupCommit::new(store.clone()));
    let appends: Vec<_> = (1..=256u64)
        .map(|id| {
            let group = group.clone();
            tokio::spawn(async move { group.append(record("q", id, &id.to_string())).await })
        })
        .collect();
    for append in appends {
        append.await.unwrap().unwrap();
    }
    // Every acknowledged append is in the store...
    let loaded = store.load("q").unwrap();
    assert_eq!(loaded.iter().map(|r| r.id).collect::<Vec<_>>(), (1..=256).collect::<Vec<_>>());
    // ...and they took far fewer synced transactions than appends.
    let transactions = store.1.load(Ordering::SeqCst);
    assert!(transactions < 128, "{transactions} transactions for 256 appends");
    drop(group);
    drop(store);
    assert_eq!(RedbStore::open(&path).unwrap().load("q").unwrap().len(), 256);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_mailbox_keeps_unacknowledged_messages_across_a_restart() {
    use courier::mailbox::{Mailbox, QueueConfig};
    let path = scratch("store-mailbox");
    {
        let store: Arc<dyn Store> = Arc::new(RedbStore::open(&path).unwrap());
        let mailbox = Mailbox::durable("orders", QueueConfig::default(), store.clone()).unwrap();
        for body in ["one", "two", "three"] {
            mailbox.send_durable("shop", Bytes::from(body)).await.unwrap();
        }
        let first = mailbox.receive(None).await;
        assert_eq!(first.message().body, Bytes::from("one"));
        assert!(first.ack());
        let _unacknowledged = mailbox.receive(None).await; // taken, never acknowledged
                                                           // The acknowledged one leaves the store (in the background).
        let start = std::time::Instant::now();
        while store.load("orders").unwrap().len() != 2 {
            assert!(start.elapsed() < std::time::Duration::from_secs(5), "the acknowledged message stayed");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    // Restarted: both unacknowledged messages wait again, in order; new ids follow.
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(&path).unwrap());
    let mailbox = Mailbox::durable("orders", QueueConfig::default(), store).unwrap();
    assert_eq!(mailbox.depth(), (2, 0));
    let two = mailbox.try_receive(None).unwrap();
    let three = mailbox.try_receive(None).unwrap();
    assert_eq!((two.message().body.clone(), three.message().body.clone()), (Bytes::from("two"), Bytes::from("three")));
    assert!(mailbox.send_durable("shop", Bytes::from("four")).await.unwrap() > three.message().id);
    two.ack();
    three.ack();
}
