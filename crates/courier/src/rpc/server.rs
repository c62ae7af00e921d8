//! The server side of the request-reply protocol: `get_request`, `send_reply`, and the
//! dispatcher built on them.
//!
//! The seed's two server operations are here under their own names. A
//! [`StreamEndpoint`] (one TCP or Unix connection) or a [`DatagramEndpoint`] (one UDP
//! socket) yields decoded calls from [`get_request`](StreamEndpoint::get_request); each
//! [`Request`] is answered once with [`Request::send_reply`]. Protocol errors are
//! answered there and then, as RFC 5531 asks: a call with RPC version other than 2
//! gets RPC_MISMATCH, an undecodable credential gets AUTH_ERROR. A stream that breaks
//! record marking (an oversized record, a flood of fragments, a record left half-sent
//! past the record timeout) is closed; it never holds up another client, because every
//! connection is served by its own task.
//!
//! A [`Server`] is the registry of [`Service`]s by (program, version) plus the serving
//! loops: for each request it answers NULL (procedure 0) for every registered version,
//! PROG_UNAVAIL and PROG_MISMATCH (with the lowest and highest registered versions) for
//! the rest, and hands anything else to the service, one task per call, with at most
//! [`ServerConfig::max_in_flight`] calls in progress per connection.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket, UnixListener};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::codec::Decoder;

use super::auth::{Credentials, OpaqueAuth};
use super::msg::{
    AcceptStat, AuthStat, CallHeader, Message, MessageError, RejectStat, ReplyBody, ReplyHeader, RPC_VERSION,
};
use super::reply_cache::{CallKey, Limits, Lookup, ReplyCache, SlotTable};
use super::session::{CallStamp, ReplyStamp, NO_SLOT};
use crate::sync::lock;
use crate::transport::record::{self, RecordDecoder, RecordError};
use crate::transport::{write_loop, Endpoint, Outgoing, Peer};

/// A boxed future, as services return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a procedure answers: encoded results, or the status that explains why not.
pub type Outcome = Result<Bytes, Fault>;

/// A reply other than SUCCESS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// PROG_UNAVAIL.
    ProgUnavail,
    /// PROG_MISMATCH with the versions served.
    ProgMismatch {
        /// The lowest version served.
        low: u32,
        /// The highest version served.
        high: u32,
    },
    /// PROC_UNAVAIL.
    ProcUnavail,
    /// GARBAGE_ARGS: the arguments did not decode.
    GarbageArgs,
    /// SYSTEM_ERR.
    SystemErr,
    /// AUTH_ERROR: the credentials are refused.
    Auth(AuthStat),
    /// No reply at all: the caller times out. For calls where only success answers, like
    /// the binder's CALLIT (broadcast RPC).
    Silent,
}

impl Fault {
    /// The reply for this fault, with `verf` if it is accepted; `None` for
    /// [`Fault::Silent`].
    fn reply_body(self, verf: OpaqueAuth) -> Option<ReplyBody> {
        let accepted = |stat| accepted(verf, stat);
        Some(match self {
            Fault::ProgUnavail => accepted(AcceptStat::ProgUnavail),
            Fault::ProgMismatch { low, high } => accepted(AcceptStat::ProgMismatch { low, high }),
            Fault::ProcUnavail => accepted(AcceptStat::ProcUnavail),
            Fault::GarbageArgs => accepted(AcceptStat::GarbageArgs),
            Fault::SystemErr => accepted(AcceptStat::SystemErr),
            Fault::Auth(stat) => ReplyBody::Denied(RejectStat::AuthError(stat)),
            Fault::Silent => return None,
        })
    }
}

/// A decoded call: what a procedure needs to know about its invocation.
#[derive(Debug, Clone)]
pub struct Call {
    /// The call header (xid, program, version, procedure, credential, verifier).
    pub header: CallHeader,
    /// The encoded arguments, a slice of the received message.
    pub args: Bytes,
    /// The caller's credentials, decoded.
    pub credentials: Credentials,
    /// Who called.
    pub peer: Peer,
    /// The session stamp of a courier client: its id, slot and sequence number.
    pub session: Option<CallStamp>,
    /// When the caller stops waiting for the reply, if it said (courier clients do).
    /// The server cancels the procedure then; a long procedure can check it to give up
    /// early or to pass the remaining time on to the calls it makes.
    pub deadline: Option<std::time::Instant>,
    /// See [`Call::alone`].
    alone: bool,
}

impl Call {
    /// The time left before the caller gives up, if it gave a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()))
    }

    /// Whether the call came alone on its stream connection: when the server read it,
    /// nothing else from that connection had been received (read, or waiting in the
    /// socket), was running, or waited to be written. A snapshot of that moment: calls
    /// may come after it. A procedure that must wait a short while for something
    /// outside the runtime (a disk sync) may then do so on the connection's own task —
    /// the connection has nothing else to do; a call that comes meanwhile is read once
    /// it is over — instead of taking a task of its own, which costs hand-offs between
    /// threads. Always false for datagrams (one socket serves every client) and for
    /// calls taken with [`StreamEndpoint::get_request`].
    pub fn alone(&self) -> bool {
        self.alone
    }

    /// Decodes the arguments as `T`; anything undecodable, or bytes left over, is
    /// GARBAGE_ARGS.
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, Fault> {
        courier_xdr::from_bytes(self.args.clone()).map_err(|e| {
            tracing::debug!(xid = self.header.xid, peer = %self.peer, error = %e, "garbage arguments");
            Fault::GarbageArgs
        })
    }
}

/// Encodes results for an [`Outcome`]; a value that cannot be encoded is SYSTEM_ERR.
pub fn encode_results<R: Serialize + ?Sized>(results: &R) -> Outcome {
    courier_xdr::to_bytes(results).map_err(|e| {
        tracing::warn!(error = %e, "cannot encode results");
        Fault::SystemErr
    })
}

/// A program version's procedures. Generated code implements it with a `match` on the
/// procedure number; [`Procedures`] builds one from closures.
pub trait Service: Send + Sync + 'static {
    /// Runs procedure `call.header.proc` (never 0: the server answers NULL itself).
    fn call(&self, call: Call) -> BoxFuture<Outcome>;

    /// Sees a NULL call before the server answers it (a binder counts them, say).
    fn saw_null(&self, _call: &Call) {}
}

/// A service that knows which program version it is (generated dispatchers do), so
/// that [`ServerBuilder::add_service`] can register it without being told.
pub trait ProgramVersion {
    /// The program number.
    const PROGRAM: u32;
    /// The version number.
    const VERSION: u32;
}

type Handler = Box<dyn Fn(Call) -> BoxFuture<Outcome> + Send + Sync>;

/// A [`Service`] made of one closure per procedure.
///
/// ```
/// use courier::rpc::Procedures;
/// let echo = Procedures::new()
///     .typed(1, |s: String| async move { s })
///     .typed(2, |(a, b): (i32, i32)| async move { a + b });
/// ```
#[derive(Default)]
pub struct Procedures {
    handlers: HashMap<u32, Handler>,
}

impl Procedures {
    /// No procedures yet.
    pub fn new() -> Self {
        Procedures::default()
    }

    /// Adds procedure `proc`, which sees the whole [`Call`] and answers an [`Outcome`].
    pub fn raw<F, Fut>(mut self, proc: u32, f: F) -> Self
    where
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        self.handlers.insert(proc, Box::new(move |call| Box::pin(f(call))));
        self
    }

    /// Adds procedure `proc` with typed arguments and results.
    pub fn typed<A, R, F, Fut>(self, proc: u32, f: F) -> Self
    where
        A: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        self.typed_call(proc, move |_, args| f(args))
    }

    /// Adds procedure `proc` with typed arguments and results whose handler also sees
    /// the [`Call`] (its caller's deadline, its peer).
    pub fn typed_call<A, R, F, Fut>(self, proc: u32, f: F) -> Self
    where
        A: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(Call, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        let f = Arc::new(f);
        self.raw(proc, move |call: Call| {
            let f = f.clone();
            async move {
                let args = call.args::<A>()?;
                encode_results(&f(call, args).await)
            }
        })
    }
}

impl Service for Procedures {
    fn call(&self, call: Call) -> BoxFuture<Outcome> {
        match self.handlers.get(&call.header.proc) {
            Some(handler) => handler(call),
            None => Box::pin(async { Err(Fault::ProcUnavail) }),
        }
    }
}

/// Limits and timeouts of a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The largest record accepted on a stream.
    pub max_record: usize,
    /// The most fragments in one record.
    pub max_fragments: u32,
    /// The largest fragment sent; longer replies are split.
    pub max_fragment: usize,
    /// The largest datagram received or sent.
    pub max_datagram: usize,
    /// How long a client may take to send a whole record once it has started one.
    pub record_timeout: Duration,
    /// The most calls in progress at once per connection (or per UDP socket); past it
    /// the server stops reading from that client until a reply goes out.
    pub max_in_flight: usize,
    /// How many replies each history of replies keeps, so that a retransmitted call is
    /// answered again instead of executed again (at-most-once): the sessions' slots (any
    /// transport) and, for plain clients over UDP, the classic per-xid history. 0 turns
    /// both off.
    pub reply_cache: usize,
    /// The most bytes of replies each history keeps.
    pub reply_cache_bytes: usize,
    /// How long an unused entry stays in a history.
    pub reply_cache_ttl: Duration,
    /// How calls share the server: one at a time, concurrently, or on a thread pool.
    pub model: ServerModel,
}

/// How a server runs its calls — the seeds' iterative and concurrent servers, and a
/// thread pool for procedures that block. The service code is the same under each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerModel {
    /// One call at a time, across all clients, in the order they were read: a client's
    /// calls are answered in order.
    Iterative,
    /// Each call in a task of its own, at most `limit` at once across all clients; past
    /// it the server stops reading requests until one finishes (back-pressure).
    Concurrent {
        /// The most calls running at once.
        limit: usize,
    },
    /// Each call on a pool of `threads` threads where a procedure may block (on a lock,
    /// a file, a C library) without stalling the server's other work.
    ThreadPool {
        /// The threads, which is also the most calls running at once.
        threads: usize,
    },
}

impl ServerModel {
    /// How many calls may run at once.
    fn limit(self) -> usize {
        match self {
            ServerModel::Iterative => 1,
            ServerModel::Concurrent { limit } => limit.max(1),
            ServerModel::ThreadPool { threads } => threads.max(1),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_record: record::DEFAULT_MAX_RECORD,
            max_fragments: record::DEFAULT_MAX_FRAGMENTS,
            max_fragment: record::MAX_FRAGMENT,
            max_datagram: 65_507,
            record_timeout: Duration::from_secs(30),
            max_in_flight: 128,
            reply_cache: 4096,
            reply_cache_bytes: 64 << 20,
            reply_cache_ttl: Duration::from_secs(120),
            model: ServerModel::Concurrent { limit: 1024 },
        }
    }
}

/// Where a reply goes.
#[derive(Debug, Clone)]
enum ReplyTo {
    Stream { tx: mpsc::Sender<Outgoing>, max_fragment: usize },
    Datagram { socket: Arc<UdpSocket>, to: SocketAddr },
}

impl ReplyTo {
    /// Encodes and sends a reply. A client that has gone away loses its reply, nothing
    /// else.
    ///
    /// Almost always there is room at once: a served connection takes no more calls
    /// than its queue has room for replies (only duplicates' replies come beyond), and a
    /// socket is mostly writable. Only the rare wait is a future of its own (boxed), so
    /// that the future of every reply, which moves whole into a task, stays small.
    async fn send(&self, header: ReplyHeader, results: Bytes) {
        match self {
            ReplyTo::Stream { tx, max_fragment } => {
                let message = stream_message(&header, results, *max_fragment);
                if let Err(mpsc::error::TrySendError::Full(message)) = tx.try_send(message) {
                    let _ = tx.send(message).boxed().await;
                }
            }
            ReplyTo::Datagram { socket, to } => {
                let mut buf = BytesMut::with_capacity(64 + results.len());
                header.encode(&mut buf);
                buf.extend_from_slice(&results);
                let sent = match socket.try_send_to(&buf, *to) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => socket.send_to(&buf, to).boxed().await,
                    sent => sent,
                };
                if let Err(e) = sent {
                    tracing::debug!(peer = %to, error = %e, "reply datagram not sent");
                }
            }
        }
    }
}

/// A reply as a record for a stream: the header encoded, the results kept apart (not
/// copied) unless the record must be split into fragments.
fn stream_message(header: &ReplyHeader, results: Bytes, max_fragment: usize) -> Outgoing {
    let mut head = BytesMut::with_capacity(64);
    let start = record::begin_record(&mut head);
    header.encode(&mut head);
    let len = head.len() - record::HEADER + results.len();
    if len <= max_fragment.min(record::MAX_FRAGMENT) {
        record::patch_header(&mut head, start, len);
        return Outgoing { head: head.freeze(), body: results };
    }
    head.extend_from_slice(&results);
    record::finish_record(&mut head, start, max_fragment);
    Outgoing { head: head.freeze(), body: Bytes::new() }
}

/// A call received by `get_request`, to be answered once with `send_reply`.
#[derive(Debug)]
pub struct Request {
    /// The call.
    pub call: Call,
    responder: Responder,
}

impl Request {
    /// The seed's `sendReply`: answers the call with its outcome.
    pub async fn send_reply(self, outcome: Outcome) {
        self.responder.send(self.call.header.xid, outcome).await;
    }

    /// Puts the request back together (the inverse of [`Request::into_parts`]).
    fn from_parts(call: Call, responder: Responder) -> Self {
        Request { call, responder }
    }

    /// Separates the call from the means to answer it, so that the call can move into a
    /// procedure while the reply waits.
    pub fn into_parts(self) -> (Call, Responder) {
        (self.call, self.responder)
    }
}

/// Answers one call: the other half of a [`Request`].
#[derive(Debug)]
pub struct Responder {
    to: ReplyTo,
    /// The verifier of an accepted reply.
    verf: OpaqueAuth,
}

impl Responder {
    /// Sends the reply to call `xid`.
    pub async fn send(self, xid: u32, outcome: Outcome) {
        if let Some((header, results)) = reply(self.verf, xid, outcome) {
            self.to.send(header, results).await;
        }
    }
}

/// The reply to call `xid`; `None` when the outcome is to answer nothing.
fn reply(verf: OpaqueAuth, xid: u32, outcome: Outcome) -> Option<(ReplyHeader, Bytes)> {
    Some(match outcome {
        Ok(results) => (ReplyHeader { xid, body: accepted(verf, AcceptStat::Success) }, results),
        Err(fault) => (ReplyHeader { xid, body: fault.reply_body(verf)? }, Bytes::new()),
    })
}

/// A call that has its outcome and still holds its places (in its connection's calls in
/// flight, in the server's running calls) until the reply is sent.
struct Finished {
    responder: Responder,
    xid: u32,
    outcome: Outcome,
    _places: (tokio::sync::OwnedSemaphorePermit, Option<tokio::sync::OwnedSemaphorePermit>),
}

impl Finished {
    async fn send(self) {
        self.responder.send(self.xid, self.outcome).await;
    }

    /// The reply, for whoever writes it itself.
    fn reply(self) -> Option<(ReplyHeader, Bytes)> {
        reply(self.responder.verf, self.xid, self.outcome)
    }
}

fn accepted(verf: OpaqueAuth, stat: AcceptStat) -> ReplyBody {
    ReplyBody::Accepted { verf, stat }
}

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The peer broke record marking.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The peer started a record and did not finish it in time.
    #[error("record not completed within {0:?}")]
    RecordTimeout(Duration),
    /// The peer closed the connection in the middle of a record.
    #[error("connection closed in the middle of a record")]
    Truncated,
    /// The peer sent something that is not an RPC call.
    #[error(transparent)]
    Message(#[from] MessageError),
}

/// Turns a received message into a request, or answers a protocol error itself.
/// `Ok(None)`: the message was dealt with (or ignored); `Err`: the peer is broken.
async fn accept_message(msg: Bytes, peer: &Peer, reply_to: &ReplyTo) -> Result<Option<Request>, MessageError> {
    match Message::decode(msg) {
        Ok(Message::Call { header, args }) => {
            let refuse = |stat| ReplyHeader { xid: header.xid, body: ReplyBody::Denied(RejectStat::AuthError(stat)) };
            let credentials = match Credentials::from_opaque(&header.cred) {
                Ok(credentials) => credentials,
                Err(e) => {
                    tracing::debug!(%peer, xid = header.xid, error = %e, "undecodable AUTH_SYS credential");
                    reply_to.send(refuse(AuthStat::BadCred), Bytes::new()).await;
                    return Ok(None);
                }
            };
            let session = match CallStamp::from_verifier(&header.verf) {
                Ok(session) => session,
                Err(e) => {
                    tracing::debug!(%peer, xid = header.xid, error = %e, "undecodable session verifier");
                    reply_to.send(refuse(AuthStat::BadVerf), Bytes::new()).await;
                    return Ok(None);
                }
            };
            let deadline = session.and_then(|s| s.deadline()).map(|left| std::time::Instant::now() + left);
            let call = Call { header, args, credentials, peer: peer.clone(), session, deadline, alone: false };
            Ok(Some(Request { call, responder: Responder { to: reply_to.clone(), verf: OpaqueAuth::NONE } }))
        }
        Ok(Message::Reply { header, .. }) => {
            tracing::debug!(%peer, xid = header.xid, "ignoring a reply sent to a server");
            Ok(None)
        }
        // RFC 5531 §9: a call with the wrong RPC version is answered RPC_MISMATCH.
        Err(MessageError::RpcVersion { xid, version }) => {
            tracing::debug!(%peer, xid, version, "RPC version mismatch");
            let body = ReplyBody::Denied(RejectStat::RpcMismatch { low: RPC_VERSION, high: RPC_VERSION });
            reply_to.send(ReplyHeader { xid, body }, Bytes::new()).await;
            Ok(None)
        }
        Err(MessageError::BadAuth { xid, source }) => {
            tracing::debug!(%peer, xid, error = %source, "malformed credential");
            let body = ReplyBody::Denied(RejectStat::AuthError(AuthStat::BadCred));
            reply_to.send(ReplyHeader { xid, body }, Bytes::new()).await;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// One stream connection (TCP or Unix) seen from the server: a source of requests.
pub struct StreamEndpoint<R> {
    read: R,
    buf: BytesMut,
    decoder: RecordDecoder,
    /// When the record being received must be complete.
    deadline: Option<Instant>,
    peer: Peer,
    reply_to: ReplyTo,
    record_timeout: Duration,
}

impl<R: AsyncRead + Unpin> StreamEndpoint<R> {
    /// Serves RPC on a stream split into its read and write halves.
    pub fn new<W>(read: R, write: W, peer: Peer, config: &ServerConfig) -> Self
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(config.max_in_flight.max(1));
        // The writer ends once the endpoint and every call's responder are gone.
        tokio::spawn({
            let peer = peer.clone();
            async move {
                if let Err(e) = write_loop(write, rx).await {
                    tracing::debug!(%peer, error = %e, "connection write failed");
                }
            }
        });
        StreamEndpoint::reading(read, peer, config, tx)
    }

    /// An endpoint whose replies go to `tx`, for a caller that writes them itself.
    fn reading(read: R, peer: Peer, config: &ServerConfig, tx: mpsc::Sender<Outgoing>) -> Self {
        StreamEndpoint {
            read,
            buf: BytesMut::with_capacity(64 * 1024),
            decoder: RecordDecoder::new(config.max_record, config.max_fragments),
            deadline: None,
            peer,
            reply_to: ReplyTo::Stream { tx, max_fragment: config.max_fragment },
            record_timeout: config.record_timeout,
        }
    }

    /// The client at the other end.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// The seed's `getRequest`: waits for the next call. `Ok(None)` when the client
    /// closed the connection; an error when it broke the protocol (the connection is
    /// then unusable and should be dropped).
    pub async fn get_request(&mut self) -> Result<Option<Request>, ConnectionError> {
        loop {
            let Some(record) = self.next_record().await? else { return Ok(None) };
            if let Some(request) = accept_message(record, &self.peer, &self.reply_to).await? {
                return Ok(Some(request));
            }
        }
    }

    /// The next whole record. Once a record has begun, all of it must arrive within
    /// the record timeout, however slowly its bytes trickle in.
    async fn next_record(&mut self) -> Result<Option<Bytes>, ConnectionError> {
        loop {
            if let Some(record) = self.buffered()? {
                return Ok(Some(record));
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// A whole record already received, if there is one.
    fn buffered(&mut self) -> Result<Option<Bytes>, ConnectionError> {
        let record = self.decoder.decode(&mut self.buf)?;
        if record.is_some() {
            self.deadline = None;
        }
        Ok(record)
    }

    /// Whether the client has sent more than what was read: reads it into the buffer
    /// if so, without waiting. (A connection closed or broken meanwhile is left for the
    /// next read to find; the task's next wait for bytes registers it to be woken.)
    fn received_more(&mut self) -> bool {
        matches!(self.fill().now_or_never(), Some(Ok(true)))
    }

    /// Reads what the client has sent; false once it closed the connection between
    /// records. Cancel-safe: what was read stays in the buffer.
    async fn fill(&mut self) -> Result<bool, ConnectionError> {
        let read = if self.decoder.in_record() || !self.buf.is_empty() {
            let deadline = *self.deadline.get_or_insert_with(|| Instant::now() + self.record_timeout);
            tokio::time::timeout_at(deadline, self.read.read_buf(&mut self.buf))
                .await
                .map_err(|_| ConnectionError::RecordTimeout(self.record_timeout))?
        } else {
            self.read.read_buf(&mut self.buf).await
        };
        if read.map_err(RecordError::Io)? > 0 {
            return Ok(true);
        }
        match self.decoder.in_record() || !self.buf.is_empty() {
            true => Err(ConnectionError::Truncated),
            false => Ok(false),
        }
    }
}

/// A UDP socket seen from the server: a source of requests from any client.
pub struct DatagramEndpoint {
    socket: Arc<UdpSocket>,
    buf: Vec<u8>,
    max_datagram: usize,
}

impl DatagramEndpoint {
    /// Serves RPC on a bound UDP socket.
    pub fn new(socket: UdpSocket, config: &ServerConfig) -> Self {
        DatagramEndpoint {
            socket: Arc::new(socket),
            buf: vec![0; config.max_datagram + 1],
            max_datagram: config.max_datagram,
        }
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The seed's `getRequest`: waits for the next call from any client. Malformed and
    /// oversized datagrams are dropped (or answered, when RFC 5531 says so).
    pub async fn get_request(&mut self) -> io::Result<Request> {
        loop {
            let (n, from) = self.socket.recv_from(&mut self.buf).await?;
            if n > self.max_datagram {
                tracing::debug!(peer = %from, "dropping an oversized datagram");
                continue;
            }
            let reply_to = ReplyTo::Datagram { socket: self.socket.clone(), to: from };
            let msg = Bytes::copy_from_slice(&self.buf[..n]);
            match accept_message(msg, &Peer::Udp(from), &reply_to).await {
                Ok(Some(request)) => return Ok(request),
                Ok(None) => {}
                Err(e) => tracing::debug!(peer = %from, error = %e, "dropping a malformed datagram"),
            }
        }
    }
}

/// The services registered, by program and then version (in order, for PROG_MISMATCH).
type Programs = HashMap<u32, BTreeMap<u32, Arc<dyn Service>>>;

/// The registry of services and the loops that serve them.
#[derive(Clone)]
pub struct Server {
    programs: Arc<Programs>,
    config: Arc<ServerConfig>,
    /// Calls running now, across all clients, bounded by the model.
    running: Arc<Semaphore>,
    /// This server's incarnation, named in the replies to courier clients.
    incarnation: u64,
    /// The sessions' history of replies, shared by all endpoints so that a call
    /// retransmitted on a new connection is recognised.
    sessions: Option<Arc<Mutex<SlotTable<Waiter>>>>,
}

/// A duplicate waiting for the first call's reply: where to send it, and its xid.
type Waiter = (Responder, u32);

/// The history a call's outcome goes into.
enum History {
    /// The classic per-xid history of a UDP socket.
    Classic(Arc<Mutex<ReplyCache<Waiter>>>, CallKey),
    /// The sessions' slots: client, slot, sequence number.
    Slot(Arc<Mutex<SlotTable<Waiter>>>, u64, u32, u32),
}

impl History {
    /// Records the outcome; returns the duplicates waiting for it.
    fn complete(self, outcome: &Outcome) -> Vec<Waiter> {
        match self {
            History::Classic(cache, key) => lock(&cache).complete(&key, outcome.clone()),
            History::Slot(table, client, slot, seq) => lock(&table).complete(client, slot, seq, outcome.clone()),
        }
    }
}

/// Builds a [`Server`]: register services, then [`ServerBuilder::build`].
#[derive(Default)]
pub struct ServerBuilder {
    programs: Programs,
    config: ServerConfig,
}

impl ServerBuilder {
    /// Serves `service` as version `vers` of program `prog`, replacing any before it.
    pub fn register(mut self, prog: u32, vers: u32, service: impl Service) -> Self {
        self.programs.entry(prog).or_default().insert(vers, Arc::new(service));
        self
    }

    /// Serves a service that knows its program and version (a generated dispatcher).
    pub fn add_service<S: Service + ProgramVersion>(self, service: S) -> Self {
        self.register(S::PROGRAM, S::VERSION, service)
    }

    /// Uses these limits and timeouts.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// The server.
    pub fn build(self) -> Server {
        let running = Arc::new(Semaphore::new(self.config.model.limit()));
        let sessions =
            (self.config.reply_cache > 0).then(|| Arc::new(Mutex::new(SlotTable::new(history_limits(&self.config)))));
        Server {
            programs: Arc::new(self.programs),
            config: Arc::new(self.config),
            running,
            incarnation: super::session::random_id(),
            sessions,
        }
    }
}

/// A listening endpoint of a running server; dropping it stops accepting.
#[derive(Debug)]
pub struct Listening {
    endpoint: Endpoint,
    task: JoinHandle<()>,
}

impl Listening {
    /// Where it listens, with the port actually bound.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// A builder.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The server's limits and timeouts.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The (program, version) pairs served, in order.
    pub fn registrations(&self) -> Vec<(u32, u32)> {
        let mut all: Vec<_> =
            self.programs.iter().flat_map(|(p, versions)| versions.keys().map(move |v| (*p, *v))).collect();
        all.sort_unstable();
        all
    }

    /// Answers one call: NULL for every registered version, PROG_UNAVAIL and
    /// PROG_MISMATCH from the registry, anything else from the service.
    pub async fn dispatch(&self, call: Call) -> Outcome {
        let Some(versions) = self.programs.get(&call.header.prog) else { return Err(Fault::ProgUnavail) };
        let Some(service) = versions.get(&call.header.vers) else {
            let low = versions.keys().next().copied().unwrap_or(0);
            let high = versions.keys().next_back().copied().unwrap_or(0);
            return Err(Fault::ProgMismatch { low, high });
        };
        if call.header.proc == 0 {
            service.saw_null(&call);
            return Ok(Bytes::new());
        }
        service.call(call).await
    }

    /// This server's incarnation: random, fixed for its life. Courier clients stamp
    /// their calls with it, so a call retransmitted to a restarted server is refused
    /// instead of executed again.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// How many replies the sessions' next calls have acknowledged and released (RRA).
    pub fn released_replies(&self) -> u64 {
        self.sessions.as_ref().map_or(0, |table| lock(table).released())
    }

    /// How many replies the sessions' history holds now.
    pub fn session_replies(&self) -> usize {
        self.sessions.as_ref().map_or(0, |table| lock(table).len())
    }

    /// Filters a request through the histories of replies, then runs it: a duplicate is
    /// answered from the history, or waits for the first call's outcome; a call stamped
    /// for another incarnation of this server is refused.
    async fn admit(
        &self,
        mut request: Request,
        permit: tokio::sync::OwnedSemaphorePermit,
        classic: Option<&Arc<Mutex<ReplyCache<Waiter>>>>,
    ) -> Option<Finished> {
        let xid = request.call.header.xid;
        let now = std::time::Instant::now();
        if let Some(stamp) = request.call.session {
            request.responder.verf = ReplyStamp { incarnation: self.incarnation }.to_verifier();
            if stamp.incarnation != 0 && stamp.incarnation != self.incarnation {
                tracing::debug!(peer = %request.call.peer, xid, "call stamped for an earlier incarnation refused");
                let (_, responder) = request.into_parts();
                let outcome = Err(Fault::Auth(AuthStat::RejectedVerf));
                return Some(Finished { responder, xid, outcome, _places: (permit, None) });
            }
        }
        // A call with a slot goes through the session's history; any other call over
        // UDP through the classic one, which also catches the network's duplicates of
        // maybe and at-least-once calls.
        let slot = request.call.session.filter(|stamp| stamp.slot != NO_SLOT);
        let lookup = match (slot, &self.sessions, classic, &request.call.peer) {
            (Some(stamp), Some(table), _, _) => {
                let (call, responder) = request.into_parts();
                let found = lock(table).begin(stamp.client, stamp.slot, stamp.seq, now, (responder, xid));
                Ok((found, call, History::Slot(table.clone(), stamp.client, stamp.slot, stamp.seq)))
            }
            (None, _, Some(cache), Peer::Udp(addr)) => {
                let h = &request.call.header;
                let key = CallKey { peer: *addr, xid, proc: (h.prog, h.vers, h.proc) };
                let (call, responder) = request.into_parts();
                let found = lock(cache).begin(key.clone(), now, (responder, xid));
                Ok((found, call, History::Classic(cache.clone(), key)))
            }
            _ => Err(request),
        };
        let (found, call, history) = match lookup {
            Ok(found) => found,
            Err(request) => return self.spawn_dispatch(request, permit, None).await,
        };
        match found {
            Lookup::New((responder, _)) => {
                self.spawn_dispatch(Request::from_parts(call, responder), permit, Some(history)).await
            }
            Lookup::InProgress => {
                tracing::debug!(peer = %call.peer, xid, "duplicate waits for the call in progress");
                None
            }
            Lookup::Stale => {
                tracing::debug!(peer = %call.peer, xid, "stray duplicate of an acknowledged call");
                None
            }
            Lookup::Replay(outcome, (responder, xid)) => {
                tracing::debug!(peer = %call.peer, xid, "duplicate answered from the history of replies");
                Some(Finished { responder, xid, outcome, _places: (permit, None) })
            }
        }
    }

    /// Runs one call and sends its reply (and the replies of the duplicates that waited
    /// for it); the permit counts it against its connection's calls in flight until the
    /// reply is queued. A call that completes at once is returned, for the caller to
    /// reply without a detour through a task or a queue; the others run in a task. A call whose caller's deadline passes
    /// is cancelled and answers nothing: the caller has stopped waiting.
    ///
    /// It first waits until the server's model lets one more call run: the connection
    /// reads nothing meanwhile, so an iterative server answers each client in order.
    async fn spawn_dispatch(
        &self,
        request: Request,
        permit: tokio::sync::OwnedSemaphorePermit,
        history: Option<History>,
    ) -> Option<Finished> {
        let Ok(running) = self.running.clone().acquire_owned().await else { return None };
        let server = self.clone();
        let work = async move {
            let (call, responder) = request.into_parts();
            let xid = call.header.xid;
            let deadline = call.deadline;
            // Boxed: this future is moved (copied) whole several times on its way into a
            // task, and the procedure's state and its timer would make it kilobytes.
            let outcome = async move {
                // A procedure that panics answers SYSTEM_ERR; the server goes on.
                let run = AssertUnwindSafe(server.dispatch(call)).catch_unwind().map(|result| {
                    result.unwrap_or_else(|_| {
                        tracing::error!(xid, "procedure panicked; answering SYSTEM_ERR");
                        Err(Fault::SystemErr)
                    })
                });
                match deadline {
                    Some(deadline) if deadline <= std::time::Instant::now() => Err(Fault::Silent),
                    Some(deadline) => tokio::time::timeout_at(deadline.into(), run).await.unwrap_or_else(|_| {
                        tracing::debug!(xid, "the caller's deadline passed; procedure cancelled");
                        Err(Fault::Silent)
                    }),
                    None => run.await,
                }
            }
            .boxed()
            .await;
            let waiters = history.map(|history| history.complete(&outcome)).unwrap_or_default();
            for (waiter, xid) in waiters {
                // Boxed: duplicates that waited are rare, and this future's size would
                // be carried by every call's.
                waiter.send(xid, outcome.clone()).boxed().await;
            }
            Finished { responder, xid, outcome, _places: (permit, Some(running)) }
        };
        match self.config.model {
            ServerModel::ThreadPool { .. } => {
                let runtime = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || runtime.block_on(async move { work.await.send().await }));
                None
            }
            ServerModel::Iterative | ServerModel::Concurrent { .. } => {
                // Most procedures answer without waiting for anything: run the call here
                // and only give it a task of its own if it has to wait.
                let mut work = Box::pin(work);
                match std::future::poll_fn(|cx| std::task::Poll::Ready(work.as_mut().poll(cx))).await {
                    std::task::Poll::Ready(finished) => Some(finished),
                    std::task::Poll::Pending => {
                        // The reply's future boxed as well: the task's own future, copied
                        // whole into the task, is then little more than two boxes.
                        tokio::spawn(async move { work.await.send().boxed().await });
                        None
                    }
                }
            }
        }
    }

    /// Binds `endpoint` and serves it in the background.
    pub async fn listen(&self, endpoint: &Endpoint) -> io::Result<Listening> {
        let (endpoint, task) = match endpoint {
            Endpoint::Tcp(addr) => {
                let listener = TcpListener::bind(addr).await?;
                let bound = Endpoint::Tcp(listener.local_addr()?);
                (bound, tokio::spawn(self.clone().serve_tcp(listener)))
            }
            Endpoint::Udp(addr) => {
                let socket = UdpSocket::bind(addr).await?;
                let bound = Endpoint::Udp(socket.local_addr()?);
                (bound, tokio::spawn(self.clone().serve_udp(socket)))
            }
            Endpoint::Unix(path) => {
                let listener = bind_unix(path)?;
                (Endpoint::Unix(path.clone()), tokio::spawn(self.clone().serve_unix(listener)))
            }
        };
        Ok(Listening { endpoint, task })
    }

    /// Accepts TCP connections and serves each in its own task.
    pub async fn serve_tcp(self, listener: TcpListener) {
        loop {
            match listener.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let (r, w) = stream.into_split();
                    tokio::spawn(self.clone().serve_stream(r, w, Peer::Tcp(addr)));
                }
                Err(e) => accept_failed(e).await,
            }
        }
    }

    /// Accepts Unix-socket connections and serves each in its own task.
    pub async fn serve_unix(self, listener: UnixListener) {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let uid = stream.peer_cred().ok().map(|cred| cred.uid());
                    let (r, w) = stream.into_split();
                    tokio::spawn(self.clone().serve_stream(r, w, Peer::Unix { uid }));
                }
                Err(e) => accept_failed(e).await,
            }
        }
    }

    /// Serves one connection, reading and writing in this one task: every call already
    /// received is dispatched (a procedure that completes at once is answered without a
    /// task of its own), then every reply ready goes out in one write, then the task
    /// waits for more bytes or more replies. So a burst of pipelined calls costs one read
    /// and one write system call, not one per call.
    pub async fn serve_stream<R, W>(self, read: R, write: W, peer: Peer)
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let (tx, mut rx) = mpsc::channel(self.config.max_in_flight.max(1));
        let mut endpoint = StreamEndpoint::reading(read, peer, &self.config, tx);
        let mut out = tokio::io::BufWriter::with_capacity(64 * 1024, write);
        let in_flight = Arc::new(Semaphore::new(self.config.max_in_flight.max(1)));
        let served = self.serve_records(&mut endpoint, &mut out, &mut rx, &in_flight).await;
        match served {
            Ok(()) => {
                // The client is done sending: answer what is still running, then close.
                drop(endpoint);
                while let Some(msg) = rx.recv().await {
                    if out.write_all(&msg.head).await.is_err() || out.write_all(&msg.body).await.is_err() {
                        return;
                    }
                }
                let _ = out.flush().await;
                let _ = out.shutdown().await;
            }
            Err(e) => tracing::info!(peer = %endpoint.peer(), error = %e, "closing connection"),
        }
    }

    /// The loop of [`Server::serve_stream`], until the client closes its side or breaks
    /// the protocol.
    async fn serve_records<R, W>(
        &self,
        endpoint: &mut StreamEndpoint<R>,
        out: &mut tokio::io::BufWriter<W>,
        rx: &mut mpsc::Receiver<Outgoing>,
        in_flight: &Arc<Semaphore>,
    ) -> Result<(), ConnectionError>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let io = |e: io::Error| ConnectionError::Record(RecordError::Io(e));
        loop {
            // Every call already received, while the connection has room for more.
            while let Ok(permit) = in_flight.clone().try_acquire_owned() {
                let Some(record) = endpoint.buffered()? else { break };
                let Some(mut request) = accept_message(record, &endpoint.peer, &endpoint.reply_to).await? else {
                    continue;
                };
                // Alone: no other call of this connection running (this one holds the
                // only permit taken), answered and not yet written, or received — read
                // already, or waiting in the socket.
                request.call.alone = in_flight.available_permits() + 1 == self.config.max_in_flight.max(1)
                    && out.buffer().is_empty()
                    && rx.is_empty()
                    && endpoint.buf.is_empty()
                    && !endpoint.received_more();
                if let Some((header, results)) = self.admit(request, permit, None).await.and_then(Finished::reply) {
                    queue_reply(out, &stream_message(&header, results, self.config.max_fragment)).await.map_err(io)?;
                }
                // Keep the reply queue short: replies wait in the write buffer instead.
                while let Ok(msg) = rx.try_recv() {
                    queue_reply(out, &msg).await.map_err(io)?;
                }
            }
            // Every reply ready, in one write.
            let mut wrote = false;
            while let Ok(msg) = rx.try_recv() {
                queue_reply(out, &msg).await.map_err(io)?;
                wrote = true;
            }
            if wrote || !out.buffer().is_empty() {
                out.flush().await.map_err(io)?;
                continue;
            }
            let room = in_flight.available_permits() > 0;
            tokio::select! {
                msg = rx.recv() => {
                    if let Some(msg) = msg {
                        queue_reply(out, &msg).await.map_err(io)?;
                        // Calls that finish together (woken by one event) send their
                        // replies one after the other: while others are in progress, let
                        // those already runnable add theirs, so that one write carries
                        // them all. (A lone call's reply goes at once.)
                        let others = self.config.max_in_flight.max(1) - in_flight.available_permits();
                        if others > 1 {
                            tokio::task::yield_now().await;
                        }
                    }
                }
                more = endpoint.fill(), if room => {
                    if !more? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Serves a UDP socket: every datagram's call is dispatched in its own task.
    ///
    /// With the history of replies on ([`ServerConfig::reply_cache`]), a retransmitted
    /// call (same client, xid and procedure) is answered with the first reply instead of
    /// being executed again, or waits for it while the first is still executing.
    pub async fn serve_udp(self, socket: UdpSocket) {
        let mut endpoint = DatagramEndpoint::new(socket, &self.config);
        let in_flight = Arc::new(Semaphore::new(self.config.max_in_flight.max(1)));
        let cache =
            (self.config.reply_cache > 0).then(|| Arc::new(Mutex::new(ReplyCache::new(history_limits(&self.config)))));
        loop {
            let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
            match endpoint.get_request().await {
                Ok(request) => {
                    if let Some(finished) = self.admit(request, permit, cache.as_ref()).await {
                        finished.send().await;
                    }
                }
                Err(e) => accept_failed(e).await,
            }
        }
    }
}

/// Puts a reply in a connection's write buffer (a large body goes straight through).
async fn queue_reply<W: AsyncWrite + Unpin>(out: &mut tokio::io::BufWriter<W>, msg: &Outgoing) -> io::Result<()> {
    out.write_all(&msg.head).await?;
    out.write_all(&msg.body).await
}

/// The limits of a history of replies.
fn history_limits(config: &ServerConfig) -> Limits {
    Limits { entries: config.reply_cache, bytes: config.reply_cache_bytes, ttl: config.reply_cache_ttl }
}

/// Binds a Unix socket, replacing a stale socket file left by an earlier process.
fn bind_unix(path: &Path) -> io::Result<UnixListener> {
    match UnixListener::bind(path) {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse && std::os::unix::net::UnixStream::connect(path).is_err() => {
            std::fs::remove_file(path)?;
            UnixListener::bind(path)
        }
        other => other,
    }
}

/// Accept errors (out of file descriptors, say) are transient: log and pause briefly
/// instead of spinning.
async fn accept_failed(e: io::Error) {
    tracing::warn!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_millis(50)).await;
}
