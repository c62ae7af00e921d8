//! `courier bench mailbox`: messaging measured side by side in one run — a courier node's
//! mailboxes (durable: acknowledged after the group-committed fdatasync; and not
//! durable), NATS JetStream (file storage, publish with acknowledgement), NATS core
//! request-reply, and the disk's own floor (a 4 KiB append + fdatasync loop) — with 1, 16
//! and 256 concurrent senders. Each run has senders sending for the given time while
//! receivers take and acknowledge what comes (courier's in batches of up to `--batch`,
//! kept open `--linger` ms for more, each acknowledged with the receiver's next receive;
//! JetStream's through its pull consumer, which fetches in batches too); the systems
//! take turns in slices (`--rounds`), the floor among them, so that the machine's drift
//! falls on all alike. It reports messages sent (acknowledged by the server) and received
//! per second, and the senders' latency percentiles.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use courier::mailbox::remote::{MailboxClient, RemoteMailbox};
use futures_util::StreamExt;
use serde::Serialize;

/// How many of the senders share one connection to the node.
const SENDERS_PER_CONNECTION: usize = 64;

#[derive(clap::Args)]
pub struct Args {
    /// Concurrent senders (comma-separated list).
    #[arg(long, value_delimiter = ',', default_value = "1,16,256")]
    senders: Vec<usize>,
    /// Concurrent receivers.
    #[arg(long, default_value_t = 16)]
    receivers: usize,
    /// The most messages a courier receiver takes in one call, acknowledging them with
    /// its next (ACK_RECEIVE_BATCH); 1: one message per RECEIVE and ACK.
    #[arg(long, default_value_t = 64)]
    batch: u32,
    /// How long, in milliseconds, a courier receiver's batch stays open at the node after
    /// its first message, for more (`RemoteMailbox::with_linger`); 0: each receive takes
    /// what is there.
    #[arg(long, default_value_t = 5)]
    linger: u64,
    /// Message body size in bytes.
    #[arg(long, default_value_t = 128)]
    size: usize,
    /// How long to measure each combination, in seconds.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// In how many slices each combination is measured: the systems take turns, a slice
    /// each, so that the machine's drift (this VM's disk moves by ±20 % within seconds)
    /// falls on all of them alike; the disk's floor takes its turns among the first
    /// senders count's.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// Where the node keeps its store, and where the fdatasync floor is measured (the
    /// same disk); default: a new directory in the system's temporary directory.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// A NATS server with JetStream to compare with; without it, `nats-server -js` is
    /// started for the run if it is installed (its store in the data directory).
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// One measured combination.
#[derive(Serialize)]
struct Row {
    system: &'static str,
    senders: usize,
    sent_per_second: f64,
    received_per_second: f64,
    send_p50_us: f64,
    send_p99_us: f64,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.seconds > 0.0 && args.seconds.is_finite()) {
        bail!("--seconds must be a positive number");
    }
    let slice = Duration::from_secs_f64(args.seconds) / args.rounds;
    let data = match &args.data {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("courier-bench-mailbox-{}", std::process::id())),
    };
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    println!("data directory: {}", data.display());
    let body = Bytes::from(vec![0x6d; args.size]);
    let mut rows = Vec::new();
    let print = |row: &Row| {
        println!(
            "{:<18} {:>8} {:>12.0} {:>12.0} {:>10.1} {:>10.1}",
            row.system, row.senders, row.sent_per_second, row.received_per_second, row.send_p50_us, row.send_p99_us
        );
    };
    println!(
        "{:<18} {:>8} {:>12} {:>12} {:>10} {:>10}",
        "system", "senders", "sent/s", "received/s", "p50 µs", "p99 µs"
    );

    let floor_path = data.join("floor.bin");
    let mut floor = Some(std::fs::OpenOptions::new().create(true).truncate(true).write(true).open(&floor_path)?);
    let node_dir = data.join("node");
    let extra = ["--mailbox-capacity".as_ref(), "1000000".as_ref(), "--data".as_ref(), node_dir.as_os_str()];
    let (node_endpoint, _node) = crate::bench::start_node("tcp", &extra).await?;
    let courier::transport::Endpoint::Tcp(node_addr) = node_endpoint else { bail!("the node is not on TCP") };
    let (nats_url, _nats) = match &args.nats {
        Some(url) => (Some(url.clone()), None),
        None => match start_nats(&data.join("nats")).await {
            Ok((url, child)) => (Some(url), Some(child)),
            Err(e) => {
                println!("(no NATS comparison: {e:#})");
                (None, None)
            }
        },
    };
    let nats = match &nats_url {
        Some(url) => {
            Some(async_nats::connect(url.as_str()).await.with_context(|| format!("cannot reach NATS at {url}"))?)
        }
        None => None,
    };
    for &senders in &args.senders {
        let senders = senders.max(1);
        let mut totals: Vec<(&'static str, usize, Measured)> = Vec::new();
        // Senders and receivers are different parties, with connections of their own: a
        // node serves at most 128 calls of one connection at once, so senders share a
        // connection by SENDERS_PER_CONNECTION, and all of them are in flight.
        let mut senders_offices = Vec::new();
        for _ in 0..senders.div_ceil(SENDERS_PER_CONNECTION) {
            senders_offices.push(MailboxClient::connect(node_addr).await?);
        }
        let receivers_office = MailboxClient::connect(node_addr).await?;
        for _ in 0..args.rounds {
            if let Some(file) = &mut floor {
                add(&mut totals, ("fdatasync 4 KiB", 1), fdatasync_floor(file, slice)?);
            }
            for (system, durable) in [("courier durable", true), ("courier", false)] {
                let name = format!("bench-{system}-{senders}").replace(' ', "-");
                let sending =
                    senders_offices.iter().map(|office| office.mailbox(&name)).collect::<Result<Vec<_>, _>>()?;
                let receiving = receivers_office.mailbox(&name)?.with_linger(Duration::from_millis(args.linger));
                let mailboxes = (sending, receiving);
                let parties = (senders, args.receivers);
                let run = courier_run(mailboxes, (durable, args.batch.max(1)), parties, body.clone(), slice);
                add(&mut totals, (system, senders), tokio::spawn(run).await??);
            }
            if let Some(nats) = &nats {
                let run = jetstream_run(nats.clone(), (senders, args.receivers), body.clone(), slice);
                add(&mut totals, ("jetstream", senders), tokio::spawn(run).await??);
                let run = nats_core_run(nats.clone(), senders, body.clone(), slice);
                add(&mut totals, ("nats core req-rep", senders), tokio::spawn(run).await??);
            }
        }
        // The floor took its turns among the first senders count's only.
        if floor.take().is_some() {
            let _ = std::fs::remove_file(&floor_path);
        }
        for (system, senders, measured) in totals {
            let row = Row::new(system, senders, measured);
            print(&row);
            rows.push(row);
        }
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.data.is_none() {
        let _ = std::fs::remove_dir_all(&data);
    }
    Ok(ExitCode::SUCCESS)
}

/// What a system's slices measured together: its senders' latencies, the time they
/// took, and how many messages its receivers took.
#[derive(Default)]
struct Measured {
    latencies: Vec<Duration>,
    elapsed: Duration,
    received: usize,
}

/// Adds a slice to the totals of `system` with `senders`.
fn add(totals: &mut Vec<(&'static str, usize, Measured)>, (system, senders): (&'static str, usize), slice: Measured) {
    let at = match totals.iter().position(|(s, n, _)| (*s, *n) == (system, senders)) {
        Some(at) => at,
        None => {
            totals.push((system, senders, Measured::default()));
            totals.len() - 1
        }
    };
    let total = &mut totals[at].2;
    total.latencies.extend(slice.latencies);
    total.elapsed += slice.elapsed;
    total.received += slice.received;
}

/// The disk's floor: 4 KiB appended to `file` and fdatasync'd, one after the other, for
/// `length`.
fn fdatasync_floor(file: &mut std::fs::File, length: Duration) -> anyhow::Result<Measured> {
    let block = [0x66u8; 4096];
    let mut latencies = Vec::new();
    let start = Instant::now();
    while start.elapsed() < length {
        let t = Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        latencies.push(t.elapsed());
    }
    let received = latencies.len();
    Ok(Measured { latencies, elapsed: start.elapsed(), received })
}

impl Row {
    /// The row of what `system` with `senders` measured.
    fn new(system: &'static str, senders: usize, measured: Measured) -> Row {
        let Measured { mut latencies, elapsed, received: count } = measured;
        latencies.sort_unstable();
        let per_second = |n: usize| n as f64 / elapsed.as_secs_f64();
        Row {
            system,
            senders,
            sent_per_second: per_second(latencies.len()),
            received_per_second: per_second(count),
            send_p50_us: crate::bench::percentile_us(&latencies, 0.5),
            send_p99_us: crate::bench::percentile_us(&latencies, 0.99),
        }
    }
}

/// What a receiver's loop goes by: whether to stop, and where to count the messages it
/// received (courier's: when taken, the acknowledgement riding on the next receive;
/// JetStream's: once acknowledged).
#[derive(Clone, Default)]
struct Tally {
    stop: Arc<AtomicBool>,
    received: Arc<AtomicUsize>,
}

impl Tally {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn add(&self, messages: usize) {
        self.received.fetch_add(messages, Ordering::Relaxed);
    }
}

/// Runs `senders` loops of `send` for `length` while `receivers` loops of `receive` take
/// what comes, until their tally says stop.
async fn drive<S, SF, R, RF>(
    (senders, receivers): (usize, usize),
    length: Duration,
    send: S,
    receive: R,
) -> anyhow::Result<Measured>
where
    S: Fn(usize) -> SF + Clone + Send + 'static,
    SF: std::future::Future<Output = anyhow::Result<()>> + Send,
    R: Fn(Tally) -> RF + Clone + Send + 'static,
    RF: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let tally = Tally::default();
    let receivers: Vec<_> = (0..receivers).map(|_| tokio::spawn(receive(tally.clone()))).collect();
    let start = Instant::now();
    let deadline = start + length;
    let loops: Vec<_> = (0..senders)
        .map(|sender| {
            let send = send.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    send(sender).await?;
                    latencies.push(t.elapsed());
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for l in loops {
        latencies.extend(l.await??);
    }
    let elapsed = start.elapsed();
    let received = tally.received.load(Ordering::Relaxed);
    tally.stop.store(true, Ordering::Relaxed);
    // Receivers end after their current receive (acknowledging what they hold, so that
    // it does not come back in a later run); one that does not is stopped.
    for r in receivers {
        let abort = r.abort_handle();
        if tokio::time::timeout(Duration::from_secs(2), r).await.is_err() {
            abort.abort();
        }
    }
    Ok(Measured { latencies, elapsed, received })
}

async fn courier_run(
    (senders, mailbox): (Vec<RemoteMailbox>, RemoteMailbox),
    (durable, batch): (bool, u32),
    parties: (usize, usize),
    body: Bytes,
    length: Duration,
) -> anyhow::Result<Measured> {
    let send = move |sender: usize| {
        let (mailbox, body) = (senders[sender / SENDERS_PER_CONNECTION].clone(), body.clone());
        async move {
            match durable {
                true => mailbox.send_durable("bench", body).await?,
                false => mailbox.send("bench", body).await?,
            };
            Ok(())
        }
    };
    // A receiver acknowledges each batch with its next receive (ACK_RECEIVE_BATCH).
    let receive = move |tally: Tally| {
        let mailbox = mailbox.clone();
        async move {
            let wait = Duration::from_millis(200);
            let mut receipts = Vec::new();
            while !tally.stopped() {
                if batch == 1 {
                    if let Some(delivery) = mailbox.receive_timeout(None, wait).await? {
                        tally.add(usize::from(delivery.ack().await?));
                    }
                    continue;
                }
                let (_, taken) = mailbox.ack_and_receive_batch(&receipts, None, batch, wait).await?;
                tally.add(taken.len());
                receipts = taken.iter().map(|delivery| delivery.receipt()).collect();
            }
            mailbox.ack_batch(&receipts).await?;
            Ok(())
        }
    };
    drive(parties, length, send, receive).await
}

async fn jetstream_run(
    nats: async_nats::Client,
    parties: (usize, usize),
    body: Bytes,
    length: Duration,
) -> anyhow::Result<Measured> {
    let senders = parties.0;
    use async_nats::jetstream::{self, consumer, stream};
    let js = jetstream::new(nats);
    let name = format!("BENCH_{senders}");
    let subject = format!("bench.{senders}");
    let _ = js.delete_stream(&name).await;
    let stream = js
        .create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("create the JetStream stream: {e}"))?;
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("bench".into()),
            ack_policy: consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("create the JetStream consumer: {e}"))?;
    let messages = consumer.messages().await.map_err(|e| anyhow::anyhow!("consume: {e}"))?;
    let messages = Arc::new(tokio::sync::Mutex::new(messages));
    let send = {
        let (js, subject) = (js.clone(), subject.clone());
        move |_| {
            let (js, subject, body) = (js.clone(), subject.clone(), body.clone());
            async move {
                let ack = js.publish(subject, body).await.map_err(|e| anyhow::anyhow!("publish: {e}"))?;
                ack.await.map_err(|e| anyhow::anyhow!("publish acknowledgement: {e}"))?;
                Ok(())
            }
        }
    };
    let receive = move |tally: Tally| {
        let messages = messages.clone();
        async move {
            while !tally.stopped() {
                let wait = Duration::from_millis(200);
                let next = tokio::time::timeout(wait, async { messages.lock().await.next().await });
                match next.await {
                    Ok(Some(Ok(message))) => {
                        message.ack().await.map_err(|e| anyhow::anyhow!("ack: {e}"))?;
                        tally.add(1);
                    }
                    Ok(Some(Err(e))) => return Err(anyhow::anyhow!("consume: {e}")),
                    Ok(None) | Err(_) => {}
                }
            }
            Ok(())
        }
    };
    let measured = drive(parties, length, send, receive).await;
    let _ = js.delete_stream(&name).await;
    measured
}

async fn nats_core_run(
    nats: async_nats::Client,
    senders: usize,
    body: Bytes,
    length: Duration,
) -> anyhow::Result<Measured> {
    let subject = format!("bench.core.{senders}");
    let mut requests = nats.subscribe(subject.clone()).await?;
    let responder = tokio::spawn({
        let nats = nats.clone();
        async move {
            while let Some(request) = requests.next().await {
                if let Some(reply) = request.reply {
                    let _ = nats.publish(reply, Bytes::new()).await;
                }
            }
        }
    });
    nats.flush().await?;
    let send = move |_| {
        let (nats, subject, body) = (nats.clone(), subject.clone(), body.clone());
        async move {
            nats.request(subject, body).await.map_err(|e| anyhow::anyhow!("request: {e}"))?;
            Ok(())
        }
    };
    // The responder is the receiver (every answered request was received): no receivers.
    let receive = |_| async { Ok(()) };
    let measured = drive((senders, 0), length, send, receive).await;
    responder.abort();
    measured.map(|m| Measured { received: m.latencies.len(), ..m })
}

/// Starts `nats-server -js` on a free loopback port with its store in `dir`.
async fn start_nats(dir: &Path) -> anyhow::Result<(String, tokio::process::Child)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = tokio::process::Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("nats-server is not installed")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if Instant::now() > deadline {
            bail!("nats-server did not listen on 127.0.0.1:{port}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((format!("nats://127.0.0.1:{port}"), child))
}
