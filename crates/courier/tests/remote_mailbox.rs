//! Mailboxes of a node, reached over ONC RPC: every send and receive mode through the
//! mailbox program, receipts and redelivery, durable messages surviving a restart of the
//! node, and bad input (oversized messages, garbage, too many mailboxes, durable sends to
//! a node without a store) answered with errors while other clients carry on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod slow_store;

use bytes::Bytes;
use courier::mailbox::post_office::{PostOffice, PostOfficeConfig};
use courier::mailbox::protocol::{self, MailboxRef};
use courier::mailbox::remote::{MailboxClient, RemoteError, RemoteMailbox};
use courier::mailbox::store::{FjallStore, Record, Store};
use courier::mailbox::{QueueConfig, Receipt, WhenFull};
use courier::rpc::{CallError, Client, ClientConfig, Server};
use courier::transport::Endpoint;
use futures_util::StreamExt;

fn config() -> PostOfficeConfig {
    let queue = QueueConfig {
        capacity: 100,
        when_full: WhenFull::Reject,
        visibility: Duration::from_millis(300),
        max_deliveries: None,
    };
    PostOfficeConfig { queue, max_mailboxes: 16, max_wait: Duration::from_secs(10) }
}

/// A node serving a post office on free loopback ports, TCP and UDP.
struct Node {
    office: Arc<PostOffice>,
    addr: SocketAddr,
    udp: SocketAddr,
    _listening: (courier::rpc::Listening, courier::rpc::Listening),
}

impl Node {
    async fn start(config: PostOfficeConfig, store: Option<Arc<dyn Store>>) -> Node {
        let office = PostOffice::open(config, store).unwrap();
        let server = Server::builder().register(protocol::PROGRAM, protocol::VERSION, office.service()).build();
        let tcp = server.listen(&"tcp://127.0.0.1:0".parse().unwrap()).await.unwrap();
        let udp = server.listen(&"udp://127.0.0.1:0".parse().unwrap()).await.unwrap();
        let Endpoint::Tcp(addr) = tcp.endpoint().clone() else { unreachable!("TCP") };
        let Endpoint::Udp(udp_addr) = udp.endpoint().clone() else { unreachable!("UDP") };
        Node { office, addr, udp: udp_addr, _listening: (tcp, udp) }
    }

    async fn mailbox(&self, name: &str) -> RemoteMailbox {
        let reference = MailboxRef { node: self.addr, name: name.into() };
        RemoteMailbox::open(&reference).await.unwrap()
    }
}

fn text(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mode_works_across_the_wire() {
    let node = Node::start(config(), None).await;
    let inbox = node.mailbox("inbox").await;
    assert_eq!(inbox.reference().unwrap().to_string(), format!("mailbox://{}/inbox", node.addr));

    // Asynchronous send, non-blocking receive, source filter.
    assert!(inbox.try_receive(None).await.unwrap().is_none());
    inbox.send("alice", text("from alice")).await.unwrap();
    inbox.send("bob", text("from bob")).await.unwrap();
    let bob = inbox.try_receive(Some("bob")).await.unwrap().expect("bob's message");
    assert_eq!((bob.message().source.as_str(), &bob.message().body[..]), ("bob", &b"from bob"[..]));
    assert!(bob.ack().await.unwrap());
    let alice = inbox.receive(None).await.unwrap();
    assert_eq!(&alice.message().body[..], b"from alice");
    assert!(alice.ack().await.unwrap());

    // Timed receive: nothing comes, and it took about the timeout.
    let start = Instant::now();
    assert!(inbox.receive_timeout(None, Duration::from_millis(300)).await.unwrap().is_none());
    assert!(start.elapsed() >= Duration::from_millis(250), "{:?}", start.elapsed());

    // A waiting receive (a future) gets a message sent while it waits.
    let waiting = tokio::spawn({
        let inbox = inbox.clone();
        async move { inbox.receive(None).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(node.office.mailbox("inbox").unwrap().stats().consumers, 1, "the long poll waits at the node");
    inbox.send("carol", text("late")).await.unwrap();
    let late = waiting.await.unwrap();
    assert_eq!(&late.message().body[..], b"late");
    late.ack().await.unwrap();

    // Synchronous send: returns only once a receiver took the message.
    let sync = tokio::spawn({
        let inbox = inbox.clone();
        async move { inbox.send_sync("dave", text("rendezvous")).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!sync.is_finished(), "nobody took it yet");
    let taken = inbox.receive(None).await.unwrap();
    sync.await.unwrap().unwrap();
    taken.ack().await.unwrap();

    // A synchronous send nobody takes ends with NotTaken (the message stays queued).
    let lonely = node.mailbox("lonely").await.with_wait(Duration::from_millis(300));
    assert!(matches!(lonely.send_sync("eve", text("anyone?")).await, Err(RemoteError::NotTaken(_))));
    assert_eq!(lonely.try_receive(None).await.unwrap().unwrap().message().body, text("anyone?"));

    // Event-driven receive: a stream of deliveries.
    for i in 0..5 {
        inbox.send("frank", text(&i.to_string())).await.unwrap();
    }
    let mut stream = Box::pin(inbox.deliveries(None));
    for i in 0..5 {
        let delivery = stream.next().await.unwrap().unwrap();
        assert_eq!(delivery.message().body, text(&i.to_string()));
        delivery.ack().await.unwrap();
    }

    // A node without a store refuses durable sends, saying why.
    match inbox.send_durable("gina", text("keep me")).await {
        Err(RemoteError::NoStore(reason)) => assert!(reason.contains("--data"), "{reason}"),
        other => panic!("durable send to a node without a store: {other:?}"),
    }
}

fn bodies(batch: &[courier::mailbox::remote::RemoteDelivery]) -> Vec<Bytes> {
    batch.iter().map(|delivery| delivery.message().body.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_carry_many_messages_and_receipts_in_one_call() {
    let mut config = config();
    config.queue.capacity = 1000;
    config.queue.visibility = Duration::from_secs(1);
    let node = Node::start(config, None).await;
    let q = node.mailbox("batches").await;
    assert!(q.receive_batch(None, 10, Duration::ZERO).await.unwrap().is_empty());
    q.send("a", text("zero")).await.unwrap();
    assert!(q.receive_batch(None, 0, Duration::from_secs(5)).await.unwrap().is_empty(), "at most none");
    assert!(q.try_receive(None).await.unwrap().expect("still there").ack().await.unwrap());

    // A batch receive waits for the first message, then answers with it.
    let waiting = tokio::spawn({
        let q = q.clone();
        async move { q.receive_batch(None, 10, Duration::from_secs(5)).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    q.send("a", text("first")).await.unwrap();
    let first = waiting.await.unwrap();
    assert_eq!(bodies(&first), [text("first")]);
    // Not acknowledged within the visibility timeout: delivered again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = q.try_receive(None).await.unwrap().expect("delivered again");
    assert_eq!((again.message().body.clone(), again.message().deliveries), (text("first"), 2));

    // 300 messages: at most 256 in one batch, oldest first; the source filter holds.
    let numbers = |range: std::ops::Range<usize>| range.map(|i| text(&i.to_string())).collect::<Vec<_>>();
    for i in 0..300 {
        q.send(if i < 290 { "a" } else { "b" }, text(&i.to_string())).await.unwrap();
    }
    let from_b = q.receive_batch(Some("b"), 1000, Duration::from_secs(1)).await.unwrap();
    assert_eq!(bodies(&from_b), numbers(290..300));
    let big = q.receive_batch(None, 1000, Duration::from_secs(1)).await.unwrap();
    assert_eq!(bodies(&big), numbers(0..256));
    let rest = q.receive_batch(None, 1000, Duration::ZERO).await.unwrap();
    assert_eq!(bodies(&rest), numbers(256..290));
    assert_eq!(node.office.mailbox("batches").unwrap().depth(), (0, 301));

    // All acknowledged at once (two calls of at most 256 receipts), the first one late.
    let mut receipts: Vec<_> = [first, from_b, big, rest].iter().flatten().map(|d| d.receipt()).collect();
    receipts.push(again.receipt());
    let settled = q.ack_batch(&receipts).await.unwrap();
    assert_eq!(settled.len(), 302);
    assert!(!settled[0], "the first delivery's receipt is stale");
    assert!(settled[1..].iter().all(|&s| s), "every other delivery is settled");
    assert_eq!(node.office.mailbox("batches").unwrap().depth(), (0, 0));
    drop(again);

    // Beyond its first message a batch carries at most MAX_BODY bytes of bodies.
    let large = Bytes::from(vec![7u8; 400 << 10]);
    for _ in 0..3 {
        q.send("a", large.clone()).await.unwrap();
    }
    let two = q.receive_batch(None, 10, Duration::from_secs(1)).await.unwrap();
    let one = q.receive_batch(None, 10, Duration::from_secs(1)).await.unwrap();
    assert_eq!((two.len(), one.len()), (2, 1));
    let receipts: Vec<_> = two.iter().chain(&one).map(|d| d.receipt()).collect();
    assert_eq!(q.ack_batch(&receipts).await.unwrap(), [true; 3]);

    // Over UDP a batch stays inside one datagram.
    let client = Client::connect(&Endpoint::Udp(node.udp), ClientConfig::default()).await.unwrap();
    let over_udp = MailboxClient::new(client).mailbox("batches").unwrap();
    let kilobyte = Bytes::from(vec![1u8; 1000]);
    for _ in 0..100 {
        q.send("a", kilobyte.clone()).await.unwrap();
    }
    let mut received = 0;
    while received < 100 {
        let batch = over_udp.receive_batch(None, 256, Duration::from_secs(1)).await.unwrap();
        assert!((2..=33).contains(&batch.len()), "{} messages of 1000 bytes", batch.len());
        received += batch.len();
        let receipts: Vec<_> = batch.iter().map(|d| d.receipt()).collect();
        assert!(over_udp.ack_batch(&receipts).await.unwrap().iter().all(|&s| s));
    }
    assert_eq!(received, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_message_comes_back_and_a_stale_receipt_is_refused() {
    let node = Node::start(config(), None).await;
    let jobs = node.mailbox("jobs").await;
    jobs.send("boss", text("job")).await.unwrap();
    let first = jobs.receive(None).await.unwrap();
    assert_eq!(first.message().deliveries, 1);
    // Not acknowledged within the visibility timeout (300 ms): delivered again.
    let again = jobs.receive_timeout(None, Duration::from_secs(5)).await.unwrap().expect("redelivered");
    assert_eq!((again.message().id, again.message().deliveries), (first.message().id, 2));
    assert!(!first.ack().await.unwrap(), "the first delivery's receipt is stale");
    assert!(again.release().await.unwrap(), "given back");
    let third = jobs.try_receive(None).await.unwrap().expect("released messages come at once");
    assert_eq!(third.message().deliveries, 3);
    assert!(third.ack().await.unwrap());
    assert!(jobs.try_receive(None).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_go_to_the_dead_mailbox() {
    let mut config = config();
    config.queue.max_deliveries = Some(2);
    let node = Node::start(config, None).await;
    let work = node.mailbox("work").await;
    work.send("boss", text("poison")).await.unwrap();
    for delivery in 1..=2 {
        let d = work.receive_timeout(None, Duration::from_secs(5)).await.unwrap().expect("delivered");
        assert_eq!(d.message().deliveries, delivery);
        drop(d); // never acknowledged
    }
    let dead = node.mailbox("work.dead").await;
    let letter = dead.receive_timeout(None, Duration::from_secs(5)).await.unwrap().expect("a dead letter");
    assert_eq!((letter.message().source.as_str(), letter.message().body.clone()), ("boss", text("poison")));
    letter.ack().await.unwrap();
    assert!(work.try_receive(None).await.unwrap().is_none());
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("mailboxes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_messages_survive_a_restart_of_the_node_and_acknowledged_ones_stay_gone() {
    let path = scratch("node-restart");
    let mut config = config();
    config.queue.max_deliveries = Some(1);
    {
        let store: Arc<dyn Store> = Arc::new(FjallStore::open(&path).unwrap());
        let node = Node::start(config.clone(), Some(store)).await;
        let orders = node.mailbox("orders").await;
        for i in 0..10 {
            orders.send_durable("shop", text(&format!("order {i}"))).await.unwrap();
        }
        orders.send("shop", text("not durable")).await.unwrap();
        // Three acknowledged durably: gone for good.
        for i in 0..3 {
            let d = orders.receive(None).await.unwrap();
            assert_eq!(d.message().body, text(&format!("order {i}")));
            assert!(d.message().durable);
            assert!(d.ack().await.unwrap());
        }
        // One received, never acknowledged, past its last delivery: a durable dead letter.
        let poisoned = orders.receive(None).await.unwrap();
        assert_eq!(poisoned.message().body, text("order 3"));
        drop(poisoned);
        let dead = node.mailbox("orders.dead").await;
        let letter = dead.receive_timeout(None, Duration::from_secs(5)).await.unwrap().expect("dead letter");
        assert!(letter.message().durable, "a persisted message stays persisted as a dead letter");
        letter.release().await.unwrap();
        // The move out of `orders`' store happens after the letter is persisted.
        let limit = Instant::now() + Duration::from_secs(5);
        while stored(&node, "orders") != 6 {
            assert!(Instant::now() < limit, "order 3 left the origin's store");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // The node restarts on the same store: durable messages are back, in order.
    let store = reopen(&path).await;
    let node = Node::start(config, Some(store)).await;
    let names: Vec<String> = node.office.mailboxes().iter().map(|m| m.name().to_owned()).collect();
    assert_eq!(names, ["orders", "orders.dead"], "the mailboxes with persisted messages are open at start");
    let orders = node.mailbox("orders").await;
    for i in 4..10 {
        let d = orders.receive_timeout(None, Duration::from_secs(2)).await.unwrap().expect("persisted");
        assert_eq!(d.message().body, text(&format!("order {i}")));
        d.ack().await.unwrap();
    }
    assert!(orders.try_receive(None).await.unwrap().is_none(), "the non-durable message did not survive");
    let dead = node.mailbox("orders.dead").await;
    let letter = dead.try_receive(None).await.unwrap().expect("the dead letter survived");
    assert_eq!(letter.message().body, text("order 3"));
    letter.ack().await.unwrap();
}

/// A store whose commits that remove messages fail while it is told to refuse them.
struct Refusing {
    store: FjallStore,
    refuse: std::sync::atomic::AtomicBool,
}

impl Store for Refusing {
    fn commit(&self, records: &[Record], removals: &[(String, u64)]) -> std::io::Result<()> {
        if !removals.is_empty() && self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(std::io::Error::other("removals refused"));
        }
        self.store.commit(records, removals)
    }
    fn load(&self, mailbox: &str) -> std::io::Result<Vec<Record>> {
        self.store.load(mailbox)
    }
    fn mailboxes(&self) -> std::io::Result<Vec<String>> {
        self.store.mailboxes()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_acknowledges_a_batch_with_its_next_receive() {
    let store = Arc::new(Refusing { store: FjallStore::open(&scratch("ack-receive")).unwrap(), refuse: false.into() });
    // Deliveries stay in flight for the whole test: none comes back on its own.
    let mut config = config();
    config.queue.visibility = Duration::from_secs(60);
    let node = Node::start(config, Some(store.clone())).await;
    let q = node.mailbox("jobs").await;
    for i in 0..3 {
        q.send_durable("boss", text(&format!("job {i}"))).await.unwrap();
    }
    // Nothing to acknowledge yet: a batch receive.
    let (settled, first) = q.ack_and_receive_batch(&[], None, 2, Duration::from_secs(5)).await.unwrap();
    assert!(settled.is_empty());
    assert_eq!(bodies(&first), [text("job 0"), text("job 1")]);

    // Two acknowledged and the next taken in one call; the removals were on disk before it answered.
    let receipts: Vec<_> = first.iter().map(|d| d.receipt()).collect();
    let (settled, second) = q.ack_and_receive_batch(&receipts, None, 10, Duration::from_secs(5)).await.unwrap();
    assert_eq!((settled, bodies(&second)), (vec![true, true], vec![text("job 2")]));
    assert_eq!(stored(&node, "jobs"), 1);

    // A stale receipt is refused; with nothing waiting, the answer comes when the wait is over.
    let stale = Receipt { delivery: second[0].receipt().delivery + 1, ..second[0].receipt() };
    let start = Instant::now();
    let (settled, none) = q.ack_and_receive_batch(&[stale], None, 10, Duration::from_millis(300)).await.unwrap();
    assert_eq!(settled, [false]);
    assert!(none.is_empty() && start.elapsed() >= Duration::from_millis(250), "{:?}", start.elapsed());

    // A message sent while the call waits answers it, with the acknowledgement.
    let waiting = tokio::spawn({
        let (q, receipt) = (q.clone(), second[0].receipt());
        async move { q.ack_and_receive_batch(&[receipt], None, 10, Duration::from_secs(5)).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    q.send_durable("boss", text("job 3")).await.unwrap();
    let (settled, third) = waiting.await.unwrap();
    assert_eq!((settled, bodies(&third)), (vec![true], vec![text("job 3")]));
    assert_eq!(stored(&node, "jobs"), 1, "job 2 forgotten on disk, job 3 kept");

    // When the removals fail, the call says so, and what it took goes back, in order.
    q.send_durable("boss", text("job 4")).await.unwrap();
    q.send_durable("boss", text("job 5")).await.unwrap();
    store.refuse.store(true, std::sync::atomic::Ordering::SeqCst);
    let refused = q.ack_and_receive_batch(&[third[0].receipt()], None, 10, Duration::from_secs(5)).await;
    assert!(matches!(&refused, Err(RemoteError::Store(why)) if why.contains("removals refused")), "{refused:?}");
    store.refuse.store(false, std::sync::atomic::Ordering::SeqCst);
    let (settled, fourth) = q.ack_and_receive_batch(&[], None, 10, Duration::ZERO).await.unwrap();
    assert_eq!((settled, bodies(&fourth)), (vec![], vec![text("job 4"), text("job 5")]));
    assert_eq!(stored(&node, "jobs"), 3, "job 3 not forgotten on disk (it comes back after a restart)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_lingers_gets_fuller_batches() {
    let mut config = config();
    config.queue.visibility = Duration::from_secs(60);
    let node = Node::start(config, None).await;
    let q = node.mailbox("stream").await;
    let lingering = q.clone().with_linger(Duration::from_millis(300));
    // The batch stays open after its first message and takes what comes meanwhile.
    let waiting = tokio::spawn({
        let lingering = lingering.clone();
        async move { lingering.receive_batch(None, 10, Duration::from_secs(5)).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let start = Instant::now();
    q.send("a", text("1")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    q.send("a", text("2")).await.unwrap();
    q.send("a", text("3")).await.unwrap();
    let first = waiting.await.unwrap();
    assert_eq!(bodies(&first), [text("1"), text("2"), text("3")]);
    assert!(start.elapsed() >= Duration::from_millis(250), "it lingered: {:?}", start.elapsed());

    // Acknowledging with the next receive: a batch that is full at once answers at once.
    for body in ["4", "5", "6"] {
        q.send("a", text(body)).await.unwrap();
    }
    let receipts: Vec<_> = first.iter().map(|d| d.receipt()).collect();
    let start = Instant::now();
    let (settled, second) = lingering.ack_and_receive_batch(&receipts, None, 2, Duration::from_secs(5)).await.unwrap();
    assert_eq!((settled, bodies(&second)), (vec![true; 3], vec![text("4"), text("5")]));
    assert!(start.elapsed() < Duration::from_millis(250), "a full batch does not linger: {:?}", start.elapsed());
    assert_eq!(bodies(&q.receive_batch(None, 10, Duration::ZERO).await.unwrap()), [text("6")]);
}

/// How many messages of `mailbox` the node's store holds.
fn stored(node: &Node, mailbox: &str) -> usize {
    node.office.store().expect("durable").load(mailbox).unwrap().len()
}

/// Opens the store again once the previous node has let go of it (its connections end
/// asynchronously after the clients are gone).
async fn reopen(path: &std::path::Path) -> Arc<dyn Store> {
    let limit = Instant::now() + Duration::from_secs(5);
    loop {
        match FjallStore::open(path) {
            Ok(store) => return Arc::new(store),
            Err(e) if Instant::now() < limit => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("reopen the store: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_errors_and_other_clients_carry_on() {
    let node = Node::start(config(), None).await;
    let inbox = node.mailbox("inbox").await;

    // Oversized: refused by the client before sending, and by the node's decoder (the
    // body's bound is checked before anything is allocated) when a client sends it anyway.
    let big = Bytes::from(vec![7u8; protocol::MAX_BODY as usize + 1]);
    assert!(matches!(inbox.send("big", big.clone()).await, Err(RemoteError::TooLarge(n)) if n == big.len()));
    let raw = Client::connect(&Endpoint::Tcp(node.addr), ClientConfig::default()).await.unwrap();
    let mut args = Vec::new();
    for word in ["inbox", "big"] {
        args.extend_from_slice(&(word.len() as u32).to_be_bytes());
        args.extend_from_slice(word.as_bytes());
        args.resize(args.len().next_multiple_of(4), 0);
    }
    args.extend_from_slice(&0u32.to_be_bytes()); // SEND_ASYNC
    args.extend_from_slice(&0u32.to_be_bytes()); // wait_ms
    args.extend_from_slice(&(big.len() as u32).to_be_bytes());
    args.extend_from_slice(&big);
    let call = courier::rpc::ProcId { prog: protocol::PROGRAM, vers: protocol::VERSION, proc: protocol::SEND };
    let refused = raw.do_operation(call, Bytes::from(args), &Default::default()).await;
    assert!(matches!(refused, Err(CallError::GarbageArgs { .. })), "{refused:?}");

    // Garbage bytes on the program's port: that connection is dropped, nobody else's.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut garbage = tokio::net::TcpStream::connect(node.addr).await.unwrap();
        garbage.write_all(&[0x80, 0, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]).await.unwrap();
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), garbage.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "the node answers or closes; it does not hang");
    }
    inbox.send("ok", text("still here")).await.unwrap();
    assert_eq!(inbox.try_receive(None).await.unwrap().unwrap().message().body, text("still here"));

    // Bad names and too many mailboxes.
    let office = MailboxClient::connect(node.addr).await.unwrap();
    assert!(matches!(office.mailbox(&"x".repeat(256)), Err(RemoteError::BadName(_))));
    for i in 0..20 {
        let result = office.mailbox(&format!("m{i}")).unwrap().send("s", text("x")).await;
        match result {
            Ok(_) => assert!(i < 15, "mailbox {i} of at most 16 (inbox is one)"),
            Err(RemoteError::TooMany) => assert!(i >= 15, "{i}"),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(office.list().await.unwrap().len(), 16);
}

/// A send's wait bounds its wait for room, not its sync: a durable send that asks not
/// to wait at all (`wait_ms` 0) to a mailbox with room is persisted and answered OK.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_send_that_does_not_wait_for_room_still_waits_for_its_sync() {
    let store: Arc<dyn Store> = Arc::new(slow_store::Slow::new(
        Arc::new(FjallStore::open(&scratch("no-wait")).unwrap()),
        Duration::from_millis(100),
    ));
    let node = Node::start(config(), Some(store)).await;
    let q = node.mailbox("q").await.with_wait(Duration::ZERO);
    q.send_durable("hasty", text("kept")).await.expect("persisted, not refused");
    let delivery = q.receive_timeout(None, Duration::from_secs(5)).await.unwrap().expect("delivered");
    assert_eq!((delivery.message().body.clone(), delivery.message().durable), (text("kept"), true));
    assert!(delivery.ack().await.unwrap());
    assert_eq!(node.office.mailbox("q").unwrap().depth(), (0, 0));
}

/// A lone durable send that came alone on its connection is written on the
/// connection's own task while the disk is quick: a call that comes on the connection
/// meanwhile is read, and answered, once the write is over. Once a commit was slow, a
/// lone send's write goes to the committer thread, and the call behind it is answered
/// at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_durable_send_holds_up_its_connection_only_while_the_disk_is_quick() {
    let store = Arc::new(slow_store::Slow::new(
        Arc::new(FjallStore::open(&scratch("alone-on-connection")).unwrap()),
        Duration::ZERO,
    ));
    let node = Node::start(config(), Some(store.clone() as Arc<dyn Store>)).await;
    let client = Client::connect(&Endpoint::Tcp(node.addr), ClientConfig::default()).await.unwrap();
    let q = MailboxClient::new(client.clone()).mailbox("q").unwrap();
    // Which finished first: a durable send, or a NULL called 50 ms after it on the same
    // connection.
    let (q, client) = (&q, &client);
    let first_done = |label| async move {
        let send = async {
            q.send_durable("me", text(label)).await.unwrap();
            "send"
        };
        let null = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            client.null(protocol::PROGRAM, protocol::VERSION).await.unwrap();
            "null"
        };
        tokio::pin!(send, null);
        tokio::select! { first = &mut send => { null.await; first }, first = &mut null => { send.await; first } }
    };
    // The first commit (the committer's) finds the disk quick.
    q.send_durable("me", text("quick")).await.unwrap();
    store.set_delay(Duration::from_millis(300));
    // Written where it came, on the connection's task: the NULL waits for it.
    assert_eq!(first_done("slow").await, "send");
    // That commit took 300 ms: the next is the committer's, the connection stays free.
    assert_eq!(first_done("slow again").await, "null");
    assert_eq!(node.office.mailbox("q").unwrap().depth().0, 3);
}

/// Durable sends of many senders on one connection share commits: a lone one may be
/// written by the connection's own task (it came alone), but those that come meanwhile,
/// read together once it is done, must not each take a commit of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_sends_on_one_connection_share_commits() {
    const SENDERS: usize = 16;
    const EACH: usize = 10;
    let store = Arc::new(slow_store::Slow::new(
        Arc::new(FjallStore::open(&scratch("one-connection")).unwrap()),
        Duration::from_millis(5),
    ));
    let mut config = config();
    config.queue.capacity = SENDERS * EACH;
    let node = Node::start(config, Some(store.clone() as Arc<dyn Store>)).await;
    let client = MailboxClient::connect(node.addr).await.unwrap();
    let q = client.mailbox("q").unwrap();
    let senders = (0..SENDERS).map(|s| {
        let q = q.clone();
        tokio::spawn(async move {
            for m in 0..EACH {
                q.send_durable("sender", text(&format!("{s}/{m}"))).await.unwrap();
            }
        })
    });
    for sender in futures_util::future::join_all(senders).await {
        sender.unwrap();
    }
    let commits = store.commits();
    assert_eq!(node.office.mailbox("q").unwrap().depth().0, SENDERS * EACH);
    assert!(commits <= SENDERS * EACH / 4, "{} durable sends took {commits} commits", SENDERS * EACH);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_from_before_a_restart_does_not_match_a_delivery_after_it() {
    let path = scratch("node-receipts");
    let before = {
        let store: Arc<dyn Store> = Arc::new(FjallStore::open(&path).unwrap());
        let node = Node::start(config(), Some(store)).await;
        let jobs = node.mailbox("jobs").await;
        jobs.send_durable("boss", text("job")).await.unwrap();
        // Received, not acknowledged, and then the node goes (its receiver keeps only
        // the receipt).
        jobs.receive(None).await.unwrap().receipt()
    };
    let node = Node::start(config(), Some(reopen(&path).await)).await;
    let jobs = node.mailbox("jobs").await;
    let after = jobs.receive_timeout(None, Duration::from_secs(2)).await.unwrap().expect("the message is back");
    let (old, new) = (before, after.receipt());
    assert_eq!((old.id, old.delivery), (new.id, new.delivery), "the same message, delivery numbers start again");
    assert_ne!(old.incarnation, new.incarnation);
    // The old receiver's late acknowledgement goes to the new node: refused, the message
    // stays with its new receiver.
    assert!(!before_ack(&node, old).await, "a receipt from before the restart is stale");
    assert!(after.ack().await.unwrap());
    assert!(jobs.try_receive(None).await.unwrap().is_none());
}

/// Acknowledges `receipt` at `node` through the mailbox program, as the receiver that
/// held it would after reconnecting.
async fn before_ack(node: &Node, receipt: courier::mailbox::Receipt) -> bool {
    let client = Client::connect(&Endpoint::Tcp(node.addr), ClientConfig::default()).await.unwrap();
    let args = protocol::SettleArgs {
        mailbox: protocol::Name::new("jobs").unwrap(),
        id: receipt.id,
        delivery: receipt.delivery,
        incarnation: receipt.incarnation,
    };
    let call = courier::rpc::ProcId { prog: protocol::PROGRAM, vers: protocol::VERSION, proc: protocol::ACK };
    let reply: protocol::SettleReply = client.call_with(call, &args, &Default::default()).await.unwrap();
    reply.settled
}

/// The futures of remote calls stay small: a call's exchange with the node (sessions,
/// resends, timers) is boxed, not carried — and copied whenever it moves — by every
/// future that awaits a call. (Unboxed, a send's future was 1 984 bytes.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_futures_of_remote_calls_are_small() {
    let node = Node::start(config(), None).await;
    let mailbox = node.mailbox("small").await;
    let send = mailbox.send("me", text("hello"));
    let receive = mailbox.receive_batch(None, 8, Duration::from_millis(10));
    let sizes = [std::mem::size_of_val(&send), std::mem::size_of_val(&receive)];
    assert!(sizes.iter().all(|&size| size < 1024), "send, receive_batch: {sizes:?} bytes");
    // And they still work.
    send.await.unwrap();
    assert_eq!(receive.await.unwrap().len(), 1);
}
