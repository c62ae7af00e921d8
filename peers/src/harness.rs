//! What every client of the peers shares: the command-line options of `courier bench`
//! (`--in-flight`, `--size`, `--seconds`, `--json`, plus `--target` and `--server-pid`),
//! the row of results it prints (the fields of courier bench's rows plus `peer` and
//! `cpu_us_per_call`), the CPU clock of client and server, and the closed loop that keeps
//! `in_flight` calls going for a while, exactly as `courier bench` does.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use serde::Serialize;

/// The options of every client, named as `courier bench` names them.
#[derive(clap::Args)]
pub struct ClientArgs {
    /// The server to measure, as HOST:PORT.
    #[arg(long)]
    pub target: SocketAddr,
    /// Calls in flight at once (comma-separated list).
    #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
    pub in_flight: Vec<usize>,
    /// Echo payload sizes in bytes (comma-separated list).
    #[arg(long, value_delimiter = ',', default_value = "0")]
    pub size: Vec<usize>,
    /// How long to measure each combination, in seconds.
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// The server's process id, to add its CPU time to the client's in
    /// `cpu_us_per_call`; without it that field is null.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
}

/// One measured combination: the fields of `courier bench`'s rows, plus which peer
/// and the CPU time (user + system, client + server) per call.
#[derive(Serialize)]
pub struct Row {
    pub peer: String,
    pub transport: String,
    pub size: usize,
    pub in_flight: usize,
    pub calls: usize,
    pub calls_per_second: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub cpu_us_per_call: Option<f64>,
}

/// What one combination measured, before it becomes a [`Row`].
pub struct Sample {
    /// The round trip of each call that completed.
    pub latencies: Vec<Duration>,
    /// From the first call's start to the last call's end.
    pub elapsed: Duration,
    /// CPU time of client and server over the same span, if the server's is known.
    pub cpu: Option<Duration>,
}

/// Reads the CPU time this process and the server have used so far.
#[derive(Clone, Copy)]
pub struct CpuClock {
    server_pid: Option<u32>,
}

/// A reading of a [`CpuClock`].
#[derive(Clone, Copy)]
pub struct CpuReading {
    client: Duration,
    server: Option<Duration>,
}

impl CpuClock {
    pub fn new(server_pid: Option<u32>) -> Self {
        CpuClock { server_pid }
    }

    /// The CPU time (user + system, all threads) used so far by this process and by the
    /// server. The server's comes from /proc/PID/stat, in clock ticks (10 ms on Debian's
    /// kernels), which over a measurement of seconds is precise enough.
    pub fn read(&self) -> anyhow::Result<CpuReading> {
        let server = match self.server_pid {
            Some(pid) => Some(proc_cpu(pid)?),
            None => None,
        };
        Ok(CpuReading { client: self_cpu(), server })
    }

    /// The CPU time both used since `before`.
    pub fn since(&self, before: CpuReading) -> anyhow::Result<Option<Duration>> {
        let now = self.read()?;
        Ok(match (before.server, now.server) {
            (Some(a), Some(b)) => Some(now.client.saturating_sub(before.client) + b.saturating_sub(a)),
            _ => None,
        })
    }
}

/// This process's CPU time, from getrusage(2) (microsecond resolution).
fn self_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Another process's CPU time: utime + stime of /proc/PID/stat.
fn proc_cpu(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read the CPU time of process {pid}"))?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).context("odd /proc/PID/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    let ticks: u64 =
        fields.get(11).context("no utime")?.parse::<u64>()? + fields.get(12).context("no stime")?.parse::<u64>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

/// Keeps `in_flight` calls of `call` going on a `size`-byte payload for `length`, as
/// `courier bench` does: a new call starts whenever one completes, until the deadline;
/// then the calls still in flight complete. `call` returns the length of the echo.
pub async fn closed_loop<F, Fut>(
    cpu: CpuClock,
    size: usize,
    in_flight: usize,
    length: Duration,
    call: F,
) -> anyhow::Result<Sample>
where
    F: Fn(Bytes) -> Fut,
    Fut: Future<Output = anyhow::Result<usize>>,
{
    let payload = Bytes::from(vec![0x5a; size]);
    let before = cpu.read()?;
    let start = Instant::now();
    let deadline = start + length;
    let latencies: Vec<Duration> = stream::iter(0..)
        .take_while(|_| std::future::ready(Instant::now() < deadline))
        .map(|_| {
            let (call, payload) = (&call, payload.clone());
            async move {
                let t = Instant::now();
                let back = call(payload).await?;
                ensure!(back == size, "the echo came back with {back} bytes instead of {size}");
                Ok(t.elapsed())
            }
        })
        .buffer_unordered(in_flight)
        .collect::<Vec<anyhow::Result<Duration>>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let elapsed = start.elapsed();
    Ok(Sample { latencies, elapsed, cpu: cpu.since(before)? })
}

/// Measures every (size, in flight) combination of `args` with `measure`, prints a
/// table like `courier bench`'s and writes the JSON rows when asked.
pub async fn run(
    args: &ClientArgs,
    peer: &str,
    mut measure: impl AsyncFnMut(usize, usize, Duration) -> anyhow::Result<Sample>,
) -> anyhow::Result<()> {
    if !(args.seconds > 0.0 && args.seconds.is_finite()) {
        bail!("--seconds must be a positive number");
    }
    let length = Duration::from_secs_f64(args.seconds);
    let mut rows = Vec::new();
    println!(
        "{:<10} {:<6} {:>8} {:>9} {:>10} {:>12} {:>10} {:>10} {:>10}",
        "peer", "proto", "size", "in flight", "calls", "calls/s", "p50 µs", "p99 µs", "cpu µs"
    );
    for &size in &args.size {
        for &in_flight in &args.in_flight {
            let sample = measure(size, in_flight.max(1), length)
                .await
                .with_context(|| format!("{peer}: size {size}, {in_flight} in flight"))?;
            let row = row(peer, "tcp", size, in_flight.max(1), sample);
            println!(
                "{:<10} {:<6} {:>8} {:>9} {:>10} {:>12.0} {:>10.1} {:>10.1} {:>10}",
                row.peer,
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
    Ok(())
}

/// Percentiles and rates of a sample, with the same percentile rule as `courier bench`
/// (the element at index ⌊(n − 1)·p⌋ of the sorted latencies).
fn row(peer: &str, transport: &str, size: usize, in_flight: usize, sample: Sample) -> Row {
    let mut sorted = sample.latencies;
    sorted.sort_unstable();
    let percentile =
        |p: f64| sorted.get(((sorted.len() as f64 - 1.0) * p) as usize).map_or(0.0, |d| d.as_secs_f64() * 1e6);
    let calls = sorted.len();
    Row {
        peer: peer.to_owned(),
        transport: transport.to_owned(),
        size,
        in_flight,
        calls,
        calls_per_second: calls as f64 / sample.elapsed.as_secs_f64(),
        p50_us: percentile(0.5),
        p99_us: percentile(0.99),
        cpu_us_per_call: sample.cpu.filter(|_| calls > 0).map(|cpu| cpu.as_secs_f64() * 1e6 / calls as f64),
    }
}

/// Prints where a server listens, in the form `courier serve` uses, and flushes, so the
/// script that started it can read the port.
pub fn announce(addr: SocketAddr) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on tcp://{addr}");
    let _ = out.flush();
}
