//! A client's stream connection (TCP or Unix socket), built so that a call with the
//! connection to itself costs no hand-off between tasks.
//!
//! - **Sending.** A caller writes its message straight to the socket (a non-blocking
//!   write, under a short lock, so a cancelled caller never leaves half a message) when
//!   nothing else is waiting to be written. Otherwise — or when the socket takes only
//!   part of it — the message joins a backlog that the connection's writer task sends,
//!   many messages per system call (it yields once first, so that callers woken by the
//!   same burst of replies have queued theirs).
//! - **Receiving.** There is no reader task. A caller waiting for its reply takes the
//!   read side (leader/followers) and reads records, handing each reply to its caller,
//!   until its own arrives; then the next waiting caller takes over. One call in flight
//!   reads its own reply; many calls in flight share one reader at a time.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::{tcp, unix, TcpStream, UnixStream};
use tokio::sync::Notify;
use tokio_util::codec::FramedRead;

use crate::sync::lock;
use crate::transport::record::{self, RecordDecoder};
use crate::transport::{Endpoint, Outgoing};

/// The most buffers handed to one vectored write.
const MAX_IOVECS: usize = 64;

/// The read half of a TCP or Unix connection.
#[derive(Debug)]
pub(crate) enum ReadHalf {
    Tcp(tcp::OwnedReadHalf),
    Unix(unix::OwnedReadHalf),
}

/// The write half of a TCP or Unix connection.
#[derive(Debug)]
pub(crate) enum WriteHalf {
    Tcp(tcp::OwnedWriteHalf),
    Unix(unix::OwnedWriteHalf),
}

impl AsyncRead for ReadHalf {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ReadHalf::Tcp(r) => Pin::new(r).poll_read(cx, buf),
            ReadHalf::Unix(r) => Pin::new(r).poll_read(cx, buf),
        }
    }
}

impl WriteHalf {
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            WriteHalf::Tcp(w) => w.try_write_vectored(bufs),
            WriteHalf::Unix(w) => w.try_write_vectored(bufs),
        }
    }

    async fn writable(&self) -> io::Result<()> {
        match self {
            WriteHalf::Tcp(w) => w.writable().await,
            WriteHalf::Unix(w) => w.writable().await,
        }
    }
}

/// Opens a stream connection to a TCP or Unix endpoint.
pub(crate) async fn open(endpoint: &Endpoint) -> io::Result<(ReadHalf, WriteHalf)> {
    match endpoint {
        Endpoint::Tcp(addr) => {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (r, w) = stream.into_split();
            Ok((ReadHalf::Tcp(r), WriteHalf::Tcp(w)))
        }
        Endpoint::Unix(path) => {
            let (r, w) = UnixStream::connect(path).await?.into_split();
            Ok((ReadHalf::Unix(r), WriteHalf::Unix(w)))
        }
        Endpoint::Udp(_) => Err(io::Error::new(io::ErrorKind::InvalidInput, "UDP is not a stream")),
    }
}

/// Incoming records.
pub(crate) type Records = FramedRead<ReadHalf, RecordDecoder>;

/// One open connection.
#[derive(Debug)]
pub(crate) struct Wire {
    /// Which of the client's connections this is.
    pub(crate) generation: u64,
    half: WriteHalf,
    backlog: Mutex<Backlog>,
    /// Tells the writer task that the backlog has work.
    wake: Notify,
    /// The read side, taken by whichever caller is reading.
    pub(crate) records: tokio::sync::Mutex<Records>,
}

#[derive(Debug, Default)]
struct Backlog {
    chunks: VecDeque<Bytes>,
    /// The writer task is sending (or about to send) the backlog.
    busy: bool,
    /// A write failed: the connection is unusable.
    broken: bool,
}

impl Wire {
    pub(crate) fn new(generation: u64, r: ReadHalf, w: WriteHalf, max_record: usize) -> Wire {
        Wire {
            generation,
            half: w,
            backlog: Mutex::default(),
            wake: Notify::new(),
            records: tokio::sync::Mutex::new(FramedRead::new(
                r,
                RecordDecoder::new(max_record, record::DEFAULT_MAX_FRAGMENTS),
            )),
        }
    }

    fn backlog(&self) -> std::sync::MutexGuard<'_, Backlog> {
        lock(&self.backlog)
    }

    /// Sends a message: straight to the socket if nothing is queued and `direct`, else
    /// through the writer task. An error means the connection is broken.
    pub(crate) fn send(&self, msg: &Outgoing, direct: bool) -> io::Result<()> {
        let mut backlog = self.backlog();
        if backlog.broken {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the connection is broken"));
        }
        let mut rest = [msg.head.clone(), msg.body.clone()];
        if direct && !backlog.busy && backlog.chunks.is_empty() {
            let written = match self.half.try_write_vectored(&[IoSlice::new(&rest[0]), IoSlice::new(&rest[1])]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) => {
                    backlog.broken = true;
                    return Err(e);
                }
            };
            if written == rest[0].len() + rest[1].len() {
                return Ok(());
            }
            let from_head = written.min(rest[0].len());
            rest[0].advance(from_head);
            rest[1].advance(written - from_head);
        }
        backlog.chunks.extend(rest.into_iter().filter(|c| !c.is_empty()));
        if !backlog.busy {
            backlog.busy = true;
            drop(backlog);
            self.wake.notify_one();
        }
        Ok(())
    }

    /// The writer task: sends the backlog whenever there is one, until a write fails.
    pub(crate) async fn write_backlog(&self) -> io::Result<()> {
        loop {
            self.wake.notified().await;
            // Callers woken together (by a burst of replies) queue their calls one after
            // the other: let those already runnable add theirs before writing, so that
            // one system call carries them all.
            tokio::task::yield_now().await;
            if let Err(e) = self.drain().await {
                let mut backlog = self.backlog();
                backlog.broken = true;
                backlog.chunks.clear();
                return Err(e);
            }
        }
    }

    async fn drain(&self) -> io::Result<()> {
        loop {
            let mut chunks = {
                let mut backlog = self.backlog();
                if backlog.chunks.is_empty() {
                    backlog.busy = false;
                    return Ok(());
                }
                std::mem::take(&mut backlog.chunks)
            };
            while !chunks.is_empty() {
                self.half.writable().await?;
                let slices: Vec<IoSlice<'_>> = chunks.iter().take(MAX_IOVECS).map(|c| IoSlice::new(c)).collect();
                let mut written = match self.half.try_write_vectored(&slices) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Err(e),
                };
                drop(slices);
                while written > 0 {
                    let Some(front) = chunks.front_mut() else { break };
                    let n = written.min(front.len());
                    front.advance(n);
                    written -= n;
                    if front.is_empty() {
                        chunks.pop_front();
                    }
                }
            }
        }
    }

    /// Reads, without waiting, what has already arrived while nobody was reading:
    /// replies go to `deliver`; true if the server has closed the connection.
    pub(crate) fn closed_while_idle(&self, mut deliver: impl FnMut(Bytes)) -> bool {
        let Ok(mut records) = self.records.try_lock() else { return false };
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        loop {
            match records.poll_next_unpin(&mut cx) {
                Poll::Ready(Some(Ok(record))) => deliver(record),
                Poll::Ready(Some(Err(_))) | Poll::Ready(None) => return true,
                Poll::Pending => return false,
            }
        }
    }
}
