//! `courier bench`: whole-system measurements — a node in a separate process (started
//! here, or given with `--target`), a client in this one, over loopback: latency
//! percentiles and calls per second of ECHO calls at several sizes and numbers of calls
//! in flight, over TCP, UDP or a Unix socket; a table on stdout, JSON on request.

use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use courier::rpc::{Client, ClientConfig};
use courier::transport::Endpoint;
use courier_xdr::Opaque;
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// What else to measure.
    #[command(subcommand)]
    what: Option<What>,
    /// A running node to measure, as tcp://…, udp://… or unix://…; without it, a node is
    /// started for the run.
    #[arg(long)]
    target: Option<Endpoint>,
    /// The transport of a started node: tcp, udp or unix.
    #[arg(long, default_value = "tcp")]
    transport: String,
    /// Calls in flight at once (comma-separated list).
    #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
    in_flight: Vec<usize>,
    /// ECHO payload sizes in bytes (comma-separated list).
    #[arg(long, value_delimiter = ',', default_value = "0")]
    size: Vec<usize>,
    /// How long to measure each combination, in seconds.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Microseconds (at least: the sleep overshoots by the timer's slack) each caller
    /// pauses between a reply and its next call, on a thread of the blocking pool, so
    /// that client and node go idle as they would while a disk syncs (a durable send's
    /// wait); the pause is not in the latencies, its thread hand-off is in `cpu µs`.
    #[arg(long, value_name = "MICROSECONDS", default_value_t = 0)]
    pause: u64,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
enum What {
    /// Mailboxes: send+receive throughput and latency, durable and not, beside NATS
    /// JetStream, NATS core and the disk's fdatasync floor.
    Mailbox(crate::bench_mailbox::Args),
}

/// One measured combination.
#[derive(Serialize)]
struct Row {
    transport: String,
    size: usize,
    in_flight: usize,
    /// How long each caller paused after each reply (`--pause`).
    pause_us: u64,
    calls: usize,
    calls_per_second: f64,
    p50_us: f64,
    p99_us: f64,
    /// Client and server CPU time (user + system) per call, when the node is ours.
    cpu_us_per_call: Option<f64>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(What::Mailbox(args)) = args.what {
        return crate::bench_mailbox::run(args).await;
    }
    if !(args.seconds > 0.0 && args.seconds.is_finite()) {
        bail!("--seconds must be a positive number");
    }
    let (endpoint, node) = match args.target.clone() {
        Some(endpoint) => (endpoint, None),
        None => {
            let (endpoint, node) = start_node(&args.transport, &[]).await?;
            (endpoint, Some(node))
        }
    };
    let node_pid = node.as_ref().and_then(tokio::process::Child::id);
    let transport = endpoint.to_string().split("://").next().unwrap_or("?").to_owned();
    let mut rows = Vec::new();
    if args.pause > 0 {
        println!("each caller pauses {} µs after each reply (not in the latencies)", args.pause);
    }
    println!(
        "{:<6} {:>8} {:>9} {:>10} {:>12} {:>10} {:>10} {:>8}",
        "proto", "size", "in flight", "calls", "calls/s", "p50 µs", "p99 µs", "cpu µs"
    );
    for &size in &args.size {
        for &in_flight in &args.in_flight {
            let shape = Shape {
                size,
                in_flight: in_flight.max(1),
                pause: Duration::from_micros(args.pause),
                length: Duration::from_secs_f64(args.seconds),
            };
            // Measured on a worker thread of the runtime, as a server's or an
            // application's tasks run, not on the thread blocked in `main`.
            let (endpoint, transport) = (endpoint.clone(), transport.clone());
            let row = tokio::spawn(async move { measure(&endpoint, &transport, shape, node_pid).await }).await??;
            println!(
                "{:<6} {:>8} {:>9} {:>10} {:>12.0} {:>10.1} {:>10.1} {:>8}",
                row.transport,
                row.size,
                row.in_flight,
                row.calls,
                row.calls_per_second,
                row.p50_us,
                row.p99_us,
                row.cpu_us_per_call.map_or("-".to_owned(), |c| format!("{c:.1}"))
            );
            rows.push(row);
        }
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&rows)?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Starts `courier serve` (this same binary, with `extra` arguments) on a free port and
/// returns where it serves on `transport`.
pub async fn start_node(
    transport: &str,
    extra: &[&std::ffi::OsStr],
) -> anyhow::Result<(Endpoint, tokio::process::Child)> {
    let exe = std::env::current_exe().context("cannot find the courier binary")?;
    let mut command = tokio::process::Command::new(exe);
    command.args(["serve", "--listen", "127.0.0.1:0", "--no-register"]).args(extra);
    let socket = std::env::temp_dir().join(format!("courier-bench-{}.sock", std::process::id()));
    if transport == "unix" {
        command.arg("--unix").arg(&socket);
    }
    let mut node = command.stdout(Stdio::piped()).stderr(Stdio::null()).kill_on_drop(true).spawn()?;
    let stdout = node.stdout.take().context("the node's output")?;
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await? {
        let Some(endpoint) = line.strip_prefix("listening on ") else { continue };
        if endpoint.starts_with(&format!("{transport}://")) {
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok((endpoint.parse()?, node));
        }
    }
    bail!("the node did not listen on {transport}")
}

/// What one measurement calls: ECHO calls of `size` bytes, `in_flight` at a time, each
/// caller pausing `pause` after each reply, for `length`.
struct Shape {
    size: usize,
    in_flight: usize,
    pause: Duration,
    length: Duration,
}

/// Runs the calls of `shape` against `endpoint`.
async fn measure(endpoint: &Endpoint, transport: &str, shape: Shape, node: Option<u32>) -> anyhow::Result<Row> {
    let Shape { size, in_flight, pause, length } = shape;
    let client = Client::connect(endpoint, ClientConfig::default()).await?;
    let payload = Opaque::from(vec![0x5a; size]);
    // Open the session before measuring.
    client.null(courier::diag::PROGRAM, courier::diag::VERSION).await?;
    let cpu = || Some(process_cpu("self")? + process_cpu(&node?.to_string())?);
    let cpu_before = cpu();
    let deadline = Instant::now() + length;
    let start = Instant::now();
    let latencies: Vec<Duration> = stream::iter(0..)
        .take_while(|_| std::future::ready(Instant::now() < deadline))
        .map(|_| {
            let (client, payload) = (&client, &payload);
            async move {
                let t = Instant::now();
                let back: Opaque =
                    client.call(courier::diag::PROGRAM, courier::diag::VERSION, courier::diag::ECHO, payload).await?;
                anyhow::ensure!(back.len() == payload.len(), "the echo came back with {} bytes", back.len());
                let took = t.elapsed();
                if !pause.is_zero() && Instant::now() < deadline {
                    // tokio's timers count milliseconds: a thread sleeps the microseconds.
                    tokio::task::spawn_blocking(move || std::thread::sleep(pause)).await?;
                }
                Ok(took)
            }
        })
        .buffer_unordered(in_flight)
        .collect::<Vec<anyhow::Result<Duration>>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let elapsed = start.elapsed();
    let cpu_used = cpu().zip(cpu_before).map(|(after, before)| after.saturating_sub(before));
    let mut sorted = latencies;
    sorted.sort_unstable();
    let percentile = |p: f64| percentile_us(&sorted, p);
    Ok(Row {
        transport: transport.to_owned(),
        size,
        in_flight,
        pause_us: pause.as_micros() as u64,
        calls: sorted.len(),
        calls_per_second: sorted.len() as f64 / elapsed.as_secs_f64(),
        p50_us: percentile(0.5),
        p99_us: percentile(0.99),
        cpu_us_per_call: cpu_used.filter(|_| !sorted.is_empty()).map(|c| c.as_secs_f64() * 1e6 / sorted.len() as f64),
    })
}

/// The `p` percentile (0 to 1) of `sorted` latencies, in microseconds; 0 if there are none.
pub fn percentile_us(sorted: &[Duration], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 - 1.0) * p) as usize).map_or(0.0, |d| d.as_secs_f64() * 1e6)
}

/// A process's CPU time so far (user + system), from `/proc/PID/stat` (`PID` may be
/// `self`); in clock ticks of 1/100 s, Linux's USER_HZ.
fn process_cpu(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}
