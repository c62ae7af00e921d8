//! The seeds' comparison of server models, measured: the same slow service served
//! iteratively, concurrently and on a thread pool, called by many clients at once.
//!
//! Two kinds of slow procedure: one that waits (a sleep standing for a call to a disk or
//! another server, done asynchronously) and one that blocks its thread (a lock, a C
//! library, CPU work). For each model and kind, 32 clients call for a while; the
//! example prints calls per second and the latency percentiles.
//!
//! ```text
//! cargo run --release --example server_models            # 2 s per row
//! cargo run --release --example server_models -- 0.5     # seconds per row
//! ```

use std::time::{Duration, Instant};

use courier::rpc::{Client, ClientConfig, Procedures, Server, ServerConfig, ServerModel};
use futures_util::stream::{self, StreamExt};

const PROG: u32 = 0x2000_0E05;
/// How long each procedure takes.
const WORK: Duration = Duration::from_millis(5);
/// Clients calling at once, each on its own connection, one call at a time.
const CLIENTS: usize = 32;

/// What a row measured.
struct Row {
    calls: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// Serves the slow procedure under `model` and has CLIENTS clients call it for
/// `length`.
async fn measure(model: ServerModel, blocking: bool, length: Duration) -> std::io::Result<Row> {
    let service = Procedures::new().typed(1, move |n: u32| async move {
        if blocking {
            std::thread::sleep(WORK);
        } else {
            tokio::time::sleep(WORK).await;
        }
        n
    });
    let config = ServerConfig { model, ..ServerConfig::default() };
    let server = Server::builder().register(PROG, 1, service).config(config).build();
    let listening = server.listen(&"tcp://127.0.0.1:0".parse().expect("an endpoint")).await?;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(Client::connect(listening.endpoint(), ClientConfig::default()).await?);
    }
    let deadline = Instant::now() + length;
    let start = Instant::now();
    let per_client = clients.iter().map(|client| async move {
        let mut latencies = Vec::new();
        while Instant::now() < deadline {
            let t = Instant::now();
            match client.call::<_, u32>(PROG, 1, 1, &7).await {
                Ok(_) => latencies.push(t.elapsed()),
                Err(e) => eprintln!("call failed: {e}"),
            }
        }
        latencies
    });
    let mut latencies: Vec<Duration> =
        stream::iter(per_client).buffer_unordered(CLIENTS).collect::<Vec<_>>().await.concat();
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    let at = |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p) as usize).copied().unwrap_or_default();
    Ok(Row {
        calls: latencies.len(),
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.5),
        p99: at(0.99),
    })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let seconds: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let length = Duration::from_secs_f64(seconds);
    println!("{CLIENTS} clients, one call at a time each, a procedure of {WORK:?}, {seconds} s per row");
    println!("{:<26} {:<9} {:>8} {:>9} {:>10} {:>10}", "model", "work", "calls", "calls/s", "p50 ms", "p99 ms");
    let models = [
        ("iterative", ServerModel::Iterative),
        ("concurrent (limit 1024)", ServerModel::Concurrent { limit: 1024 }),
        ("concurrent (limit 8)", ServerModel::Concurrent { limit: 8 }),
        ("thread pool (8 threads)", ServerModel::ThreadPool { threads: 8 }),
    ];
    for blocking in [false, true] {
        for (name, model) in models {
            let row = measure(model, blocking, length).await?;
            println!(
                "{:<26} {:<9} {:>8} {:>9.0} {:>10.2} {:>10.2}",
                name,
                if blocking { "blocks" } else { "waits" },
                row.calls,
                row.per_second,
                row.p50.as_secs_f64() * 1e3,
                row.p99.as_secs_f64() * 1e3
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The comparison the example prints, in short: with a procedure that waits, a
    /// concurrent server overlaps the waits and an iterative one cannot; with one that
    /// blocks, only the thread pool overlaps them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_models_compare_as_the_seeds_say() {
        let length = Duration::from_millis(400);
        let iterative = measure(ServerModel::Iterative, false, length).await.unwrap();
        let concurrent = measure(ServerModel::Concurrent { limit: 1024 }, false, length).await.unwrap();
        // Sixteen threads overlap up to sixteen blocked calls, the concurrent server's two
        // workers two: 8× apart when the machine is idle, still well over 3× when other
        // tests load it (eight threads, 4× apart, measured 2.8× so).
        let pool = measure(ServerModel::ThreadPool { threads: 16 }, true, length).await.unwrap();
        let blocked = measure(ServerModel::Concurrent { limit: 1024 }, true, length).await.unwrap();
        // Iterative: at most one call per WORK.
        assert!(iterative.per_second <= 1.1 / WORK.as_secs_f64(), "iterative: {:.0}/s", iterative.per_second);
        assert!(concurrent.per_second > 5.0 * iterative.per_second, "concurrent: {:.0}/s", concurrent.per_second);
        assert!(
            pool.per_second > 3.0 * blocked.per_second,
            "pool {:.0}/s, blocked {:.0}/s",
            pool.per_second,
            blocked.per_second
        );
        assert!(iterative.p50 > concurrent.p50);
    }
}
