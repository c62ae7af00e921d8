//! The server models with the same slow service: iterative (one call at a time, each
//! client's calls in order), concurrent (bounded), and a thread pool where procedures
//! block without stalling the server.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use courier::rpc::{Client, ClientConfig, Procedures, Server, ServerConfig, ServerModel};

const PROG: u32 = 0x2000_6200;
const SLOW: Duration = Duration::from_millis(60);

/// Eight calls at once on one connection to a procedure that takes SLOW (sleeping
/// asynchronously, or blocking its thread); returns the time they took and the order in
/// which they ran.
async fn eight_calls(model: ServerModel, blocking: bool) -> (Duration, Vec<u32>) {
    let order = Arc::new(Mutex::new(Vec::new()));
    let ran = order.clone();
    let service = Procedures::new().typed(1, move |id: u32| {
        let ran = ran.clone();
        async move {
            ran.lock().unwrap().push(id);
            if blocking {
                std::thread::sleep(SLOW);
            } else {
                tokio::time::sleep(SLOW).await;
            }
            id
        }
    });
    let config = ServerConfig { model, ..ServerConfig::default() };
    let server = Server::builder().register(PROG, 1, service).config(config).build();
    let listening = server.listen(&"tcp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client = Client::connect(listening.endpoint(), ClientConfig::default()).await.unwrap();
    let start = Instant::now();
    let calls = (0..8u32).map(|id| {
        let client = client.clone();
        async move { client.call::<_, u32>(PROG, 1, 1, &id).await.unwrap() }
    });
    let replies = futures_util::future::join_all(calls).await;
    assert_eq!(replies, (0..8).collect::<Vec<_>>());
    let elapsed = start.elapsed();
    let order = order.lock().unwrap().clone();
    (elapsed, order)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iterative_server_runs_one_call_at_a_time_in_order() {
    let (elapsed, order) = eight_calls(ServerModel::Iterative, false).await;
    assert!(elapsed >= SLOW * 8, "eight calls in {elapsed:?}: they overlapped");
    assert_eq!(order, (0..8).collect::<Vec<_>>(), "calls ran out of order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_server_overlaps_calls_up_to_its_limit() {
    let (elapsed, _) = eight_calls(ServerModel::Concurrent { limit: 8 }, false).await;
    assert!(elapsed < SLOW * 4, "eight calls in {elapsed:?}: they did not overlap");
    let (elapsed, _) = eight_calls(ServerModel::Concurrent { limit: 2 }, false).await;
    assert!(elapsed >= SLOW * 4 && elapsed < SLOW * 8, "eight calls two at a time in {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_pool_runs_blocking_procedures_side_by_side() {
    // Four threads: two rounds of four blocking calls, while the runtime stays free.
    let (elapsed, _) = eight_calls(ServerModel::ThreadPool { threads: 4 }, true).await;
    assert!(elapsed >= SLOW * 2 && elapsed < SLOW * 7, "eight blocking calls on four threads in {elapsed:?}");
}
