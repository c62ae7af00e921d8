//! The JetStream mailbox store on a three-server cluster with three replicas: killing
//! the stream's leader (SIGKILL) while messages are being appended loses none whose
//! append was acknowledged.
//!
//! The appender writes to the leader itself, so that its connection dies with it and
//! the client has to find the surviving servers. Appends may fail during the election;
//! the appender retries a failed batch a bounded number of times. A retried batch may
//! be stored twice (its first try may have been stored without an acknowledgement
//! reaching the appender): the test counts such duplicates and checks that only retried
//! batches made them.

#![cfg(feature = "jetstream")]

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use courier::mailbox::jetstream::{JetStreamConfig, JetStreamStore};
use courier::mailbox::store::{Record, Store};
use courier_test_support::nats::{json_field, NatsCluster};

/// Messages appended in all.
const MESSAGES: u64 = 2000;
/// Messages per append.
const BATCH: u64 = 20;
/// How many times a batch is tried before the test gives up. A failed append has
/// already retried for about two seconds, and nats-server 2.9 may take ten or more to
/// elect a new stream leader.
const BATCH_ATTEMPTS: u32 = 30;
/// The mailbox written to.
const MAILBOX: &str = "orders";

fn body(id: u64) -> Bytes {
    Bytes::from(format!("order {id}"))
}

/// What the appender saw.
struct Appended {
    /// Ids whose append returned Ok.
    acknowledged: Vec<u64>,
    /// Records in batches whose append failed at least once.
    retried_records: u64,
    /// Failed appends, with why.
    failures: Vec<String>,
}

/// Appends every message in batches, retrying failed batches; reports after each batch
/// how many messages are acknowledged so far.
fn append_all(store: JetStreamStore, progress: mpsc::Sender<u64>) -> Appended {
    let mut appended = Appended { acknowledged: Vec::new(), retried_records: 0, failures: Vec::new() };
    for first in (1..=MESSAGES).step_by(BATCH as usize) {
        let ids = first..(first + BATCH).min(MESSAGES + 1);
        let records: Vec<Record> = ids
            .clone()
            .map(|id| Record { mailbox: MAILBOX.into(), id, source: "shop".into(), body: body(id) })
            .collect();
        let mut attempt = 1;
        loop {
            match store.append(&records) {
                Ok(()) => break,
                Err(e) => {
                    appended.failures.push(format!("batch from {first}, attempt {attempt}: {e}"));
                    if attempt == 1 {
                        appended.retried_records += records.len() as u64;
                    }
                    assert!(
                        attempt < BATCH_ATTEMPTS,
                        "the batch from {first} failed every time: {:#?}",
                        appended.failures
                    );
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
        appended.acknowledged.extend(ids);
        let _ = progress.send(appended.acknowledged.len() as u64);
    }
    appended
}

/// Waits (boundedly) until the cluster names a leader for `stream` other than `not`.
fn wait_for_leader(cluster: &NatsCluster, stream: &str, not: Option<usize>) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(leader) = cluster.stream_leader(stream).filter(|&l| Some(l) != not) {
            return leader;
        }
        assert!(Instant::now() < deadline, "no leader for stream {stream} (other than {not:?})");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn no_acknowledged_message_is_lost_when_the_stream_leader_is_killed() {
    let mut cluster = NatsCluster::start(3);
    let config = JetStreamConfig { replicas: 3, ..JetStreamConfig::default() };
    // Creates the replicated stream.
    drop(JetStreamStore::connect(&cluster.urls(), config.clone()).unwrap());
    let leader = wait_for_leader(&cluster, &config.stream, None);
    let store = JetStreamStore::connect(&cluster.server(leader).url(), config.clone()).unwrap();

    let (progress, acknowledged) = mpsc::channel();
    let appender = std::thread::spawn(move || append_all(store, progress));
    // Kill the leader halfway through.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let count = acknowledged.recv_timeout(remaining).expect("the appender stopped before halfway");
        if count >= MESSAGES / 2 {
            break;
        }
    }
    assert_eq!(cluster.stream_leader(&config.stream), Some(leader), "the leader changed before it was killed");
    cluster.kill(leader);
    let appended = appender.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
    assert_eq!(appended.acknowledged, (1..=MESSAGES).collect::<Vec<_>>(), "every batch ends up acknowledged");
    let new_leader = wait_for_leader(&cluster, &config.stream, Some(leader));

    // Read back through the survivors only (once they agree on a meta leader too: the
    // killed server may have been it).
    cluster.wait_for_meta_leader();
    let survivors = JetStreamStore::connect(&cluster.urls(), config.clone()).unwrap();
    let loaded: BTreeMap<u64, Record> = survivors.load(MAILBOX).unwrap().into_iter().map(|r| (r.id, r)).collect();
    let lost: Vec<u64> = appended.acknowledged.iter().copied().filter(|id| !loaded.contains_key(id)).collect();
    assert!(lost.is_empty(), "{} acknowledged messages lost, among them {:?}", lost.len(), &lost[..lost.len().min(20)]);
    assert_eq!(loaded.len() as u64, MESSAGES, "messages never appended appeared");
    for (id, record) in &loaded {
        assert_eq!((record.source.as_str(), &record.body), ("shop", &body(*id)), "message {id} changed");
    }

    // Duplicates: messages in the stream beyond one per id, only from retried batches.
    let info = cluster.server(new_leader).request(&format!("$JS.API.STREAM.INFO.{}", config.stream), "").unwrap();
    let state = &info[info.find("\"state\":").unwrap_or_else(|| panic!("no state in {info}"))..];
    let stored: u64 = json_field(state, "messages").and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{info}"));
    let duplicates = stored.checked_sub(MESSAGES).expect("fewer messages stored than loaded");
    assert!(
        duplicates <= appended.retried_records,
        "{duplicates} duplicates, but only {} records were in retried batches",
        appended.retried_records
    );
    eprintln!(
        "killed leader {leader}, new leader {new_leader}; {} failed appends, {} records retried, {duplicates} duplicates: {:#?}",
        appended.failures.len(),
        appended.retried_records,
        appended.failures
    );
}
