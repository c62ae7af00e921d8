//! The durable store of mailboxes, on every backend (fjall, and JetStream on a real
//! nats-server): messages survive reopening the store, acknowledged ones are forgotten,
//! the mailboxes holding messages are listed, group commit makes concurrent durable
//! appends share transactions while answering each only once it is stored, a batch of
//! acknowledgements forgets its messages in one, and a durable mailbox finds its
//! unacknowledged messages again after a restart.
//!
//! Each test body takes a [`Backend`], which opens a store (again) in one place; the
//! [`on_every_backend!`] macro makes one test per backend, named `<body>::<backend>`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

mod slow_store;

use bytes::Bytes;
use courier::mailbox::store::{FjallStore, GroupCommit, Record, Store};

fn record(mailbox: &str, id: u64, body: &str) -> Record {
    Record { mailbox: mailbox.into(), id, source: "test".into(), body: Bytes::copy_from_slice(body.as_bytes()) }
}

/// Where a test's store keeps its messages.
trait Backend {
    /// Opens the store there; a second call reopens it, as after a restart.
    fn open(&self) -> Arc<dyn Store>;
}

/// A fjall store in a new scratch directory.
struct Fjall(std::path::PathBuf);

impl Fjall {
    fn new() -> Fjall {
        static STORES: AtomicUsize = AtomicUsize::new(0);
        let name = format!("mailbox-store-{}-{}", std::process::id(), STORES.fetch_add(1, Ordering::SeqCst));
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Fjall(dir.join("mailboxes"))
    }
}

impl Backend for Fjall {
    fn open(&self) -> Arc<dyn Store> {
        Arc::new(FjallStore::open(&self.0).unwrap())
    }
}

/// A nats-server of the test's own; reopening is connecting again.
#[cfg(feature = "jetstream")]
struct JetStream(courier_test_support::nats::NatsServer);

#[cfg(feature = "jetstream")]
impl JetStream {
    fn new() -> JetStream {
        JetStream(courier_test_support::nats::NatsServer::start())
    }
}

#[cfg(feature = "jetstream")]
impl Backend for JetStream {
    fn open(&self) -> Arc<dyn Store> {
        use courier::mailbox::jetstream::{JetStreamConfig, JetStreamStore};
        Arc::new(JetStreamStore::connect(&self.0.url(), JetStreamConfig::default()).unwrap())
    }
}

/// Makes, for each test body named, a module of that name with one test per backend.
macro_rules! on_every_backend {
    ($($kind:ident $body:ident;)*) => {$(
        mod $body {
            on_every_backend!(@test $kind $body fjall super::Fjall::new);
            #[cfg(feature = "jetstream")]
            on_every_backend!(@test $kind $body jetstream super::JetStream::new);
        }
    )*};
    (@test sync $body:ident $backend:ident $make:path) => {
        #[test]
        fn $backend() {
            super::$body(&$make());
        }
    };
    // The backend outlives the runtime, whose shutdown waits for the store calls still
    // running (removals of acknowledged messages).
    (@test async $body:ident $backend:ident $make:path) => {
        #[test]
        fn $backend() {
            let backend = $make();
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(super::$body(&backend));
            drop(runtime);
        }
    };
}

on_every_backend! {
    sync messages_survive_reopening_and_acknowledged_ones_are_gone;
    sync the_mailboxes_with_messages_are_listed_whatever_their_names;
    async concurrent_durable_appends_share_transactions;
    async a_durable_mailbox_keeps_unacknowledged_messages_across_a_restart;
    async a_batch_acknowledgement_forgets_its_messages_in_one_commit;
}

fn messages_survive_reopening_and_acknowledged_ones_are_gone(backend: &dyn Backend) {
    {
        let store = backend.open();
        store.append(&[record("a", 1, "one"), record("a", 2, "two"), record("b", 1, "other")]).unwrap();
        store.remove("a", &[1]).unwrap();
    }
    let store = backend.open();
    assert_eq!(store.load("a").unwrap(), [record("a", 2, "two")]);
    assert_eq!(store.load("b").unwrap(), [record("b", 1, "other")]);
    assert!(store.load("c").unwrap().is_empty());
    // A store that did not append them forgets them too.
    store.remove("a", &[2]).unwrap();
    assert!(store.load("a").unwrap().is_empty());
    drop(store);
    assert_eq!(backend.open().load("b").unwrap(), [record("b", 1, "other")]);
}

fn the_mailboxes_with_messages_are_listed_whatever_their_names(backend: &dyn Backend) {
    let names = ["", "a.b", "a b", "x>*", "%41", "A", "ünï cödé", "orders"];
    let sent = |id, name: &str| Record { source: format!("from {name}\r\n"), ..record(name, id, name) };
    {
        let store = backend.open();
        for (id, name) in (1..).zip(names) {
            store.append(&[sent(id, name)]).unwrap();
        }
        store.append(&[record("gone", 1, "soon")]).unwrap();
        store.remove("gone", &[1]).unwrap();
    }
    let store = backend.open();
    let mut expected: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    expected.sort();
    assert_eq!(store.mailboxes().unwrap(), expected);
    // Each name has its own messages, with its source as sent.
    for (id, name) in (1..).zip(names) {
        assert_eq!(store.load(name).unwrap(), [sent(id, name)], "{name:?}");
    }
}

/// A store that counts its transactions.
struct Counting(Arc<dyn Store>, AtomicUsize);

impl Store for Counting {
    fn commit(&self, records: &[Record], removals: &[(String, u64)]) -> std::io::Result<()> {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.commit(records, removals)
    }
    fn load(&self, mailbox: &str) -> std::io::Result<Vec<Record>> {
        self.0.load(mailbox)
    }
    fn mailboxes(&self) -> std::io::Result<Vec<String>> {
        self.0.mailboxes()
    }
}

async fn concurrent_durable_appends_share_transactions(backend: &dyn Backend) {
    let store = Arc::new(Counting(backend.open(), AtomicUsize::new(0)));
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
    // ...and they took far fewer transactions than appends.
    let transactions = store.1.load(Ordering::SeqCst);
    assert!(transactions < 128, "{transactions} transactions for 256 appends");
    drop(group);
    // The committer lets go of the store just after answering the last append; a store
    // is opened by one holder at a time.
    let start = std::time::Instant::now();
    while Arc::strong_count(&store) > 1 {
        assert!(start.elapsed() < std::time::Duration::from_secs(5), "the committer kept the store");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    drop(store);
    assert_eq!(backend.open().load("q").unwrap().len(), 256);
}

async fn a_durable_mailbox_keeps_unacknowledged_messages_across_a_restart(backend: &dyn Backend) {
    use courier::mailbox::{Mailbox, QueueConfig};
    {
        let store = backend.open();
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
    let store = backend.open();
    let mailbox = Mailbox::durable("orders", QueueConfig::default(), store).unwrap();
    assert_eq!(mailbox.depth(), (2, 0));
    let two = mailbox.try_receive(None).unwrap();
    let three = mailbox.try_receive(None).unwrap();
    assert_eq!((two.message().body.clone(), three.message().body.clone()), (Bytes::from("two"), Bytes::from("three")));
    assert!(mailbox.send_durable("shop", Bytes::from("four")).await.unwrap() > three.message().id);
    two.ack();
    three.ack();
}

async fn a_batch_acknowledgement_forgets_its_messages_in_one_commit(backend: &dyn Backend) {
    use courier::mailbox::{Mailbox, QueueConfig};
    let store = Arc::new(Counting(backend.open(), AtomicUsize::new(0)));
    let mailbox = Mailbox::durable("batch", QueueConfig::default(), store.clone()).unwrap();
    for i in 0..20 {
        mailbox.send_durable("shop", Bytes::from(i.to_string())).await.unwrap();
    }
    mailbox.send("shop", Bytes::from("not persisted")).await.unwrap();
    let batch = mailbox.receive_batch(None, 100, std::time::Duration::from_secs(1)).await;
    assert_eq!(batch.len(), 21);
    let receipts: Vec<_> = batch.iter().map(|delivery| delivery.receipt()).collect();
    drop(batch);
    let before = store.1.load(Ordering::SeqCst);
    assert_eq!(mailbox.ack_batch(&receipts).await.unwrap(), [true; 21]);
    assert_eq!(store.1.load(Ordering::SeqCst), before + 1, "one commit for the twenty removals");
    assert!(store.load("batch").unwrap().is_empty(), "answered once forgotten on disk");
    assert_eq!(mailbox.depth(), (0, 0));
}

/// A durable send whose caller stops waiting while its message is being written: the
/// message, which may be on disk, is admitted once written (not lost from the queue
/// while it waits in the store), and its room is not lost either.
#[test]
fn a_durable_send_dropped_while_its_message_is_written_still_delivers_it() {
    use courier::mailbox::{Mailbox, QueueConfig, WhenFull};
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let backend = Fjall::new();
    runtime.block_on(async {
        let store: Arc<dyn Store> =
            Arc::new(slow_store::Slow::new(backend.open(), std::time::Duration::from_millis(200)));
        let config = QueueConfig { capacity: 1, when_full: WhenFull::Reject, ..QueueConfig::default() };
        let mailbox = Mailbox::durable("slow", config, store.clone()).unwrap();
        let send = mailbox.send_durable("impatient", Bytes::from("written anyway"));
        assert!(tokio::time::timeout(std::time::Duration::from_millis(50), send).await.is_err(), "gave up first");
        let delivery = mailbox.receive_timeout(None, std::time::Duration::from_secs(5)).await.expect("admitted");
        assert_eq!(delivery.message().body, Bytes::from("written anyway"));
        assert!(delivery.ack_durable().await.unwrap());
        // The one place of the mailbox is free again.
        mailbox.send_durable("patient", Bytes::from("next")).await.unwrap();
        assert_eq!(store.load("slow").unwrap().len(), 1);
    });
    drop(runtime);
}
