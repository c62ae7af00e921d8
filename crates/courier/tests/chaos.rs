//! The invocation semantics under injected faults: thousands of calls through a relay
//! that loses 30 % of the datagrams each way, duplicates 10 % and reorders them, on
//! 127.0.0.1. At-most-once runs a non-idempotent procedure exactly once for every call
//! that got a reply and never twice — with a session (slots, RRA) and as a plain ONC RPC
//! client (the classic per-xid history); at-least-once does run some twice; maybe never
//! retransmits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use courier::chaos::{Faults, UdpRelay};
use courier::rpc::{CallOptions, Client, ClientConfig, ProcId, Procedures, Semantics, Server};
use courier::transport::Endpoint;
use futures_util::stream::{self, StreamExt};

const PROG: u32 = 0x2000_6100;
const FAULTS: Faults = Faults { loss: 0.3, duplication: 0.1, max_delay: Duration::from_millis(5), seed: 0xC0FFEE };

type Executions = Arc<Mutex<HashMap<u32, u32>>>;

/// A server whose procedure 1 records that call `id` ran (and how often), behind a
/// faulty relay; returns the relay and the record.
async fn faulty_server() -> (Server, courier::rpc::Listening, UdpRelay, Executions) {
    let executions: Executions = Arc::default();
    let record = executions.clone();
    let service = Procedures::new().typed(1, move |id: u32| {
        let record = record.clone();
        async move {
            *record.lock().unwrap().entry(id).or_default() += 1;
            id
        }
    });
    let server = Server::builder().register(PROG, 1, service).build();
    let listening = server.listen(&"udp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let Endpoint::Udp(addr) = *listening.endpoint() else { unreachable!("a UDP socket") };
    let relay = UdpRelay::start("127.0.0.1:0".parse().unwrap(), addr, FAULTS).await.unwrap();
    (server, listening, relay, executions)
}

/// What a run of calls did.
struct Run {
    /// The ids of the calls that got a reply.
    answered: Vec<u32>,
    /// The datagrams the calls sent (the session probe's not counted).
    datagrams: u64,
}

/// Makes `calls` calls, 32 at a time, through the relay, after one NULL call that opens
/// the session (if `session`).
async fn run(relay: &UdpRelay, semantics: Semantics, session: bool, calls: u32, timeout: Duration) -> Run {
    let config = ClientConfig {
        timeout,
        retransmit: Duration::from_millis(15),
        max_retransmit: Duration::from_millis(60),
        semantics,
        session,
        ..ClientConfig::default()
    };
    let client = Client::connect(&Endpoint::Udp(relay.addr()), config).await.unwrap();
    let null = ProcId { prog: PROG, vers: 1, proc: 0 };
    let patient = CallOptions {
        semantics: Some(Semantics::AtLeastOnce),
        timeout: Some(Duration::from_secs(5)),
        ..CallOptions::default()
    };
    client.call_with::<_, ()>(null, &(), &patient).await.unwrap();
    let before = relay.tally().from_clients;
    let results: Vec<(u32, bool)> = stream::iter(0..calls)
        .map(|id| {
            let client = client.clone();
            async move { (id, client.call::<_, u32>(PROG, 1, 1, &id).await.is_ok_and(|back| back == id)) }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let answered = results.into_iter().filter(|(_, ok)| *ok).map(|(id, _)| id).collect();
    Run { answered, datagrams: relay.tally().from_clients - before }
}

/// Checks that every answered call ran exactly once and no call ran twice.
fn exactly_once(run: &Run, executions: &Executions, calls: usize) {
    let executions = executions.lock().unwrap();
    assert!(run.answered.len() >= calls - calls / 200, "only {} of {calls} calls got a reply", run.answered.len());
    for id in &run.answered {
        assert_eq!(executions.get(id), Some(&1), "call {id} ran {:?} times", executions.get(id));
    }
    assert!(executions.values().all(|n| *n == 1), "a call ran twice");
    assert!(run.datagrams > calls as u64, "nothing was retransmitted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_once_runs_each_answered_call_exactly_once() {
    let (server, _listening, relay, executions) = faulty_server().await;
    let run = run(&relay, Semantics::AtMostOnce, true, 2000, Duration::from_secs(5)).await;
    exactly_once(&run, &executions, 2000);
    let tally = relay.tally();
    assert!(tally.dropped > 500 && tally.duplicated > 100, "the relay was not faulty enough: {tally:?}");
    // RRA: each slot's next call released the previous reply, so the history holds
    // about one reply per slot (32 calls in flight), not one per call.
    assert!(server.released_replies() > 1900, "released {}", server.released_replies());
    assert!(server.session_replies() <= 64, "the history holds {} replies", server.session_replies());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_once_without_a_session_uses_the_per_xid_history() {
    let (server, _listening, relay, executions) = faulty_server().await;
    let run = run(&relay, Semantics::AtMostOnce, false, 2000, Duration::from_secs(5)).await;
    exactly_once(&run, &executions, 2000);
    assert_eq!(server.released_replies(), 0, "a plain client has no session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_runs_some_calls_more_than_once() {
    let (_server, _listening, relay, executions) = faulty_server().await;
    let run = run(&relay, Semantics::AtLeastOnce, true, 1000, Duration::from_secs(5)).await;
    assert!(run.answered.len() >= 990, "only {} of 1000 calls got a reply", run.answered.len());
    let executions = executions.lock().unwrap();
    let twice = executions.values().filter(|n| **n > 1).count();
    assert!(twice > 10, "lost replies should have made the server run calls again; {twice} ran twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maybe_never_retransmits() {
    let (_server, _listening, relay, executions) = faulty_server().await;
    let run = run(&relay, Semantics::Maybe, true, 300, Duration::from_millis(300)).await;
    assert_eq!(run.datagrams, 300, "maybe sent more than one datagram per call");
    assert!(run.answered.len() < 300, "with 30 % loss each way, some calls go unanswered");
    assert!(executions.lock().unwrap().values().all(|n| *n == 1), "a call ran twice");
}
