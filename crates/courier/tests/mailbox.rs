//! Mailboxes in process: asynchronous and synchronous send; non-blocking, waiting,
//! timed and event-driven receive, by source; acknowledgement, redelivery after the
//! visibility timeout, dead letters; bounded queues; competing receivers; batches, and
//! batches kept open for more.

use std::time::Duration;

use bytes::Bytes;
use courier::mailbox::{Mailbox, QueueConfig, SendError, WhenFull};
use futures_util::StreamExt;

fn config() -> QueueConfig {
    QueueConfig {
        capacity: 100,
        when_full: WhenFull::Wait,
        visibility: Duration::from_millis(200),
        max_deliveries: None,
    }
}

fn text(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[tokio::test]
async fn every_receive_mode_and_the_source_filter() {
    let mailbox = Mailbox::new("inbox", config());
    assert!(mailbox.try_receive(None).is_none(), "non-blocking: nothing yet");
    assert!(mailbox.receive_timeout(None, Duration::from_millis(50)).await.is_none(), "timed: nothing came");
    mailbox.send("alice", text("1")).await.unwrap();
    mailbox.send("bob", text("2")).await.unwrap();
    mailbox.send("alice", text("3")).await.unwrap();
    let from_bob = mailbox.try_receive(Some("bob")).unwrap();
    assert_eq!(from_bob.message().body, text("2"));
    assert!(from_bob.ack());
    let waiting = mailbox.receive(None).await;
    assert_eq!(waiting.message().body, text("1"));
    assert!(waiting.ack());
    // A receiver blocked in `receive` wakes when a message arrives.
    let receiver = tokio::spawn({
        let mailbox = mailbox.clone();
        async move {
            let first = mailbox.receive(Some("carol")).await;
            let body = first.message().body.clone();
            first.ack();
            body
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    mailbox.send("carol", text("4")).await.unwrap();
    assert_eq!(receiver.await.unwrap(), text("4"));
    // Event-driven: a stream of deliveries.
    let mut stream = Box::pin(mailbox.deliveries(None));
    let next = stream.next().await.unwrap();
    assert_eq!(next.message().body, text("3"));
    next.ack();
    assert_eq!(mailbox.depth(), (0, 0));
}

#[tokio::test]
async fn a_synchronous_send_returns_when_a_receiver_takes_the_message() {
    let mailbox = Mailbox::new("rendezvous", config());
    let sender = tokio::spawn({
        let mailbox = mailbox.clone();
        async move { mailbox.send_sync("s", text("hello")).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!sender.is_finished(), "returned before anyone took the message");
    let delivery = mailbox.receive(None).await;
    let id = sender.await.unwrap();
    assert_eq!(delivery.message().id, id);
    delivery.ack();
}

#[tokio::test]
async fn unacknowledged_messages_come_back_and_end_as_dead_letters() {
    let dead = Mailbox::new("dead", config());
    let mailbox = Mailbox::with_dead_letters("work", QueueConfig { max_deliveries: Some(2), ..config() }, dead.clone());
    mailbox.send("s", text("job")).await.unwrap();
    let first = mailbox.receive(None).await;
    assert_eq!(first.message().deliveries, 1);
    drop(first); // processing failed: no acknowledgement
    let second = mailbox.receive(None).await; // after the visibility timeout
    assert_eq!((second.message().body.clone(), second.message().deliveries), (text("job"), 2));
    drop(second);
    let letter = dead.receive_timeout(None, Duration::from_secs(2)).await.expect("a dead letter");
    assert_eq!(letter.message().body, text("job"));
    assert!(mailbox.try_receive(None).is_none());
    assert_eq!(mailbox.depth(), (0, 0));
}

#[tokio::test]
async fn a_full_mailbox_refuses_or_holds_its_senders() {
    let refusing = Mailbox::new("small", QueueConfig { capacity: 1, when_full: WhenFull::Reject, ..config() });
    refusing.send("s", text("1")).await.unwrap();
    assert_eq!(refusing.send("s", text("2")).await, Err(SendError::Full("small".into())));
    let holding = Mailbox::new("small", QueueConfig { capacity: 1, ..config() });
    holding.send("s", text("1")).await.unwrap();
    let blocked = tokio::spawn({
        let holding = holding.clone();
        async move { holding.send("s", text("2")).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!blocked.is_finished(), "a full mailbox let a sender through");
    holding.receive(None).await.ack();
    blocked.await.unwrap().unwrap();
    assert_eq!(holding.receive(None).await.message().body, text("2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn competing_receivers_share_the_messages() {
    let mailbox = Mailbox::new("jobs", QueueConfig { capacity: 1000, ..config() });
    let receivers: Vec<_> = (0..4)
        .map(|_| {
            let mailbox = mailbox.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(delivery) = mailbox.receive_timeout(None, Duration::from_millis(300)).await {
                    got.push(std::str::from_utf8(&delivery.message().body).unwrap().parse::<u32>().unwrap());
                    delivery.ack();
                }
                got
            })
        })
        .collect();
    for i in 0..1000 {
        mailbox.send("producer", text(&i.to_string())).await.unwrap();
    }
    let mut all: Vec<u32> = Vec::new();
    for receiver in receivers {
        all.extend(receiver.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<u32>>(), "each message went to exactly one receiver");
}

/// A new message wakes one waiting receiver — unless some wait for one source only:
/// then a wake-up spent on a receiver that does not want the message would leave it
/// waiting while another receiver that would take it sleeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_waiting_for_one_source_does_not_swallow_the_wake_up_of_another() {
    let mailbox = Mailbox::new("mixed", config());
    let choosy = tokio::spawn({
        let mailbox = mailbox.clone();
        async move { mailbox.receive_timeout(Some("b"), Duration::from_secs(5)).await.map(|d| d.message().body.clone()) }
    });
    let any = tokio::spawn({
        let mailbox = mailbox.clone();
        async move { mailbox.receive_timeout(None, Duration::from_secs(5)).await.map(|d| d.message().body.clone()) }
    });
    // Both wait (the choosy one first), then a message from "a" comes, then one from "b".
    while mailbox.stats().consumers < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    mailbox.send("a", text("for anyone")).await.unwrap();
    assert_eq!(any.await.unwrap(), Some(text("for anyone")), "the receiver that wanted any message got it");
    mailbox.send("b", text("for b")).await.unwrap();
    assert_eq!(choosy.await.unwrap(), Some(text("for b")));
}

#[tokio::test]
async fn batches_are_received_and_acknowledged_together() {
    let mailbox = Mailbox::new("batches", config());
    assert!(mailbox.try_receive_batch(None, 8).is_empty());
    assert!(mailbox.receive_batch(None, 8, Duration::from_millis(30)).await.is_empty(), "none came in time");
    mailbox.send("a", text("zero")).await.unwrap();
    let start = std::time::Instant::now();
    assert!(mailbox.receive_batch(None, 0, Duration::from_secs(5)).await.is_empty(), "at most none");
    assert!(start.elapsed() < Duration::from_secs(1), "a batch of none does not wait");
    assert!(mailbox.try_receive(None).unwrap().ack());
    // A batch receiver waits for the first message and takes it as soon as it comes.
    let waiting = tokio::spawn({
        let mailbox = mailbox.clone();
        async move { mailbox.receive_batch(None, 8, Duration::from_secs(5)).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    mailbox.send("a", text("first")).await.unwrap();
    let first = waiting.await.unwrap();
    assert_eq!(first.len(), 1);
    for i in 0..6 {
        mailbox.send(if i % 2 == 0 { "a" } else { "b" }, text(&i.to_string())).await.unwrap();
    }
    let from_a = mailbox.receive_batch(Some("a"), 2, Duration::from_secs(1)).await;
    let bodies: Vec<_> = from_a.iter().map(|d| d.message().body.clone()).collect();
    assert_eq!(bodies, [text("0"), text("2")], "the oldest from a, at most two");
    let rest = mailbox.try_receive_batch(None, 100);
    let bodies: Vec<_> = rest.iter().map(|d| d.message().body.clone()).collect();
    assert_eq!(bodies, [text("1"), text("3"), text("4"), text("5")]);
    assert_eq!(mailbox.depth(), (0, 7));
    // One late receipt among them: its message came back and is in flight again.
    let late = first.into_iter().next().unwrap().receipt();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = mailbox.try_receive_batch(None, 100);
    assert_eq!(again.len(), 7, "all seven came back after the visibility timeout");
    let mut receipts: Vec<_> = again.iter().map(|d| d.receipt()).collect();
    receipts.insert(0, late);
    let settled = mailbox.ack_batch(&receipts).await.unwrap();
    assert_eq!(settled, [false, true, true, true, true, true, true, true]);
    assert_eq!(mailbox.depth(), (0, 0));
    assert_eq!(mailbox.ack_batch(&receipts[1..]).await.unwrap(), [true; 7], "acknowledging again finds them gone");
    assert_eq!(mailbox.stats().acknowledged, 8, "seven here and the message `zero`");
    drop(again);
}

/// Waits until `n` receivers wait in `mailbox` (a lingering one waits no more: it fills).
async fn until_waiting(mailbox: &Mailbox, n: u32) {
    while mailbox.stats().consumers != n {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn a_lingering_batch_takes_what_comes_until_it_is_full_and_leaves_the_rest_to_others() {
    let mailbox = Mailbox::new("lingering", QueueConfig { visibility: Duration::from_secs(60), ..config() });
    let bodies = |batch: Vec<courier::mailbox::Delivery>| -> Vec<Bytes> {
        batch.into_iter().map(|d| d.into_parts().0.body).collect()
    };
    let receive = |max, linger| {
        let mailbox = mailbox.clone();
        tokio::spawn(async move {
            let start = std::time::Instant::now();
            let batch = mailbox.receive_batch_lingering(None, max, Duration::from_secs(5), linger).await;
            (batch, start.elapsed())
        })
    };
    // A filling batch gets the messages that come, not the receiver waiting behind it, and
    // answers as soon as it is full.
    let filling = receive(3, Duration::from_secs(5));
    until_waiting(&mailbox, 1).await;
    let plain = receive(8, Duration::ZERO);
    until_waiting(&mailbox, 2).await;
    mailbox.send("a", text("1")).await.unwrap();
    until_waiting(&mailbox, 1).await;
    for body in ["2", "3"] {
        tokio::time::sleep(Duration::from_millis(20)).await;
        mailbox.send("a", text(body)).await.unwrap();
    }
    let (batch, took) = filling.await.unwrap();
    assert_eq!(bodies(batch), [text("1"), text("2"), text("3")]);
    assert!(took < Duration::from_secs(4), "a full batch answers at once: {took:?}");
    assert_eq!(mailbox.stats().consumers, 1, "the other receiver still waits");
    mailbox.send("a", text("4")).await.unwrap();
    assert_eq!(bodies(plain.await.unwrap().0), [text("4")]);

    // A batch that does not fill answers when its linger is over.
    let filling = receive(8, Duration::from_millis(150));
    until_waiting(&mailbox, 1).await;
    let start = std::time::Instant::now();
    mailbox.send("a", text("5")).await.unwrap();
    let (batch, _) = filling.await.unwrap();
    assert_eq!(bodies(batch), [text("5")]);
    assert!(start.elapsed() >= Duration::from_millis(140), "{:?}", start.elapsed());

    // What does not fit goes to the receivers waiting, as many as it takes.
    let filling = receive(2, Duration::from_secs(5));
    until_waiting(&mailbox, 1).await;
    let plain = [(); 2].map(|_| {
        let mailbox = mailbox.clone();
        tokio::spawn(async move { mailbox.receive_timeout(None, Duration::from_secs(5)).await })
    });
    until_waiting(&mailbox, 3).await;
    mailbox.send("a", text("6")).await.unwrap();
    until_waiting(&mailbox, 2).await;
    // All come before the filling receiver runs again (one thread, and no await between).
    for body in ["7", "8", "9"] {
        mailbox.send("a", text(body)).await.unwrap();
    }
    assert_eq!(bodies(filling.await.unwrap().0), [text("6"), text("7")]);
    let mut handed_on = Vec::new();
    for receiver in plain {
        let delivery = receiver.await.unwrap().expect("handed on when the batch was full");
        handed_on.push(delivery.into_parts().0.body);
    }
    handed_on.sort();
    assert_eq!(handed_on, [text("8"), text("9")]);

    // A batch given up while it lingers goes back, first in line.
    mailbox.send("a", text("10")).await.unwrap();
    let given_up = mailbox.receive_batch_lingering(None, 8, Duration::from_secs(5), Duration::from_secs(5));
    assert!(tokio::time::timeout(Duration::from_millis(100), given_up).await.is_err());
    assert_eq!(mailbox.depth().0, 1);
    let again = mailbox.try_receive(None).expect("back in line");
    assert_eq!((again.message().body.clone(), again.message().deliveries), (text("10"), 2));

    // A batch lingers at most half the visibility timeout (200 ms here): its first
    // messages do not come back meanwhile.
    let short = Mailbox::new("short", config());
    short.send("a", text("x")).await.unwrap();
    let start = std::time::Instant::now();
    let batch = short.receive_batch_lingering(None, 8, Duration::from_secs(1), Duration::from_secs(5)).await;
    assert_eq!((bodies(batch), short.depth()), (vec![text("x")], (0, 1)));
    assert!(start.elapsed() < Duration::from_secs(1), "{:?}", start.elapsed());

    // No message, no linger: the wait for the first bounds the call.
    let start = std::time::Instant::now();
    let none = mailbox.receive_batch_lingering(None, 8, Duration::from_millis(50), Duration::from_secs(5)).await;
    assert!(none.is_empty() && start.elapsed() < Duration::from_secs(2));
}

#[test]
fn threads_send_and_receive_through_the_blocking_face() {
    let mailbox = courier::blocking::Mailbox::new("threads", config());
    let consumer = std::thread::spawn({
        let mailbox = mailbox.clone();
        move || {
            let mut got = Vec::new();
            while let Some(delivery) = mailbox.receive_timeout(None, Duration::from_millis(300)) {
                got.push(delivery.message().body.clone());
                delivery.ack();
            }
            got
        }
    });
    for i in 0..3 {
        mailbox.send("producer", text(&i.to_string())).unwrap();
    }
    // A synchronous send blocks until the consumer takes it.
    mailbox.send_sync("producer", text("last")).unwrap();
    assert_eq!(consumer.join().unwrap(), [text("0"), text("1"), text("2"), text("last")]);
    assert!(mailbox.try_receive(None).is_none());
    // An unacknowledged message comes back, with no async code in sight.
    mailbox.send("producer", text("again")).unwrap();
    drop(mailbox.receive(None));
    let again = mailbox.receive(None);
    assert_eq!(again.message().deliveries, 2);
    again.ack();
    // Batches too.
    for i in 0..3 {
        mailbox.send("producer", text(&i.to_string())).unwrap();
    }
    let batch = mailbox.receive_batch(None, 10, Duration::from_secs(1));
    assert_eq!(batch.len(), 3);
    assert!(batch.into_iter().all(|delivery| delivery.ack()));
}
