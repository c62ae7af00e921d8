//! courier's remote objects on the workloads of the Java RMI peer (`rmi/Bench.java`):
//! an `Echo` interface with `empty()`, `echo(bytes)` and `create()` (a new leased
//! object's reference), served with an object table and the lease service.
//!
//! - `objects-server` prints `listening on tcp://ADDR` and `root OBJREF`; with
//!   `--watch N` it prints `collected N at MS` (wall clock, ms since the epoch) when the
//!   table has collected N objects.
//! - `objects-client` measures, `--seconds` each: the empty call sequentially, the empty
//!   call from 64 concurrent callers (one connection), echo of 4 KiB and 1 MiB with one
//!   caller, and create + the first call on the new object (through a leased proxy, as
//!   an RMI stub is: DIRTY included). One JSON object per line.
//! - `objects-holder` creates `--count` objects, holds leases on them, prints `held` and
//!   waits to be killed (the SIGKILL collection measurement).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use courier::object::{lease, LeaseConfig, ObjectRef, ObjectTable};
use courier::rpc::{Client, ClientConfig, Server};
use courier::transport::Endpoint;
use courier_xdr::Opaque;
use serde::Serialize;

use crate::harness::CpuClock;

/// The benchmark's remote interface, as RMI's `Echo`.
#[courier::interface(program = 0x2000_7e00, version = 1, objects = true)]
pub trait Echo {
    /// Nothing in, nothing out.
    async fn empty(&self);
    /// The bytes, sent back.
    async fn echo(&self, data: Opaque) -> Opaque;
    /// Exports a new object (leased) and returns its reference.
    async fn create(&self) -> ObjectRef;
}

struct Servant {
    table: Arc<ObjectTable>,
}

impl Echo for Servant {
    async fn empty(&self) {}
    async fn echo(&self, data: Opaque) -> Opaque {
        data
    }
    async fn create(&self) -> ObjectRef {
        echo::export_leased(&self.table, Servant { table: self.table.clone() })
    }
}

#[derive(clap::Args)]
pub struct ServerArgs {
    /// Lease duration (and grace of new exports), in milliseconds.
    #[arg(long, default_value_t = 2000)]
    lease_ms: u64,
    /// Print `collected N at MS` when the table has collected N objects.
    #[arg(long)]
    watch: Option<u64>,
}

#[derive(clap::Args)]
pub struct ClientArgs {
    /// The root object's reference (the server's `root` line).
    #[arg(long)]
    root: ObjectRef,
    /// Seconds per workload.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// The server's pid, for its CPU time.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Concurrent callers of the concurrent workload.
    #[arg(long, default_value_t = 64)]
    callers: usize,
}

#[derive(clap::Args)]
pub struct HolderArgs {
    #[arg(long)]
    root: ObjectRef,
    #[arg(long, default_value_t = 1000)]
    count: usize,
}

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

pub async fn serve(args: ServerArgs) -> anyhow::Result<()> {
    let table = ObjectTable::new();
    let lease = Duration::from_millis(args.lease_ms);
    table.set_leases(LeaseConfig { duration: lease, grace: lease });
    let listening = Server::builder()
        .register(echo::PROGRAM, echo::VERSION, echo::dispatcher(&table))
        .register(lease::PROGRAM, lease::VERSION, table.lease_service())
        .build()
        .listen(&"tcp://127.0.0.1:0".parse()?)
        .await?;
    let Endpoint::Tcp(addr) = listening.endpoint().clone() else { anyhow::bail!("not TCP") };
    table.set_address(addr);
    let root = echo::export(&table, Servant { table: table.clone() });
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on tcp://{addr}")?;
        writeln!(out, "root {root}")?;
        out.flush()?;
    }
    if let Some(n) = args.watch {
        loop {
            if table.collected() >= n {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                writeln!(out, "collected {n} at {}", now_ms())?;
                out.flush()?;
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    std::future::pending::<()>().await;
    Ok(())
}

#[derive(Serialize)]
struct Row {
    peer: &'static str,
    workload: String,
    calls: usize,
    calls_per_second: f64,
    p50_us: f64,
    p99_us: f64,
    cpu_us_per_call: Option<f64>,
}

fn row(workload: &str, mut latencies: Vec<Duration>, elapsed: Duration, cpu: Option<Duration>) -> Row {
    latencies.sort_unstable();
    let pct = |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p) as usize).map_or(0.0, |d| d.as_secs_f64() * 1e6);
    let calls = latencies.len();
    Row {
        peer: "courier-objects",
        workload: workload.to_owned(),
        calls,
        calls_per_second: calls as f64 / elapsed.as_secs_f64(),
        p50_us: pct(0.5),
        p99_us: pct(0.99),
        cpu_us_per_call: cpu.filter(|_| calls > 0).map(|c| c.as_secs_f64() * 1e6 / calls as f64),
    }
}

/// Runs `callers` loops of `call` until `length` has passed; the latency of each call.
async fn measure<F, Fut>(cpu: CpuClock, workload: &str, callers: usize, length: Duration, call: F) -> anyhow::Result<Row>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let before = cpu.read()?;
    let start = Instant::now();
    let deadline = start + length;
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                call().await?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    let elapsed = start.elapsed();
    let r = row(workload, all, elapsed, cpu.since(before)?);
    println!("{}", serde_json::to_string(&r)?);
    Ok(r)
}

pub async fn client(args: ClientArgs) -> anyhow::Result<()> {
    let cpu = CpuClock::new(args.server_pid);
    let length = Duration::from_secs_f64(args.seconds);
    let client = Client::connect(&Endpoint::Tcp(args.root.addr), ClientConfig::default()).await?;
    let root = echo::Proxy::new(client.clone(), args.root);
    // Warm-up.
    for _ in 0..1000 {
        root.empty().await?;
    }
    let p = root.clone();
    measure(cpu, "empty-seq", 1, length, move || {
        let p = p.clone();
        async move { Ok(p.empty().await?) }
    })
    .await?;
    let p = root.clone();
    measure(cpu, &format!("empty-{}", args.callers), args.callers, length, move || {
        let p = p.clone();
        async move { Ok(p.empty().await?) }
    })
    .await?;
    for (name, size) in [("echo-4k", 4096usize), ("echo-1m", 1 << 20)] {
        let p = root.clone();
        let data = Opaque::from(vec![0x5au8; size]);
        measure(cpu, name, 1, length, move || {
            let (p, data) = (p.clone(), data.clone());
            async move {
                let back = p.echo(&data).await?;
                anyhow::ensure!(back.bytes().len() == size, "short echo");
                Ok(())
            }
        })
        .await?;
    }
    let (p, c) = (root.clone(), client.clone());
    measure(cpu, "create+call", 1, length, move || {
        let (p, c) = (p.clone(), c.clone());
        async move {
            let r = p.create().await?;
            let object = echo::Proxy::leased(c, r, Duration::MAX).await?;
            object.empty().await?;
            Ok(())
        }
    })
    .await?;
    // Let the CLEANs of the last proxies go out.
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(())
}

pub async fn holder(args: HolderArgs) -> anyhow::Result<()> {
    let client = Client::connect(&Endpoint::Tcp(args.root.addr), ClientConfig::default()).await?;
    let root = echo::Proxy::new(client.clone(), args.root);
    let mut held = Vec::with_capacity(args.count);
    for _ in 0..args.count {
        let r = root.create().await.context("create")?;
        held.push(echo::Proxy::leased(client.clone(), r, Duration::MAX).await?);
    }
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "held {}", held.len())?;
        out.flush()?;
    }
    std::future::pending::<()>().await;
    Ok(())
}
