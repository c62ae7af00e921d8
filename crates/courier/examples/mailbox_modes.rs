//! The seed's message passing, every mode: a node serving mailboxes (in this process, on
//! a free loopback port) and, for each mode of send and receive, a producer and a
//! consumer talking through one of its mailboxes over ONC RPC (`RemoteMailbox`; the
//! in-process `Mailbox` has the same methods). Last, the blocking face
//! (`courier::blocking::Mailbox`) with a producer thread and a consumer thread.
//!
//! Each line says which mode it belongs to, who speaks and what happened.
//!
//! ```text
//! cargo run --example mailbox_modes
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use courier::mailbox::post_office::{PostOffice, PostOfficeConfig};
use courier::mailbox::remote::{MailboxClient, RemoteDelivery};
use courier::mailbox::store::{FjallStore, Store};
use courier::mailbox::{protocol, QueueConfig};
use courier::rpc::Server;
use courier::transport::Endpoint;
use futures_util::StreamExt;
use tokio::time::sleep;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// What the producers and consumers did, as printed: `[mode] who: what`.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn say(&self, mode: &str, what: impl std::fmt::Display) {
        let line = format!("[{mode}] {what}");
        println!("{line}");
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }
}

/// The consumer's part of every remote mode: say what came, and acknowledge it.
async fn take(log: &Log, mode: &str, delivery: RemoteDelivery) -> Result<(), Error> {
    let message = delivery.message();
    let persisted = if message.durable { " (persisted)" } else { "" };
    log.say(mode, format!("consumer: got {}{persisted}", String::from_utf8_lossy(&message.body)));
    match delivery.ack().await? {
        true => Ok(()),
        false => Err("acknowledged too late".into()),
    }
}

/// Runs every mode; returns the lines it printed.
async fn demo() -> Result<Vec<String>, Error> {
    let dir = std::env::temp_dir().join(format!("courier-mailbox-modes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let store: Arc<dyn Store> = Arc::new(FjallStore::open(&dir.join("mailboxes"))?);
    let office = PostOffice::open(PostOfficeConfig::default(), Some(store))?;
    let server = Server::builder().register(protocol::PROGRAM, protocol::VERSION, office.service()).build();
    let listening = server.listen(&"tcp://127.0.0.1:0".parse()?).await?;
    let Endpoint::Tcp(addr) = *listening.endpoint() else { unreachable!("a TCP listener") };
    let node = MailboxClient::connect(addr).await?;
    let log = Log::default();
    println!("node on tcp://{addr}, durable messages in {}", dir.display());

    // Asynchronous send (returns once queued) and blocking receive (waits for a message).
    let (mode, jobs) = ("async send, receive", node.mailbox("jobs")?);
    let consumer = tokio::spawn({
        let (log, jobs) = (log.clone(), jobs.clone());
        async move {
            for _ in 0..3 {
                take(&log, mode, jobs.receive(None).await?).await?;
            }
            Ok::<_, Error>(())
        }
    });
    for i in 1..=3 {
        log.say(mode, format!("producer: send job {i}"));
        jobs.send("producer", format!("job {i}").into()).await?;
    }
    consumer.await??;

    // Synchronous send: the producer returns only once the consumer has taken the message.
    let (mode, handshake) = ("sync send", node.mailbox("handshake")?);
    let producer = tokio::spawn({
        let (log, handshake) = (log.clone(), handshake.clone());
        async move {
            log.say(mode, "producer: send_sync hello");
            let start = Instant::now();
            handshake.send_sync("producer", "hello".into()).await?;
            log.say(mode, format!("producer: send_sync returned after {} ms", start.elapsed().as_millis()));
            Ok::<_, Error>(())
        }
    });
    sleep(Duration::from_millis(300)).await;
    log.say(mode, "consumer: receiving, 300 ms later");
    take(&log, mode, handshake.receive(None).await?).await?;
    producer.await??;

    // Durable send: returns once the node has the message on disk; acknowledged, it is gone.
    let (mode, orders) = ("durable send, ack", node.mailbox("orders")?);
    for i in 1..=3 {
        orders.send_durable("producer", format!("order {i}").into()).await?;
        log.say(mode, format!("producer: order {i} is on the node's disk"));
    }
    for _ in 1..=3 {
        take(&log, mode, orders.receive(None).await?).await?;
    }

    // Non-blocking receive: poll, doing other work between polls.
    let (mode, polled) = ("try_receive", node.mailbox("polled")?);
    if polled.try_receive(None).await?.is_none() {
        log.say(mode, "consumer: nothing yet; polling every 20 ms");
    }
    let producer = tokio::spawn({
        let polled = polled.clone();
        async move {
            sleep(Duration::from_millis(100)).await;
            polled.send("producer", "ping".into()).await
        }
    });
    let mut polls = 0;
    let delivery = loop {
        match polled.try_receive(None).await? {
            Some(delivery) => break delivery,
            None if polls < 100 => polls += 1,
            None => return Err("nothing came in 100 polls".into()),
        }
        sleep(Duration::from_millis(20)).await;
    };
    take(&log, mode, delivery).await?;
    producer.await??;

    // Timed receive: first nothing comes in time, then something does.
    let (mode, timed) = ("receive_timeout", node.mailbox("timed")?);
    let start = Instant::now();
    if timed.receive_timeout(None, Duration::from_millis(200)).await?.is_none() {
        log.say(mode, format!("consumer: nothing within 200 ms (waited {} ms)", start.elapsed().as_millis()));
    }
    timed.send("producer", "on time".into()).await?;
    let delivery = timed.receive_timeout(None, Duration::from_secs(5)).await?.ok_or("nothing within 5 s")?;
    take(&log, mode, delivery).await?;

    // Receive as a future, overlapping other work: the message comes while it computes.
    let (mode, future) = ("receive as a future", node.mailbox("future")?);
    let producer = tokio::spawn({
        let future = future.clone();
        async move {
            sleep(Duration::from_millis(50)).await;
            future.send("producer", "result".into()).await
        }
    });
    let work = async {
        sleep(Duration::from_millis(100)).await; // standing for other I/O
        (1..=5).sum::<u32>()
    };
    let (delivery, sum) = tokio::join!(future.receive(None), work);
    log.say(mode, format!("consumer: computed {sum} while waiting"));
    take(&log, mode, delivery?).await?;
    producer.await??;

    // Event-driven receive: a handler for each message of the stream of deliveries.
    let (mode, events) = ("deliveries stream", node.mailbox("events")?);
    for i in 1..=3 {
        events.send("producer", format!("event {i}").into()).await?;
    }
    let mut stream = Box::pin(events.deliveries(None).take(3));
    while let Some(delivery) = stream.next().await {
        take(&log, mode, delivery?).await?;
    }

    // Receive by source: bob's messages first, though alice's came before; hers stay.
    let (mode, shared) = ("by source", node.mailbox("shared")?);
    for (source, n) in [("alice", 1), ("bob", 1), ("alice", 2), ("bob", 2)] {
        shared.send(source, format!("{source} {n}").into()).await?;
    }
    for source in ["bob", "bob", "alice", "alice"] {
        log.say(mode, format!("consumer: receiving from {source}"));
        take(&log, mode, shared.receive(Some(source)).await?).await?;
    }

    // Batches: one call takes what waits (up to 10 here), one call acknowledges it all.
    let (mode, busy) = ("batches", node.mailbox("busy")?);
    for i in 1..=5 {
        busy.send("producer", format!("reading {i}").into()).await?;
    }
    let batch = busy.receive_batch(None, 10, Duration::from_secs(5)).await?;
    log.say(mode, format!("consumer: one call brought {} messages", batch.len()));
    let mut receipts = Vec::new();
    for delivery in batch {
        let (message, receipt) = delivery.into_parts();
        log.say(mode, format!("consumer: got {}", String::from_utf8_lossy(&message.body)));
        receipts.push(receipt);
    }
    let settled = busy.ack_batch(&receipts).await?;
    log.say(mode, format!("consumer: acknowledged {} in one call", settled.iter().filter(|&&s| s).count()));

    // A batch that lingers: open for 300 ms after its first message, it takes the readings
    // that trickle in meanwhile, and acknowledges them with the next receive.
    let (mode, trickle) = ("lingering batch", node.mailbox("trickle")?.with_linger(Duration::from_millis(300)));
    let consumer = tokio::spawn({
        let (log, trickle) = (log.clone(), trickle.clone());
        async move {
            let batch = trickle.receive_batch(None, 10, Duration::from_secs(5)).await?;
            log.say(mode, format!("consumer: one call brought {} messages", batch.len()));
            let receipts: Vec<_> = batch.iter().map(|delivery| delivery.receipt()).collect();
            for delivery in &batch {
                log.say(mode, format!("consumer: got {}", String::from_utf8_lossy(&delivery.message().body)));
            }
            let (settled, _) = trickle.ack_and_receive_batch(&receipts, None, 10, Duration::ZERO).await?;
            let acknowledged = settled.iter().filter(|&&s| s).count();
            log.say(mode, format!("consumer: acknowledged {acknowledged} with its next receive"));
            Ok::<_, Error>(())
        }
    });
    sleep(Duration::from_millis(50)).await;
    for i in 1..=3 {
        log.say(mode, format!("producer: send reading {i}"));
        trickle.send("producer", format!("reading {i}").into()).await?;
        sleep(Duration::from_millis(40)).await;
    }
    consumer.await??;

    // The blocking face, in process: a producer thread and a consumer thread.
    let blocking = tokio::task::spawn_blocking({
        let log = log.clone();
        move || threads(&log)
    });
    blocking.await??;

    drop((node, listening));
    let _ = std::fs::remove_dir_all(&dir);
    let lines = log.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(lines)
}

/// A producer thread and a consumer thread on an in-process blocking mailbox.
fn threads(log: &Log) -> Result<(), Error> {
    let (mode, lines) = ("blocking threads", courier::blocking::Mailbox::new("lines", QueueConfig::default()));
    std::thread::scope(|scope| {
        let producer = scope.spawn(|| {
            (1..=3).try_for_each(|i| {
                log.say(mode, format!("producer: send line {i}"));
                lines.send("producer", format!("line {i}").into()).map(drop)
            })
        });
        for _ in 1..=3 {
            let delivery = lines.receive_timeout(None, Duration::from_secs(5)).ok_or("nothing within 5 s")?;
            log.say(mode, format!("consumer: got {}", String::from_utf8_lossy(&delivery.message().body)));
            if !delivery.ack() {
                return Err("acknowledged too late".into());
            }
        }
        producer.join().map_err(|_| "the producer panicked")??;
        Ok(())
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    demo().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// What the consumer of `mode` got, in order.
    fn got<'a>(lines: &'a [String], mode: &str) -> Vec<&'a str> {
        let prefix = format!("[{mode}] consumer: got ");
        lines.iter().filter_map(|line| line.strip_prefix(&prefix)).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_mode_delivers_its_messages() {
        let demo = tokio::time::timeout(std::time::Duration::from_secs(60), super::demo());
        let lines = demo.await.expect("the demo ends within a minute").unwrap();
        let at = |line: &str| lines.iter().position(|l| l == line).unwrap_or_else(|| panic!("no `{line}`"));
        assert_eq!(got(&lines, "async send, receive"), ["job 1", "job 2", "job 3"]);
        assert_eq!(got(&lines, "sync send"), ["hello"]);
        let returned = lines.iter().position(|l| l.starts_with("[sync send] producer: send_sync returned after"));
        assert!(
            at("[sync send] consumer: receiving, 300 ms later") < returned.expect("send_sync returned"),
            "the synchronous send returned before the consumer asked: {lines:#?}"
        );
        assert_eq!(
            got(&lines, "durable send, ack"),
            ["order 1 (persisted)", "order 2 (persisted)", "order 3 (persisted)"]
        );
        at("[try_receive] consumer: nothing yet; polling every 20 ms");
        assert_eq!(got(&lines, "try_receive"), ["ping"]);
        assert!(lines.iter().any(|l| l.starts_with("[receive_timeout] consumer: nothing within 200 ms")));
        assert_eq!(got(&lines, "receive_timeout"), ["on time"]);
        at("[receive as a future] consumer: computed 15 while waiting");
        assert_eq!(got(&lines, "receive as a future"), ["result"]);
        assert_eq!(got(&lines, "deliveries stream"), ["event 1", "event 2", "event 3"]);
        assert_eq!(got(&lines, "by source"), ["bob 1", "bob 2", "alice 1", "alice 2"]);
        at("[batches] consumer: one call brought 5 messages");
        assert_eq!(got(&lines, "batches"), ["reading 1", "reading 2", "reading 3", "reading 4", "reading 5"]);
        at("[batches] consumer: acknowledged 5 in one call");
        at("[lingering batch] consumer: one call brought 3 messages");
        assert_eq!(got(&lines, "lingering batch"), ["reading 1", "reading 2", "reading 3"]);
        at("[lingering batch] consumer: acknowledged 3 with its next receive");
        assert_eq!(got(&lines, "blocking threads"), ["line 1", "line 2", "line 3"]);
    }
}
