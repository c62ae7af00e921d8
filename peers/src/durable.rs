//! `courier-peers durable-floor`: where the time of a durable send from one sender goes.
//! `courier bench mailbox` compares courier's durable send with the disk's floor, a
//! 4 KiB append + fdatasync loop. This measures, in turns on the same disk, the steps
//! from that floor up to courier:
//!
//! - `disk 4 KiB append`: the floor of `courier bench mailbox`;
//! - `disk small in place`: the message's size written into a file sized in advance and
//!   fdatasync'd — the sync a journal pays that, like fjall's, sizes its file first (no
//!   file size to update at each sync, unlike an append);
//! - `fjall commit`: courier's store (`FjallStore`, fjall) committing one message per
//!   transaction in this process — the store's sync, no network;
//! - `bare blocking server`: one message at a time over loopback TCP to a thread that
//!   writes it in place, fdatasyncs and answers one byte — one sync per message and no
//!   runtime, no protocol: the floor of a networked durable send;
//! - `bare tokio server`: the same server as a task on tokio's multi-thread runtime,
//!   syncing inline;
//! - `bare tokio client`: the bare blocking server called from a task on tokio's
//!   multi-thread runtime (as courier's client calls) instead of a blocking thread;
//! - `courier, raw client` (with `--courier`): ONC RPC SEND calls in durable mode to a
//!   courier node from a blocking client that encodes them by hand — the node's cost;
//! - `courier, courier client` (with `--courier`): `RemoteMailbox::send_durable` one after
//!   the other — what `courier bench mailbox --senders 1 --receivers 0` measures.
//!
//! Each system runs `--seconds` per turn, every one in each of `--rounds` turns; it
//! prints the median rate of each and its median ratio to the 4 KiB floor of the same
//! round.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use bytes::Bytes;
use courier::mailbox::remote::MailboxClient;
use courier::mailbox::store::{FjallStore, Record, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How far a file written in place is sized in advance (fjall sizes its journal so).
const PRESIZED: u64 = 64 << 20;

#[derive(clap::Args)]
pub struct Args {
    /// Where to write (the disk measured); left in place afterwards. Default: a new
    /// directory in the system's temporary directory, removed at the end.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The courier binary: a node is started (`serve --data DIR/node`, on the same
    /// disk) and measured too.
    #[arg(long, value_name = "PATH")]
    courier: Option<PathBuf>,
    /// Message size in bytes (the body of courier's SEND).
    #[arg(long, default_value_t = 128)]
    size: usize,
    /// Seconds per system per round.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Rounds: in each, every system takes its turn.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

/// The systems measured, in the order they take their turns.
const SYSTEMS: [&str; 8] = [
    "disk 4 KiB append",
    "disk small in place",
    "fjall commit",
    "bare blocking server",
    "bare tokio server",
    "bare tokio client",
    "courier, raw client",
    "courier, courier client",
];

pub async fn run(args: Args) -> anyhow::Result<()> {
    ensure!(args.seconds > 0.0 && args.seconds.is_finite(), "--seconds must be a positive number");
    ensure!(args.size > 0 && args.size <= 64 << 10, "--size must be 1..=65536 bytes");
    ensure!(args.rounds > 0, "--rounds must be at least 1");
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("courier-durable-floor-{}", std::process::id())));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let measured = measure(&args, &dir).await;
    if args.dir.is_none() {
        // Ours alone: the files and stores of the run (a given --dir is left to look at).
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    measured
}

/// Measures every system in turns, in `dir`, and prints the medians.
async fn measure(args: &Args, dir: &Path) -> anyhow::Result<()> {
    let slice = Duration::from_secs_f64(args.seconds);
    let blocking = spawn_blocking_server(dir, args.size)?;
    let tokio_server = spawn_tokio_server(dir, args.size).await?;
    let node = args.courier.as_deref().map(|courier| Node::start(courier, &dir.join("node"))).transpose()?;
    let systems = if node.is_some() { SYSTEMS.len() } else { SYSTEMS.len() - 2 };
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); systems];
    for round in 0..args.rounds {
        for (system, rates) in rates.iter_mut().enumerate() {
            let (dir, size) = (dir.to_path_buf(), args.size);
            let rate = match system {
                0 => tokio::task::spawn_blocking(move || disk_append(&dir, slice)).await??,
                1 => tokio::task::spawn_blocking(move || disk_in_place(&dir, size, slice)).await??,
                2 => tokio::task::spawn_blocking(move || fjall_commits(&dir, size, round, slice)).await??,
                3 => tokio::task::spawn_blocking(move || bare_client(blocking, size, slice)).await??,
                4 => tokio::task::spawn_blocking(move || bare_client(tokio_server, size, slice)).await??,
                5 => tokio::spawn(tokio_client(blocking, size, slice)).await??,
                6 => {
                    let node = node.as_ref().expect("with a node").addr;
                    tokio::task::spawn_blocking(move || raw_rpc_client(node, size, round, slice)).await??
                }
                // In a task, as `courier bench mailbox` runs its senders: on a worker
                // thread, beside the client's connection tasks.
                _ => {
                    tokio::spawn(courier_client(node.as_ref().expect("with a node").addr, size, round, slice)).await??
                }
            };
            rates.push(rate);
        }
    }
    println!(
        "dir: {}; {} rounds of {:.1} s per system; {} B messages",
        dir.display(),
        args.rounds,
        args.seconds,
        args.size
    );
    println!("{:<26} {:>10} {:>20}", "system", "median /s", "median × the floor");
    for (name, measured) in SYSTEMS.iter().zip(&rates) {
        let ratios: Vec<f64> = measured.iter().zip(&rates[0]).map(|(rate, floor)| rate / floor).collect();
        println!("{name:<26} {:>10.0} {:>20.2}", median(measured), median(&ratios));
    }
    Ok(())
}

/// The median of `values` (not empty).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Calls `step` until `length` has passed; how many per second it made.
fn per_second(length: Duration, mut step: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let (start, mut count) = (Instant::now(), 0u64);
    while start.elapsed() < length {
        step()?;
        count += 1;
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

/// A new file at `path`, sized `PRESIZED` when `presized` (otherwise empty).
fn fresh_file(path: &Path, presized: bool) -> anyhow::Result<File> {
    let file = OpenOptions::new().create(true).truncate(true).read(true).write(true).open(path)?;
    if presized {
        file.set_len(PRESIZED)?;
        file.sync_all()?;
    }
    Ok(file)
}

/// Writes `message` at `*offset` of a presized file and fdatasyncs it, wrapping at the
/// end of the file.
fn write_in_place(file: &File, message: &[u8], offset: &mut u64) -> anyhow::Result<()> {
    if *offset + message.len() as u64 > PRESIZED {
        *offset = 0;
    }
    file.write_all_at(message, *offset)?;
    *offset += message.len() as u64;
    file.sync_data()?;
    Ok(())
}

/// The floor of `courier bench mailbox`: 4 KiB appended and fdatasync'd, in a loop.
fn disk_append(dir: &Path, length: Duration) -> anyhow::Result<f64> {
    let mut file = fresh_file(&dir.join("append.bin"), false)?;
    let block = [0u8; 4096];
    per_second(length, || {
        file.write_all(&block)?;
        Ok(file.sync_data()?)
    })
}

/// `size` bytes written in place in a presized file and fdatasync'd, in a loop.
fn disk_in_place(dir: &Path, size: usize, length: Duration) -> anyhow::Result<f64> {
    let file = fresh_file(&dir.join("in-place.bin"), true)?;
    let (message, mut offset) = (vec![0x6d; size], 0);
    per_second(length, || write_in_place(&file, &message, &mut offset))
}

/// courier's store committing one `size`-byte message per transaction, in a store of
/// its own for this round.
fn fjall_commits(dir: &Path, size: usize, round: usize, length: Duration) -> anyhow::Result<f64> {
    let store = FjallStore::open(&dir.join(format!("fjall-{round}")))?;
    let (body, mut id) = (Bytes::from(vec![0x6d; size]), 0);
    per_second(length, || {
        id += 1;
        let record = Record { mailbox: "durable-floor".into(), id, source: "durable-floor".into(), body: body.clone() };
        Ok(store.commit(&[record], &[])?)
    })
}

/// The bare blocking server: a thread per connection reads `size`-byte messages, writes
/// each in place, fdatasyncs and answers one byte.
fn spawn_blocking_server(dir: &Path, size: usize) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let (addr, dir) = (listener.local_addr()?, dir.to_path_buf());
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let Ok(file) = fresh_file(&dir.join(format!("blocking-{n}.bin")), true) else { continue };
            std::thread::spawn(move || -> anyhow::Result<()> {
                stream.set_nodelay(true)?;
                let (mut message, mut offset) = (vec![0; size], 0);
                while stream.read_exact(&mut message).is_ok() {
                    write_in_place(&file, &message, &mut offset)?;
                    stream.write_all(&[1])?;
                }
                Ok(())
            });
        }
    });
    Ok(addr)
}

/// The bare tokio server: the blocking server's work in a task per connection on this
/// (multi-thread) runtime, the write and sync inline in the task.
async fn spawn_tokio_server(dir: &Path, size: usize) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (addr, dir) = (listener.local_addr()?, dir.to_path_buf());
    tokio::spawn(async move {
        for n in 0.. {
            let Ok((mut stream, _)) = listener.accept().await else { continue };
            let Ok(file) = fresh_file(&dir.join(format!("tokio-{n}.bin")), true) else { continue };
            tokio::spawn(async move {
                stream.set_nodelay(true)?;
                let (mut message, mut offset) = (vec![0; size], 0);
                while stream.read_exact(&mut message).await.is_ok() {
                    write_in_place(&file, &message, &mut offset)?;
                    stream.write_all(&[1]).await?;
                }
                anyhow::Ok(())
            });
        }
    });
    Ok(addr)
}

/// A blocking client of the bare servers: a message, then its one-byte answer.
fn bare_client(server: SocketAddr, size: usize, length: Duration) -> anyhow::Result<f64> {
    let mut stream = TcpStream::connect(server)?;
    stream.set_nodelay(true)?;
    let (message, mut answer) = (vec![0x6d; size], [0u8; 1]);
    per_second(length, || {
        stream.write_all(&message)?;
        Ok(stream.read_exact(&mut answer)?)
    })
}

/// A client of the bare blocking server in a task (spawned, so on a worker thread of the
/// runtime, as `courier bench mailbox` runs its senders).
async fn tokio_client(server: SocketAddr, size: usize, length: Duration) -> anyhow::Result<f64> {
    let mut stream = tokio::net::TcpStream::connect(server).await?;
    stream.set_nodelay(true)?;
    let (message, mut answer) = (vec![0x6d; size], [0u8; 1]);
    let (start, mut count) = (Instant::now(), 0u64);
    while start.elapsed() < length {
        stream.write_all(&message).await?;
        stream.read_exact(&mut answer).await?;
        count += 1;
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

/// Appends `bytes` as an XDR variable-length opaque (length, bytes, padding).
fn put_opaque(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend((bytes.len() as u32).to_be_bytes());
    out.extend(bytes);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// A blocking client that sends a courier node ONC RPC calls of the mailbox program's
/// SEND, durable, one at a time, encoded by hand as a minimal C client would, into a
/// mailbox of its own for this round.
fn raw_rpc_client(node: SocketAddr, size: usize, round: usize, length: Duration) -> anyhow::Result<f64> {
    use courier::mailbox::protocol::{PROGRAM, SEND, VERSION};
    let mut stream = TcpStream::connect(node)?;
    stream.set_nodelay(true)?;
    let mailbox = format!("durable-floor-{}-{round}", std::process::id());
    let (body, mut reply, mut xid) = (vec![0x6d; size], Vec::new(), 0u32);
    per_second(length, || {
        xid += 1;
        // Record mark, then: xid, CALL, RPC version 2, program, version, procedure,
        // AUTH_NONE credential and verifier; SEND's arguments: mailbox, source, mode
        // (2: durable), wait_ms, body.
        let mut call = vec![0; 4];
        for word in [xid, 0, 2, PROGRAM, VERSION, SEND, 0, 0, 0, 0] {
            call.extend(word.to_be_bytes());
        }
        put_opaque(&mut call, mailbox.as_bytes());
        put_opaque(&mut call, b"durable-floor");
        call.extend(2u32.to_be_bytes());
        call.extend(0u32.to_be_bytes());
        put_opaque(&mut call, &body);
        let mark = (call.len() as u32 - 4) | 0x8000_0000;
        call[..4].copy_from_slice(&mark.to_be_bytes());
        stream.write_all(&call)?;
        let mut mark = [0u8; 4];
        stream.read_exact(&mut mark)?;
        let length = (u32::from_be_bytes(mark) & 0x7fff_ffff) as usize;
        ensure!(u32::from_be_bytes(mark) & 0x8000_0000 != 0 && length <= 4096, "unexpected reply record");
        reply.resize(length, 0);
        stream.read_exact(&mut reply)?;
        // xid, REPLY, MSG_ACCEPTED, verifier (flavor, empty body), SUCCESS, status OK.
        let word = |i: usize| reply.get(i * 4..i * 4 + 4).map(|w| u32::from_be_bytes(w.try_into().unwrap()));
        ensure!(
            (0..7).map(word).collect::<Option<Vec<_>>>() == Some(vec![xid, 1, 0, 0, 0, 0, 0]),
            "SEND was not answered OK"
        );
        Ok(())
    })
}

/// courier's own client: `RemoteMailbox::send_durable`, one after the other, into a
/// mailbox of its own for this round.
async fn courier_client(node: SocketAddr, size: usize, round: usize, length: Duration) -> anyhow::Result<f64> {
    let office = MailboxClient::connect(node).await?;
    let mailbox = office.mailbox(&format!("durable-floor-courier-{}-{round}", std::process::id()))?;
    let body = Bytes::from(vec![0x6d; size]);
    let (start, mut count) = (Instant::now(), 0u64);
    while start.elapsed() < length {
        mailbox.send_durable("durable-floor", body.clone()).await?;
        count += 1;
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

/// A courier node started for the run, killed when dropped.
struct Node {
    child: std::process::Child,
    addr: SocketAddr,
}

impl Node {
    /// Starts `courier serve` on a loopback port of its choice, its store in `data`,
    /// its mailboxes big enough for every message of the run.
    fn start(courier: &Path, data: &Path) -> anyhow::Result<Node> {
        let mut child = std::process::Command::new(courier)
            .args(["serve", "--listen", "127.0.0.1:0", "--no-register", "--mailbox-capacity", "10000000", "--data"])
            .arg(data)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", courier.display()))?;
        let stdout = child.stdout.take().context("the node's output")?;
        let mut node = Node { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)) };
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            if let Some(addr) = line?.strip_prefix("listening on tcp://") {
                node.addr = addr.parse()?;
                return Ok(node);
            }
        }
        anyhow::bail!("the node did not listen on TCP")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
