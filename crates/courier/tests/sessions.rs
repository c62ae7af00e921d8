//! Sessions over streams: the RRA acknowledgement that keeps the history of replies
//! small, at-most-once across broken connections, partitions and a server restart, and
//! the caller's deadline seen (and enforced) by the server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use courier::chaos::{Faults, TcpRelay};
use courier::rpc::{CallError, Client, ClientConfig, Procedures, Server};
use courier::transport::Endpoint;
use futures_util::stream::{self, StreamExt};

const PROG: u32 = 0x2000_6200;

type Executions = Arc<Mutex<HashMap<u32, u32>>>;

/// Procedure 1 records that call `id` ran (not idempotent), after `work`; procedure 2
/// answers the milliseconds left before the caller's deadline.
fn server(executions: &Executions, work: Duration) -> Server {
    let record = executions.clone();
    let service = Procedures::new()
        .typed(1, move |id: u32| {
            let record = record.clone();
            async move {
                *record.lock().unwrap().entry(id).or_default() += 1;
                tokio::time::sleep(work).await;
                id
            }
        })
        .raw(2, |call| async move {
            let left = call.remaining().map_or(0, |d| d.as_millis() as u32);
            courier::rpc::encode_results(&left)
        });
    Server::builder().register(PROG, 1, service).build()
}

/// Serves `server` on TCP behind a relay with `faults`; returns both.
async fn behind_relay(server: &Server, faults: Faults) -> (courier::rpc::Listening, TcpRelay) {
    let listening = server.listen(&"tcp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let Endpoint::Tcp(addr) = listening.endpoint().clone() else { unreachable!("TCP") };
    let relay = TcpRelay::start("127.0.0.1:0".parse().unwrap(), addr, faults).await.unwrap();
    (listening, relay)
}

fn config(session: bool) -> ClientConfig {
    ClientConfig {
        timeout: Duration::from_secs(10),
        retransmit: Duration::from_millis(20),
        max_retransmit: Duration::from_millis(100),
        session,
        ..ClientConfig::default()
    }
}

/// Makes calls `ids`, `in_flight` at a time; returns each call's result.
async fn calls(client: &Client, ids: std::ops::Range<u32>, in_flight: usize) -> Vec<(u32, Result<u32, CallError>)> {
    stream::iter(ids)
        .map(|id| async move { (id, client.call::<_, u32>(PROG, 1, 1, &id).await) })
        .buffer_unordered(in_flight)
        .collect()
        .await
}

/// Checks at-most-once: every call that got a reply ran exactly once, no call ran twice.
fn at_most_once(results: &[(u32, Result<u32, CallError>)], executions: &Executions) -> usize {
    let executions = executions.lock().unwrap();
    let mut answered = 0;
    for (id, result) in results {
        let ran = executions.get(id).copied().unwrap_or(0);
        match result {
            Ok(back) => {
                assert_eq!(back, id);
                assert_eq!(ran, 1, "answered call {id} ran {ran} times");
                answered += 1;
            }
            Err(e) => assert!(ran <= 1, "failed call {id} ({e}) ran {ran} times"),
        }
    }
    answered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_call_on_a_slot_releases_the_previous_reply() {
    let executions = Executions::default();
    let server = server(&executions, Duration::ZERO);
    let listening = server.listen(&"tcp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client = Client::connect(listening.endpoint(), config(true)).await.unwrap();
    for id in 0..100 {
        assert_eq!(client.call::<_, u32>(PROG, 1, 1, &id).await.unwrap(), id);
        assert!(server.session_replies() <= 1, "the history holds {} replies", server.session_replies());
    }
    assert_eq!(server.released_replies(), 99, "each call but the last acknowledged its predecessor");
    // Sixteen at a time take sixteen slots, and the history stays at one reply a slot.
    let results = calls(&client, 100..1100, 16).await;
    assert_eq!(at_most_once(&results, &executions), 1000);
    assert!(server.session_replies() <= 16, "the history holds {} replies", server.session_replies());
    // A plain client gets no slots: nothing is kept for it over TCP.
    let plain = Client::connect(listening.endpoint(), config(false)).await.unwrap();
    let before = server.session_replies();
    assert_eq!(plain.call::<_, u32>(PROG, 1, 1, &5000).await.unwrap(), 5000);
    assert_eq!(server.session_replies(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_survive_broken_connections_and_run_at_most_once() {
    let executions = Executions::default();
    let server = server(&executions, Duration::from_millis(1));
    // 0.5 % of records lost, each breaking its connection; 5 % duplicated; delays.
    let faults = Faults { loss: 0.005, duplication: 0.05, max_delay: Duration::from_millis(2), seed: 7 };
    let (_listening, relay) = behind_relay(&server, faults).await;
    let client = Client::connect(&Endpoint::Tcp(relay.addr()), config(true)).await.unwrap();
    let results = calls(&client, 0..2000, 32).await;
    let answered = at_most_once(&results, &executions);
    let tally = relay.tally();
    assert!(tally.dropped >= 5 && tally.duplicated >= 50, "the relay was not faulty enough: {tally:?}");
    // A call gives up after MAX_RESENDS broken connections; that is rare here.
    let failed: Vec<_> = results.iter().filter_map(|(_, r)| r.as_ref().err().map(ToString::to_string)).collect();
    assert!(answered >= 1990, "only {answered} of 2000 calls were answered: {failed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_client_does_not_resend_a_call_whose_connection_broke() {
    let executions = Executions::default();
    let server = server(&executions, Duration::from_millis(200));
    let (_listening, relay) = behind_relay(&server, Faults::NONE).await;
    let client = Client::connect(&Endpoint::Tcp(relay.addr()), config(false)).await.unwrap();
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.call::<_, u32>(PROG, 1, 1, &1).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    relay.cut();
    let err = call.await.unwrap().unwrap_err();
    assert!(matches!(err, CallError::Closed { .. }), "{err}");
    // The client reconnects for the next call.
    assert_eq!(client.call::<_, u32>(PROG, 1, 1, &2).await.unwrap(), 2);
    assert_eq!(executions.lock().unwrap().get(&1), Some(&1), "the broken call ran once, and only once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_holds_calls_until_it_heals() {
    let executions = Executions::default();
    let server = server(&executions, Duration::from_millis(1));
    let (_listening, relay) = behind_relay(&server, Faults::NONE).await;
    let relay = Arc::new(relay);
    let client = Client::connect(&Endpoint::Tcp(relay.addr()), config(true)).await.unwrap();
    let chaos = tokio::spawn({
        let relay = relay.clone();
        async move {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                relay.partition();
                tokio::time::sleep(Duration::from_millis(150)).await;
                relay.heal();
            }
        }
    });
    let started = std::time::Instant::now();
    let results = calls(&client, 0..2000, 16).await;
    chaos.await.unwrap();
    assert!(started.elapsed() > Duration::from_millis(450), "the calls did not live through the partitions");
    // Every call is answered once the partitions heal, and none ran twice.
    assert_eq!(at_most_once(&results, &executions), 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_sees_the_callers_deadline_and_cancels_at_it() {
    let cancelled = Arc::new(AtomicBool::new(false));
    let flag = cancelled.clone();
    let service = Procedures::new()
        .raw(
            2,
            |call| async move { courier::rpc::encode_results(&call.remaining().map_or(0, |d| d.as_millis() as u32)) },
        )
        .raw(3, move |_| {
            struct SetOnDrop(Arc<AtomicBool>);
            impl Drop for SetOnDrop {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::SeqCst);
                }
            }
            let guard = SetOnDrop(flag.clone());
            async move {
                tokio::time::sleep(Duration::from_secs(30)).await;
                drop(guard);
                courier::rpc::encode_results(&())
            }
        });
    let server = Server::builder().register(PROG, 1, service).build();
    for endpoint in ["tcp://127.0.0.1:0", "udp://127.0.0.1:0"] {
        let listening = server.listen(&endpoint.parse().unwrap()).await.unwrap();
        let client =
            Client::connect(listening.endpoint(), ClientConfig { timeout: Duration::from_secs(3), ..config(true) })
                .await
                .unwrap();
        let left: u32 = client.call(PROG, 1, 2, &()).await.unwrap();
        assert!((2000..=3000).contains(&left), "{endpoint}: the server saw {left} ms left of 3000");
        cancelled.store(false, Ordering::SeqCst);
        let short = courier::rpc::CallOptions { timeout: Some(Duration::from_millis(200)), ..Default::default() };
        let call = courier::rpc::ProcId { prog: PROG, vers: 1, proc: 3 };
        let err = client.call_with::<_, ()>(call, &(), &short).await.unwrap_err();
        assert!(matches!(err, CallError::Timeout { .. }), "{err}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(cancelled.load(Ordering::SeqCst), "{endpoint}: the procedure outlived its caller's deadline");
    }
    // A plain client sends no deadline.
    let listening = server.listen(&"tcp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let plain = Client::connect(listening.endpoint(), config(false)).await.unwrap();
    assert_eq!(plain.call::<_, u32>(PROG, 1, 2, &()).await.unwrap(), 0);
}

/// Serves `server` on `addr` from a runtime of its own, which can be shut down as a
/// process dies: every task, connection and byte of state gone at once.
fn start_incarnation(server: Server, addr: &str) -> (tokio::runtime::Runtime, Endpoint) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let endpoint = runtime.block_on(async {
        let listening = server.listen(&addr.parse().unwrap()).await.unwrap();
        let endpoint = listening.endpoint().clone();
        tokio::spawn(async move {
            let _keep = listening;
            std::future::pending::<()>().await
        });
        endpoint
    });
    (runtime, endpoint)
}

#[test]
fn a_server_restart_mid_load_loses_and_doubles_nothing() {
    // The executions survive the "crash": they stand for what the server wrote to disk.
    let executions = Executions::default();
    let (first, endpoint) = start_incarnation(server(&executions, Duration::from_millis(2)), "tcp://127.0.0.1:0");
    let client_runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let client = client_runtime.block_on(Client::connect(&endpoint, config(true))).unwrap();
    let load = client_runtime.spawn({
        let client = client.clone();
        async move { calls(&client, 0..1500, 16).await }
    });
    // Crash mid-load, and start a new incarnation on the same port a little later.
    while executions.lock().unwrap().len() < 300 {
        std::thread::sleep(Duration::from_millis(5));
    }
    first.shutdown_background();
    std::thread::sleep(Duration::from_millis(150));
    let (second, _) = start_incarnation(server(&executions, Duration::from_millis(2)), &endpoint.to_string());
    let results = client_runtime.block_on(load).unwrap();
    let answered = at_most_once(&results, &executions);
    let restarted = results.iter().filter(|(_, r)| matches!(r, Err(CallError::ServerRestarted { .. }))).count();
    let other: Vec<_> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().err())
        .filter(|e| !matches!(e, CallError::ServerRestarted { .. }))
        .map(ToString::to_string)
        .collect();
    assert!(restarted >= 1, "the calls in flight at the crash should see the restart");
    assert!(restarted <= 32, "{restarted} calls failed; only those in flight at the crash may");
    assert!(other.is_empty(), "unexpected errors: {other:?}");
    assert_eq!(answered + restarted, 1500);
    drop(second);
}
