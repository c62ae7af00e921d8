//! The client side of the request-reply protocol: `do_operation` and the typed `call`.
//!
//! A [`Client`] is one transport association with a server: a TCP or Unix connection on
//! which any number of calls are in flight at once, matched to their replies by xid
//! (pipelining), or a UDP socket on which each call is retransmitted with exponential
//! backoff until its reply or its deadline. Dropping a call's future cancels it: its
//! xid is forgotten and a late reply is discarded.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use courier::rpc::{Client, ClientConfig};
//! let client = Client::connect(&"tcp://127.0.0.1:7111".parse()?, ClientConfig::default()).await?;
//! let echoed: String = client.call(0x2043_5201, 1, 1, &"hello".to_string()).await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UdpSocket, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::codec::FramedRead;

use super::auth::OpaqueAuth;
use super::error::{CallError, ProcId};
use super::msg::{AcceptStat, CallHeader, Message, MessageError, RejectStat, ReplyBody, ReplyHeader};
use crate::transport::record::{self, RecordDecoder};
use crate::transport::{write_loop, Endpoint, Outgoing};

/// How a client behaves.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// How long a call waits for its reply, retransmissions included.
    pub timeout: Duration,
    /// UDP: the first retransmission interval; it doubles after each retransmission.
    pub retransmit: Duration,
    /// UDP: the longest retransmission interval.
    pub max_retransmit: Duration,
    /// The largest reply record accepted on a stream.
    pub max_record: usize,
    /// Stream: the largest fragment sent; longer messages are split.
    pub max_fragment: usize,
    /// UDP: the largest datagram sent or received.
    pub max_datagram: usize,
    /// The credential sent with every call (AUTH_NONE by default).
    pub credential: OpaqueAuth,
    /// What happens when a UDP request or its reply is lost.
    pub semantics: Semantics,
}

/// Invocation semantics: what a call does when a message is lost (the seeds' failure
/// model). They matter over UDP; a TCP or Unix connection delivers every message or fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Semantics {
    /// One request, never retransmitted: the procedure ran once or not at all, and the
    /// caller learns only "no reply" on timeout.
    Maybe,
    /// Retransmitted, each time as a new call: the procedure may run more than once
    /// (fine for idempotent procedures).
    AtLeastOnce,
    /// Retransmitted with the same identity, so that the server's history of replies
    /// answers a retransmission without running the procedure again.
    #[default]
    AtMostOnce,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            timeout: Duration::from_secs(25),
            retransmit: Duration::from_millis(500),
            max_retransmit: Duration::from_secs(4),
            max_record: record::DEFAULT_MAX_RECORD,
            max_fragment: record::MAX_FRAGMENT,
            max_datagram: 65_507,
            credential: OpaqueAuth::NONE,
            semantics: Semantics::AtMostOnce,
        }
    }
}

/// Options of one call, overriding the client's.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// The deadline for this call, instead of the client's timeout.
    pub timeout: Option<Duration>,
    /// The credential for this call, instead of the client's.
    pub credential: Option<OpaqueAuth>,
    /// The semantics of this call, instead of the client's.
    pub semantics: Option<Semantics>,
}

type Pending = Mutex<HashMap<u32, oneshot::Sender<Result<(ReplyHeader, Bytes), MessageError>>>>;

/// A connection (or UDP association) to one RPC server, shared by many concurrent calls.
/// Cloning is cheap and shares the connection.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    peer: String,
    config: ClientConfig,
    link: Link,
    pending: Pending,
    next_xid: AtomicU32,
    /// Set once the connection is gone: calls fail at once instead of timing out.
    closed: AtomicBool,
    tasks: Vec<JoinHandle<()>>,
}

#[derive(Debug)]
enum Link {
    Stream(mpsc::Sender<Outgoing>),
    Datagram(Arc<UdpSocket>),
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Client {
    /// Connects to `endpoint` with the given configuration.
    pub async fn connect(endpoint: &Endpoint, config: ClientConfig) -> io::Result<Client> {
        match endpoint {
            Endpoint::Tcp(addr) => Client::connect_tcp(*addr, config).await,
            Endpoint::Udp(addr) => Client::connect_udp(*addr, config).await,
            Endpoint::Unix(path) => Client::connect_unix(path, config).await,
        }
    }

    /// Connects over TCP.
    pub async fn connect_tcp(addr: SocketAddr, config: ClientConfig) -> io::Result<Client> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (r, w) = stream.into_split();
        Ok(Client::over_stream(format!("tcp://{addr}"), r, w, config))
    }

    /// Connects over a Unix stream socket.
    pub async fn connect_unix(path: &Path, config: ClientConfig) -> io::Result<Client> {
        let (r, w) = UnixStream::connect(path).await?.into_split();
        Ok(Client::over_stream(format!("unix://{}", path.display()), r, w, config))
    }

    /// Associates a UDP socket with the server at `addr` (a loopback server gets a
    /// loopback socket).
    pub async fn connect_udp(addr: SocketAddr, config: ClientConfig) -> io::Result<Client> {
        let local: SocketAddr = match (addr.ip().is_loopback(), addr) {
            (true, _) => (addr.ip(), 0).into(),
            (false, SocketAddr::V4(_)) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
            (false, SocketAddr::V6(_)) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = Arc::new(UdpSocket::bind(local).await?);
        socket.connect(addr).await?;
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<Inner>| {
            let task = tokio::spawn(receive_datagrams(weak.clone(), socket.clone(), config.max_datagram));
            Inner::new(format!("udp://{addr}"), config, Link::Datagram(socket), vec![task])
        });
        Ok(Client { inner })
    }

    fn over_stream<R, W>(peer: String, r: R, w: W, config: ClientConfig) -> Client
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(1024);
        let writer = tokio::spawn(async move {
            if let Err(e) = write_loop(w, rx).await {
                tracing::debug!(error = %e, "client connection write failed");
            }
        });
        let frames = FramedRead::new(r, RecordDecoder::new(config.max_record, record::DEFAULT_MAX_FRAGMENTS));
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<Inner>| {
            let reader = tokio::spawn(receive_records(weak.clone(), frames));
            Inner::new(peer, config, Link::Stream(tx), vec![writer, reader])
        });
        Client { inner }
    }

    /// The server this client talks to, as `tcp://…`, `udp://…` or `unix://…`.
    pub fn peer(&self) -> &str {
        &self.inner.peer
    }

    /// The client's configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The seeds' `doOperation`: sends a request with already-encoded arguments and
    /// waits for the reply; returns the encoded results of a successful call, or the
    /// status the server answered with.
    pub async fn do_operation(&self, call: ProcId, args: Bytes, opts: &CallOptions) -> Result<Bytes, CallError> {
        self.inner.clone().exchange(call, opts, |_| Ok(()), args).await
    }

    /// Calls a procedure with typed arguments and results, encoding the arguments once,
    /// straight into the message buffer.
    pub async fn call<A, R>(&self, prog: u32, vers: u32, proc: u32, args: &A) -> Result<R, CallError>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.call_with(ProcId { prog, vers, proc }, args, &CallOptions::default()).await
    }

    /// [`Client::call`] with per-call options.
    pub async fn call_with<A, R>(&self, call: ProcId, args: &A, opts: &CallOptions) -> Result<R, CallError>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let encode = |buf: &mut BytesMut| courier_xdr::serialize_into(buf, args);
        let results = self.inner.clone().exchange(call, opts, encode, Bytes::new()).await?;
        courier_xdr::from_bytes(results).map_err(|source| CallError::Decode {
            peer: self.inner.peer.clone(),
            call,
            source,
        })
    }

    /// Calls procedure 0 (NULL) of a program version: the classic "ping".
    pub async fn null(&self, prog: u32, vers: u32) -> Result<(), CallError> {
        self.call(prog, vers, 0, &()).await
    }
}

impl Inner {
    fn new(peer: String, config: ClientConfig, link: Link, tasks: Vec<JoinHandle<()>>) -> Inner {
        // Start xids somewhere different per client so that a restarted client's calls
        // are not mistaken for retransmissions of its predecessor's.
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        Inner {
            peer,
            config,
            link,
            pending: Mutex::new(HashMap::new()),
            next_xid: AtomicU32::new(seed),
            closed: AtomicBool::new(false),
            tasks,
        }
    }

    /// Builds the message (header, then whatever `encode` appends, then `body`), sends
    /// it, and waits for the matching reply.
    async fn exchange(
        self: Arc<Self>,
        call: ProcId,
        opts: &CallOptions,
        encode: impl FnOnce(&mut BytesMut) -> courier_xdr::Result<()>,
        body: Bytes,
    ) -> Result<Bytes, CallError> {
        let xid = self.next_xid.fetch_add(1, Ordering::Relaxed);
        let cred = opts.credential.clone().unwrap_or_else(|| self.config.credential.clone());
        let header =
            CallHeader { xid, prog: call.prog, vers: call.vers, proc: call.proc, cred, verf: OpaqueAuth::NONE };
        let mut head = BytesMut::with_capacity(128);
        let stream = matches!(self.link, Link::Stream(_));
        let start = if stream { Some(record::begin_record(&mut head)) } else { None };
        header.encode(&mut head);
        encode(&mut head).map_err(|source| CallError::Encode { call, source })?;
        let timeout = opts.timeout.unwrap_or(self.config.timeout);
        let deadline = Instant::now() + timeout;

        let (tx, mut rx) = oneshot::channel();
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).insert(xid, tx);
        let forget = Forget { inner: &self, xid: std::cell::Cell::new(xid) };
        let closed = || CallError::Closed { peer: self.peer.clone(), call };
        if self.closed.load(Ordering::Acquire) {
            return Err(closed());
        }
        let timed_out = || CallError::Timeout { peer: self.peer.clone(), call, timeout };

        let reply = match &self.link {
            Link::Stream(tx) => {
                let len = head.len() + body.len() - record::HEADER;
                if len > self.config.max_record {
                    return Err(CallError::TooLarge { call, len, max: self.config.max_record });
                }
                let msg = frame(head, body, start.unwrap_or(0), self.config.max_fragment);
                tx.send(msg).await.map_err(|_| closed())?;
                tokio::time::timeout_at(deadline.into(), rx).await.map_err(|_| timed_out())?.map_err(|_| closed())?
            }
            Link::Datagram(socket) => {
                let mut datagram = head;
                datagram.extend_from_slice(&body);
                if datagram.len() > self.config.max_datagram {
                    return Err(CallError::TooLarge { call, len: datagram.len(), max: self.config.max_datagram });
                }
                let semantics = opts.semantics.unwrap_or(self.config.semantics);
                let mut interval = self.config.retransmit;
                loop {
                    if let Err(source) = socket.send(&datagram).await {
                        return Err(CallError::Io { peer: self.peer.clone(), call, source });
                    }
                    // Maybe: one request, then wait for its reply until the deadline.
                    let wait = if semantics == Semantics::Maybe {
                        deadline
                    } else {
                        (Instant::now() + interval).min(deadline)
                    };
                    match tokio::time::timeout_at(wait.into(), &mut rx).await {
                        Ok(reply) => break reply.map_err(|_| closed())?,
                        Err(_) if Instant::now() >= deadline => return Err(timed_out()),
                        Err(_) => interval = (interval * 2).min(self.config.max_retransmit),
                    }
                    if semantics == Semantics::AtLeastOnce {
                        // A new identity, so the server's history of replies does not
                        // recognise the retransmission: it executes the call again.
                        let fresh = self.next_xid.fetch_add(1, Ordering::Relaxed);
                        self.rekey(forget.xid.replace(fresh), fresh);
                        datagram[..4].copy_from_slice(&fresh.to_be_bytes());
                    }
                }
            }
        };
        let (header, results) =
            reply.map_err(|source| CallError::BadReply { peer: self.peer.clone(), call, source })?;
        interpret(&self.peer, call, header, results)
    }

    fn deliver(&self, record: Bytes) {
        let (xid, reply) = match Message::decode(record) {
            Ok(Message::Reply { header, results }) => (header.xid, Ok((header, results))),
            Ok(Message::Call { header, .. }) => {
                tracing::debug!(peer = %self.peer, xid = header.xid, "ignoring a call received by a client");
                return;
            }
            Err(e @ MessageError::Malformed { xid, .. }) => (xid, Err(e)),
            Err(e) => {
                tracing::debug!(peer = %self.peer, error = %e, "ignoring an undecodable reply");
                return;
            }
        };
        let waiter = self.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&xid);
        match waiter {
            Some(waiter) => {
                let _ = waiter.send(reply);
            }
            None => tracing::trace!(peer = %self.peer, xid, "reply to no pending call (late or duplicate)"),
        }
    }

    /// Moves a pending call from one xid to another.
    fn rekey(&self, old: u32, new: u32) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(waiter) = pending.remove(&old) {
            pending.insert(new, waiter);
        }
    }

    fn fail_all(&self) {
        self.closed.store(true, Ordering::Release);
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Removes a call's entry from the pending table when the call ends or is cancelled.
struct Forget<'a> {
    inner: &'a Inner,
    /// The call's current xid (at-least-once calls change it on retransmission).
    xid: std::cell::Cell<u32>,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.inner.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.xid.get());
    }
}

/// Completes the record header of a stream message, keeping a separately encoded body
/// out of the head unless the message must be split into several fragments.
fn frame(mut head: BytesMut, body: Bytes, start: usize, max_fragment: usize) -> Outgoing {
    let len = head.len() - start - record::HEADER + body.len();
    if len <= max_fragment.min(record::MAX_FRAGMENT) {
        record::patch_header(&mut head, start, len);
        return Outgoing { head: head.freeze(), body };
    }
    head.extend_from_slice(&body);
    record::finish_record(&mut head, start, max_fragment);
    Outgoing { head: head.freeze(), body: Bytes::new() }
}

/// Turns a reply into the caller's result.
fn interpret(peer: &str, call: ProcId, header: ReplyHeader, results: Bytes) -> Result<Bytes, CallError> {
    let peer = peer.to_owned();
    match header.body {
        ReplyBody::Accepted { stat, .. } => match stat {
            AcceptStat::Success => Ok(results),
            AcceptStat::ProgUnavail => Err(CallError::ProgUnavail { peer, call }),
            AcceptStat::ProgMismatch { low, high } => Err(CallError::ProgMismatch { peer, call, low, high }),
            AcceptStat::ProcUnavail => Err(CallError::ProcUnavail { peer, call }),
            AcceptStat::GarbageArgs => Err(CallError::GarbageArgs { peer, call }),
            AcceptStat::SystemErr => Err(CallError::SystemErr { peer, call }),
        },
        ReplyBody::Denied(RejectStat::RpcMismatch { low, high }) => Err(CallError::RpcMismatch { peer, low, high }),
        ReplyBody::Denied(RejectStat::AuthError(stat)) => Err(CallError::Auth { peer, call, stat }),
    }
}

async fn receive_records<R: AsyncRead + Unpin>(
    inner: std::sync::Weak<Inner>,
    mut frames: FramedRead<R, RecordDecoder>,
) {
    while let Some(next) = frames.next().await {
        let Some(inner) = inner.upgrade() else { return };
        match next {
            Ok(record) => inner.deliver(record),
            Err(e) => {
                tracing::debug!(peer = %inner.peer, error = %e, "client connection failed");
                break;
            }
        }
    }
    if let Some(inner) = inner.upgrade() {
        inner.fail_all();
    }
}

async fn receive_datagrams(inner: std::sync::Weak<Inner>, socket: Arc<UdpSocket>, max: usize) {
    let mut buf = vec![0u8; max + 1];
    loop {
        let received = socket.recv(&mut buf).await;
        let Some(inner) = inner.upgrade() else { return };
        match received {
            Ok(n) if n <= max => inner.deliver(Bytes::copy_from_slice(&buf[..n])),
            Ok(n) => tracing::debug!(peer = %inner.peer, len = n, "dropping an oversized datagram"),
            // An ICMP "port unreachable" surfaces here on a connected socket; the call
            // keeps retransmitting until its deadline, as libtirpc's does.
            Err(e) => tracing::debug!(peer = %inner.peer, error = %e, "datagram receive failed"),
        }
    }
}
