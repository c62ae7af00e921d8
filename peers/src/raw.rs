//! The floor: no RPC at all, just tokio TCP. A frame is a 4-byte big-endian length and
//! that many bytes; the server sends every frame straight back.
//!
//! The client pipelines `in_flight` frames on one connection with a writer task and a
//! reader task (frames come back in order, so the reader matches each echo with the
//! oldest send time); both sides buffer their writes and flush only when they have
//! nothing more to write at once, which is as few system calls as a pipelined protocol
//! can make. With one frame in flight the client is a plain loop in one task (write,
//! read, repeat): the latency floor of a TCP round trip through tokio.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};

use crate::harness::{self, ClientArgs, CpuClock, Sample};

/// Read and write buffer size of both sides.
const BUFFER: usize = 64 * 1024;

/// Serves echo frames on `listen` until killed.
pub async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    harness::announce(listener.local_addr()?);
    loop {
        let (socket, _) = listener.accept().await?;
        socket.set_nodelay(true)?;
        tokio::spawn(async move {
            let _ = echo_connection(socket).await;
        });
    }
}

/// Echoes the frames of one connection until the client closes it.
async fn echo_connection(mut socket: TcpStream) -> anyhow::Result<()> {
    let (rd, wr) = socket.split();
    let mut reader = BufReader::with_capacity(BUFFER, rd);
    let mut writer = BufWriter::with_capacity(BUFFER, wr);
    let mut body = Vec::new();
    loop {
        // Flush the echoes written so far before waiting for more input.
        if !holds_frame(reader.buffer()) {
            writer.flush().await?;
        }
        let len = match reader.read_u32().await {
            Ok(len) => len,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        body.resize(len as usize, 0);
        reader.read_exact(&mut body).await?;
        writer.write_u32(len).await?;
        writer.write_all(&body).await?;
    }
}

/// Whether `buffered` starts with a whole frame.
fn holds_frame(buffered: &[u8]) -> bool {
    match buffered.get(..4) {
        Some(head) => buffered.len() - 4 >= u32::from_be_bytes(head.try_into().unwrap()) as usize,
        None => false,
    }
}

/// Runs the client's measurements against a server at `args.target`.
pub async fn client(args: ClientArgs) -> anyhow::Result<()> {
    let cpu = CpuClock::new(args.server_pid);
    let target = args.target;
    harness::run(&args, "raw-tokio", async |size, in_flight, length| {
        let socket = TcpStream::connect(target).await.with_context(|| format!("cannot connect to {target}"))?;
        socket.set_nodelay(true)?;
        if in_flight == 1 {
            sequential(socket, cpu, size, length).await
        } else {
            pipelined(socket, cpu, size, in_flight, length).await
        }
    })
    .await
}

/// A frame of `size` bytes, length included.
fn frame(size: usize) -> Vec<u8> {
    let mut frame = Vec::with_capacity(4 + size);
    frame.extend_from_slice(&(size as u32).to_be_bytes());
    frame.resize(4 + size, 0x5a);
    frame
}

/// One frame at a time: write it, read the echo, repeat.
async fn sequential(mut socket: TcpStream, cpu: CpuClock, size: usize, length: Duration) -> anyhow::Result<Sample> {
    let frame = frame(size);
    let mut back = vec![0; frame.len()];
    let mut latencies = Vec::new();
    let before = cpu.read()?;
    let start = Instant::now();
    let deadline = start + length;
    while Instant::now() < deadline {
        let t = Instant::now();
        socket.write_all(&frame).await?;
        socket.read_exact(&mut back).await?;
        latencies.push(t.elapsed());
    }
    ensure!(back[..4] == frame[..4], "the echo came back with another length");
    Ok(Sample { latencies, elapsed: start.elapsed(), cpu: cpu.since(before)? })
}

/// `in_flight` frames outstanding at once on one connection: a writer task sends a
/// frame whenever the reader has received an echo, until the deadline; the reader
/// (this task) reads echoes until the writer has stopped and every echo is back.
async fn pipelined(
    socket: TcpStream,
    cpu: CpuClock,
    size: usize,
    in_flight: usize,
    length: Duration,
) -> anyhow::Result<Sample> {
    let (rd, wr) = socket.into_split();
    let frame = frame(size);
    let slots = Arc::new(Semaphore::new(in_flight));
    // The send time of each frame, oldest first: the echoes come back in that order.
    let (sent, mut outstanding) = mpsc::unbounded_channel::<Instant>();
    let before = cpu.read()?;
    let start = Instant::now();
    let deadline = start + length;

    let writer_slots = Arc::clone(&slots);
    let writer = tokio::spawn(async move {
        let mut writer = BufWriter::with_capacity(BUFFER, wr);
        while Instant::now() < deadline {
            let slot = match writer_slots.try_acquire() {
                Ok(slot) => slot,
                Err(_) => {
                    // Nothing more to send until an echo comes back: send what is buffered.
                    writer.flush().await?;
                    writer_slots.acquire().await?
                }
            };
            slot.forget();
            let _ = sent.send(Instant::now());
            writer.write_all(&frame).await?;
        }
        writer.flush().await?;
        // Keep the write half open until the reader is done; dropping `sent` ends it.
        anyhow::Ok(writer)
    });

    let mut reader = BufReader::with_capacity(BUFFER, rd);
    let mut body = vec![0; size];
    let mut latencies = Vec::new();
    while let Some(t) = outstanding.recv().await {
        let len = reader.read_u32().await?;
        ensure!(len as usize == size, "the echo came back with {len} bytes instead of {size}");
        reader.read_exact(&mut body).await?;
        latencies.push(t.elapsed());
        slots.add_permits(1);
    }
    let elapsed = start.elapsed();
    let cpu_used = cpu.since(before)?;
    drop(writer.await??);
    Ok(Sample { latencies, elapsed, cpu: cpu_used })
}
