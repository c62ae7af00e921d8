//! Distributed garbage collection with leases: an object nobody holds a lease on is
//! collected after its grace period; a proxy keeps its object alive by renewing its
//! lease and lets it go when dropped; a slow client still finds a freshly returned
//! object; and the objects of a client process killed with SIGKILL are collected once
//! its leases run out.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use courier::object::{lease, LeaseConfig, ObjectError, ObjectRef, ObjectTable, Proxy};
use courier::rpc::{CallOptions, Client, ClientConfig, Procedures, Server};
use courier::transport::Endpoint;
use courier_test_support::HelperProcess;

const COUNTER: u32 = 0x2000_6700;
const LEASES: LeaseConfig = LeaseConfig { duration: Duration::from_millis(300), grace: Duration::from_millis(400) };

fn counter() -> Procedures {
    let total = Arc::new(AtomicU32::new(0));
    Procedures::new().typed(1, move |n: u32| {
        let total = total.clone();
        async move { total.fetch_add(n, Ordering::SeqCst) + n }
    })
}

/// A server with an object table (leases as given) serving the counter interface and
/// the lease program; returns the table and a client of it.
async fn serve(config: LeaseConfig) -> (Arc<ObjectTable>, courier::rpc::Listening, Client) {
    let table = ObjectTable::new();
    table.set_leases(config);
    let server = Server::builder()
        .register(COUNTER, 1, table.dispatcher(COUNTER, 1))
        .register(lease::PROGRAM, lease::VERSION, table.lease_service())
        .build();
    let listening = server.listen(&"tcp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let Endpoint::Tcp(addr) = listening.endpoint().clone() else { unreachable!("TCP") };
    table.set_address(addr);
    let client = Client::connect(listening.endpoint(), ClientConfig::default()).await.unwrap();
    (table, listening, client)
}

async fn add(proxy: &Proxy, n: u32) -> Result<u32, ObjectError> {
    proxy.invoke(1, &n, &CallOptions::default()).await
}

/// Waits until `done` holds, for at most `limit`; returns how long it took.
async fn until(limit: Duration, done: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

#[tokio::test]
async fn an_object_nobody_leases_is_collected_after_its_grace() {
    let (table, _listening, client) = serve(LEASES).await;
    let r = table.export_leased(COUNTER, 1, counter());
    let permanent = table.export(COUNTER, 1, counter());
    let proxy = Proxy::new(client.clone(), r);
    assert_eq!(add(&proxy, 1).await.unwrap(), 1, "alive during its grace");
    until(Duration::from_secs(5), || table.collected() == 1).await;
    assert!(matches!(add(&proxy, 1).await, Err(ObjectError::Unknown(_))));
    assert_eq!(add(&Proxy::new(client, permanent), 1).await.unwrap(), 1, "a permanent export stays");
}

#[tokio::test]
async fn a_leased_proxy_keeps_its_object_alive_until_it_is_dropped() {
    let (table, _listening, client) = serve(LEASES).await;
    let r = table.export_leased(COUNTER, 1, counter());
    let proxy = Proxy::leased(client.clone(), r, Duration::from_secs(60)).await.unwrap();
    let copy = proxy.clone();
    // Five lease periods and more than twice the grace: renewals keep it.
    tokio::time::sleep(LEASES.duration * 5).await;
    assert_eq!(add(&copy, 2).await.unwrap(), 2);
    assert_eq!(table.collected(), 0);
    drop(proxy);
    tokio::time::sleep(LEASES.duration).await;
    assert_eq!(table.collected(), 0, "a clone still holds the lease");
    drop(copy);
    // The CLEAN lets it go at once, not a lease later.
    let took = until(Duration::from_secs(5), || table.collected() == 1).await;
    assert!(took < LEASES.duration, "collected {took:?} after the last proxy went");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_returned_to_a_slow_client_wait_for_its_lease() {
    let (table, _listening, client) = serve(LEASES).await;
    // A factory returns a thousand new objects at once (under some memory pressure);
    // their client takes its time before it leases them.
    let factory_table = table.clone();
    let refs: Vec<ObjectRef> = (0..1000).map(|_| factory_table.export_leased(COUNTER, 1, counter())).collect();
    tokio::time::sleep(LEASES.grace / 2).await;
    let mut proxies = Vec::new();
    for r in &refs {
        proxies.push(Proxy::leased(client.clone(), *r, Duration::from_secs(60)).await.unwrap());
    }
    tokio::time::sleep(LEASES.grace * 2).await;
    assert_eq!(table.collected(), 0, "an object was collected before its first lease arrived");
    for proxy in proxies.iter().step_by(97) {
        assert_eq!(add(proxy, 1).await.unwrap(), 1);
    }
    drop(proxies);
    until(Duration::from_secs(5), || table.collected() == 1000).await;
}

/// Run by `a_killed_clients_objects_are_collected_when_its_leases_run_out` as a separate
/// process: takes leases on the references in COURIER_LEASE_REFS (one per line), says
/// `held`, and waits to be killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a helper process, run by another test"]
async fn lease_holder_process() {
    let refs = std::env::var("COURIER_LEASE_REFS").expect("COURIER_LEASE_REFS");
    let refs: Vec<ObjectRef> = refs.lines().map(|l| l.parse().unwrap()).collect();
    let client = Client::connect(&Endpoint::Tcp(refs[0].addr), ClientConfig::default()).await.unwrap();
    let mut proxies = Vec::new();
    for r in refs {
        proxies.push(Proxy::leased(client.clone(), r, Duration::from_secs(60)).await.unwrap());
    }
    println!("held");
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_clients_objects_are_collected_when_its_leases_run_out() {
    let config = LeaseConfig { duration: Duration::from_secs(2), grace: Duration::from_secs(2) };
    let (table, _listening, _client) = serve(config).await;
    let refs: Vec<String> = (0..1000).map(|_| table.export_leased(COUNTER, 1, counter()).to_string()).collect();
    let refs = refs.join("\n");
    let mut holder = HelperProcess::start("lease_holder_process", &[("COURIER_LEASE_REFS", &refs)]);
    holder.wait_for(|line| (line == "held").then_some(()));
    // Past the grace period, only the leases keep the objects.
    tokio::time::sleep(config.grace + config.duration).await;
    assert_eq!(table.collected(), 0, "objects were collected while their client lived");
    let killed = Instant::now();
    holder.kill(); // SIGKILL
    until(config.duration * 3, || table.collected() == 1000).await;
    let took = killed.elapsed();
    assert!(took >= config.duration / 2, "collected {took:?} after the kill: before the leases could run out");
    println!("1000 objects collected {took:?} after their client was killed (lease {:?})", config.duration);
}

#[tokio::test]
async fn a_clients_leases_are_renewed_together() {
    let (table, _listening, client) = serve(LEASES).await;
    let mut proxies = Vec::new();
    for _ in 0..100 {
        let r = table.export_leased(COUNTER, 1, counter());
        proxies.push(Proxy::leased(client.clone(), r, Duration::from_secs(60)).await.unwrap());
    }
    assert_eq!(table.dirty_calls(), 100, "one DIRTY per new lease");
    // Four lease periods: renewals at half the lease, each one call for all 100.
    tokio::time::sleep(LEASES.duration * 4).await;
    let renewals = table.dirty_calls() - 100;
    assert!((6..=12).contains(&renewals), "{renewals} renewal calls for 100 leases over 4 lease periods");
    assert_eq!(table.collected(), 0);
}
