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
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::sync::{oneshot, OnceCell};
use tokio::task::JoinHandle;

use super::auth::OpaqueAuth;
use super::connection::{self, ReadHalf, Wire, WriteHalf};
use super::error::{CallError, ProcId};
use super::msg::{AcceptStat, AuthStat, CallHeader, Message, MessageError, RejectStat, ReplyBody, ReplyHeader};
use super::session::{self, CallStamp, ReplyStamp, Slots, NO_SLOT};
use crate::sync::lock;
use crate::transport::record;
use crate::transport::{Endpoint, Outgoing};

/// How a client behaves.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// How long a call waits for its reply, retransmissions included.
    pub timeout: Duration,
    /// UDP: the first retransmission interval; it doubles after each retransmission.
    /// Streams: the first pause between reconnection attempts.
    pub retransmit: Duration,
    /// UDP: the longest retransmission interval; streams: the longest reconnect pause.
    pub max_retransmit: Duration,
    /// The largest reply record accepted on a stream.
    pub max_record: usize,
    /// Stream: the largest fragment sent; longer messages are split.
    pub max_fragment: usize,
    /// UDP: the largest datagram sent or received.
    pub max_datagram: usize,
    /// The credential sent with every call (AUTH_NONE by default).
    pub credential: OpaqueAuth,
    /// What happens when a request or its reply is lost.
    pub semantics: Semantics,
    /// Open a session with servers that speak courier's session convention
    /// ([`session`](super::session)): at-most-once across connections and restarts,
    /// deadlines passed to the server. Costs one NULL call before the first call.
    pub session: bool,
    /// The most session slots, which is the most at-most-once calls in flight whose
    /// retransmissions the server recognises on any connection; calls past it are
    /// stamped without a slot and are not resent on a new connection.
    pub max_slots: u32,
    /// Streams: when the connection breaks, open a new one for later calls, and resend
    /// the calls in flight as their semantics allow (at-most-once calls with a session
    /// slot and at-least-once calls, at most [`MAX_RESENDS`] times each).
    pub reconnect: bool,
}

/// How many times a call is sent again on a new connection after its connection broke.
pub const MAX_RESENDS: u32 = 8;

/// Invocation semantics: what a call does when a message is lost (the seeds' failure
/// model).
///
/// Over UDP a lost datagram is retransmitted (or not); over a stream, a message is lost
/// when its connection breaks, and a reconnecting client resends it (or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Semantics {
    /// One request, never retransmitted: the procedure ran once or not at all, and the
    /// caller learns only "no reply" on timeout. The seeds' R pattern when no reply is
    /// expected, RR otherwise.
    Maybe,
    /// Retransmitted, each time as a new call: the procedure may run more than once
    /// (fine for idempotent procedures). The RR pattern.
    AtLeastOnce,
    /// Retransmitted with the same identity, so that the server's history of replies
    /// answers a retransmission without running the procedure again. With a session the
    /// next call on the slot acknowledges the reply: the RRA pattern.
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
            session: true,
            max_slots: 1024,
            reconnect: true,
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
    /// The procedure is idempotent (declared so in its interface): a client whose
    /// semantics is at-most-once calls it at-least-once, which needs no history of
    /// replies on the server. Explicit `semantics` wins.
    pub idempotent: bool,
}

impl CallOptions {
    /// The options of a call to a procedure declared idempotent (or not).
    pub fn idempotent(idempotent: bool) -> Self {
        CallOptions { idempotent, ..CallOptions::default() }
    }
}

type Reply = Result<(ReplyHeader, Bytes), MessageError>;
type Pending = Mutex<HashMap<u32, oneshot::Sender<Reply>>>;

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
    session: Session,
}

/// The client's side of a session.
#[derive(Debug)]
struct Session {
    /// The client's id, random.
    id: u64,
    slots: Slots,
    /// The server incarnation last learned; 0 before the first probe.
    incarnation: AtomicU64,
    /// Whether the server speaks sessions, learned by the first call's probe.
    speaks: OnceCell<bool>,
}

#[derive(Debug)]
enum Link {
    Stream(Streams),
    /// A UDP socket, read by whichever caller is waiting (as a stream's read side is),
    /// into the buffer the lock holds.
    Datagram {
        socket: UdpSocket,
        reading: tokio::sync::Mutex<Vec<u8>>,
    },
}

/// A stream link: the current connection, and where to open the next one.
#[derive(Debug)]
struct Streams {
    /// Where to reconnect; `None` when the client may not reconnect.
    endpoint: Option<Endpoint>,
    conn: Mutex<Conn>,
    /// Held while opening a new connection, so that one opens at a time.
    reconnecting: tokio::sync::Mutex<()>,
}

/// The current stream connection (`None` once broken) and its writer task.
#[derive(Debug)]
struct Conn {
    wire: Option<Arc<Wire>>,
    generation: u64,
    writer: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        match &self.link {
            Link::Stream(streams) => lock(&streams.conn).writer.abort(),
            Link::Datagram { .. } => {}
        }
    }
}

impl Client {
    /// Connects to `endpoint` with the given configuration.
    pub async fn connect(endpoint: &Endpoint, config: ClientConfig) -> io::Result<Client> {
        match endpoint {
            Endpoint::Udp(addr) => Client::connect_udp(*addr, config).await,
            Endpoint::Tcp(_) | Endpoint::Unix(_) => {
                let (r, w) = connection::open(endpoint).await?;
                let reconnect = config.reconnect.then(|| endpoint.clone());
                Ok(Client::over_stream(endpoint.to_string(), reconnect, r, w, config))
            }
        }
    }

    /// Connects over TCP.
    pub async fn connect_tcp(addr: SocketAddr, config: ClientConfig) -> io::Result<Client> {
        Client::connect(&Endpoint::Tcp(addr), config).await
    }

    /// Connects over a Unix stream socket.
    pub async fn connect_unix(path: &std::path::Path, config: ClientConfig) -> io::Result<Client> {
        Client::connect(&Endpoint::Unix(path.to_owned()), config).await
    }

    /// Associates a UDP socket with the server at `addr` (a loopback server gets a
    /// loopback socket).
    pub async fn connect_udp(addr: SocketAddr, config: ClientConfig) -> io::Result<Client> {
        let local: SocketAddr = match (addr.ip().is_loopback(), addr) {
            (true, _) => (addr.ip(), 0).into(),
            (false, SocketAddr::V4(_)) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
            (false, SocketAddr::V6(_)) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local).await?;
        socket.connect(addr).await?;
        let reading = tokio::sync::Mutex::new(vec![0u8; config.max_datagram + 1]);
        let link = Link::Datagram { socket, reading };
        Ok(Client { inner: Arc::new(Inner::new(format!("udp://{addr}"), config, link)) })
    }

    fn over_stream(
        peer: String,
        reconnect: Option<Endpoint>,
        r: ReadHalf,
        w: WriteHalf,
        config: ClientConfig,
    ) -> Client {
        let conn = Conn::start(0, r, w, &config);
        let streams =
            Streams { endpoint: reconnect, conn: Mutex::new(conn), reconnecting: tokio::sync::Mutex::new(()) };
        Client { inner: Arc::new(Inner::new(peer, config, Link::Stream(streams))) }
    }

    /// The server this client talks to, as `tcp://…`, `udp://…` or `unix://…`.
    pub fn peer(&self) -> &str {
        &self.inner.peer
    }

    /// The client's configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The client's session id (random), as the server sees it in
    /// [`Call::session`](super::Call::session).
    pub fn session_id(&self) -> u64 {
        self.inner.session.id
    }

    /// The seeds' `doOperation`: sends a request with already-encoded arguments and
    /// waits for the reply; returns the encoded results of a successful call, or the
    /// status the server answered with.
    pub async fn do_operation(&self, call: ProcId, args: Bytes, opts: &CallOptions) -> Result<Bytes, CallError> {
        // Boxed, as in `call_with`.
        Box::pin(self.inner.clone().exchange(call, opts, |_| Ok(()), args)).await
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
        // Boxed: the exchange's state (sessions, resends, timers) is ~2 KB, and every
        // future that awaits a call (stubs, the caller's own) would carry it inline and
        // copy it whenever it moves.
        let results = Box::pin(self.inner.clone().exchange(call, opts, encode, Bytes::new())).await?;
        courier_xdr::from_bytes(results).map_err(|source| CallError::Decode {
            peer: self.inner.peer.clone(),
            call,
            source,
        })
    }

    /// Calls procedure 0 (NULL) of a program version: the classic "ping".
    pub async fn null(&self, prog: u32, vers: u32) -> Result<(), CallError> {
        self.call_with(ProcId { prog, vers, proc: 0 }, &(), &CallOptions::idempotent(true)).await
    }
}

impl Conn {
    /// A new connection and its writer task.
    fn start(generation: u64, r: ReadHalf, w: WriteHalf, config: &ClientConfig) -> Conn {
        let wire = Arc::new(Wire::new(generation, r, w, config.max_record));
        let writer = tokio::spawn({
            let wire = wire.clone();
            async move {
                if let Err(e) = wire.write_backlog().await {
                    tracing::debug!(error = %e, "client connection write failed");
                }
            }
        });
        Conn { wire: Some(wire), generation, writer }
    }
}

/// A call's message, ready to send and to patch for a retransmission.
struct Built {
    out: Outgoing,
    xid: u32,
    /// Where the xid is in `out.head`.
    xid_at: usize,
    /// Where the session stamp's incarnation is in `out.head`, if stamped.
    incarnation_at: Option<usize>,
    /// How many times it was sent (datagrams) or written to a connection (streams).
    sent: u32,
}

impl Built {
    fn patch(&mut self, at: usize, bytes: &[u8]) {
        let mut head = BytesMut::from(&self.out.head[..]);
        head[at..at + bytes.len()].copy_from_slice(bytes);
        self.out.head = head.freeze();
    }
}

/// How one attempt to get a reply on a stream ended.
enum Attempt {
    Reply(Reply),
    /// The connection broke; the message may or may not have reached the server.
    Lost,
}

impl Inner {
    fn new(peer: String, config: ClientConfig, link: Link) -> Inner {
        // Start xids somewhere different per client so that a restarted client's calls
        // are not mistaken for retransmissions of its predecessor's.
        let id = session::random_id();
        let session = Session {
            id,
            slots: Slots::new(config.max_slots),
            incarnation: AtomicU64::new(0),
            speaks: OnceCell::new(),
        };
        Inner { peer, config, link, pending: Mutex::new(HashMap::new()), next_xid: AtomicU32::new(id as u32), session }
    }

    /// Builds the message (header, then whatever `encode` appends, then `body`), sends
    /// it, and waits for the matching reply, retransmitting as the semantics say.
    async fn exchange(
        self: Arc<Self>,
        call: ProcId,
        opts: &CallOptions,
        encode: impl FnOnce(&mut BytesMut) -> courier_xdr::Result<()>,
        body: Bytes,
    ) -> Result<Bytes, CallError> {
        let timeout = opts.timeout.unwrap_or(self.config.timeout);
        let deadline = Instant::now() + timeout;
        let semantics = match (opts.semantics, self.config.semantics) {
            (Some(semantics), _) => semantics,
            (None, Semantics::AtMostOnce) if opts.idempotent => Semantics::AtLeastOnce,
            (None, semantics) => semantics,
        };
        let stamped = self.speaks_sessions(call, deadline, timeout).await?;
        let lease = (stamped && semantics == Semantics::AtMostOnce).then(|| self.session.slots.lease()).flatten();
        let stamp = stamped.then(|| CallStamp {
            client: self.session.id,
            slot: lease.as_ref().map_or(NO_SLOT, |l| l.slot),
            seq: lease.as_ref().map_or(0, |l| l.seq),
            incarnation: self.session.incarnation.load(Ordering::Acquire),
            deadline_ms: timeout.as_millis().clamp(1, u32::MAX.into()) as u32,
        });
        let cred = opts.credential.clone().unwrap_or_else(|| self.config.credential.clone());
        let mut built = self.build(call, cred, stamp, encode, body)?;
        // At-most-once without a slot may not be resent on a new connection: no server
        // history would recognise it there.
        let resend = semantics == Semantics::AtLeastOnce || lease.is_some();
        let mut restamped = false;
        loop {
            let (header, results) = self.transmit(&mut built, call, semantics, resend, deadline, timeout).await?;
            let refused = matches!(header.body, ReplyBody::Denied(RejectStat::AuthError(AuthStat::RejectedVerf)));
            if stamp.is_none() || !refused {
                return interpret(&self.peer, call, header, results);
            }
            // A server restarted since this client last heard of it. A call sent once
            // reached only the new server, which refused it unexecuted: stamp it anew
            // and send it again. A call sent more than once may have run before.
            let learned = self.probe(call, deadline, timeout).await;
            if built.sent > 1 || restamped {
                return Err(CallError::ServerRestarted { peer: self.peer.clone(), call });
            }
            learned?;
            let incarnation = self.session.incarnation.load(Ordering::Acquire);
            if let Some(at) = built.incarnation_at {
                built.patch(at, &incarnation.to_be_bytes());
            }
            built.sent = 0;
            restamped = true;
        }
    }

    /// Encodes a call message.
    fn build(
        &self,
        call: ProcId,
        cred: OpaqueAuth,
        stamp: Option<CallStamp>,
        encode: impl FnOnce(&mut BytesMut) -> courier_xdr::Result<()>,
        body: Bytes,
    ) -> Result<Built, CallError> {
        let xid = self.next_xid.fetch_add(1, Ordering::Relaxed);
        let verf = stamp.map_or(OpaqueAuth::NONE, |s| s.to_verifier());
        let header = CallHeader { xid, prog: call.prog, vers: call.vers, proc: call.proc, cred, verf };
        let mut head = BytesMut::with_capacity(128);
        let stream = matches!(self.link, Link::Stream(_));
        let start = if stream { record::begin_record(&mut head) } else { 0 };
        header.encode(&mut head);
        // The stamp is the header's last field; its incarnation sits 16 bytes in.
        let incarnation_at = stamp.map(|_| head.len() - CallStamp::LEN + 16);
        encode(&mut head).map_err(|source| CallError::Encode { call, source })?;
        let len = head.len() - start + body.len();
        if stream {
            let len = len - record::HEADER;
            if len > self.config.max_record {
                return Err(CallError::TooLarge { call, len, max: self.config.max_record });
            }
            let out = frame(head, body, start, self.config.max_fragment);
            return Ok(Built { out, xid, xid_at: start + record::HEADER, incarnation_at, sent: 0 });
        }
        if len > self.config.max_datagram {
            return Err(CallError::TooLarge { call, len, max: self.config.max_datagram });
        }
        head.extend_from_slice(&body);
        Ok(Built { out: Outgoing { head: head.freeze(), body: Bytes::new() }, xid, xid_at: 0, incarnation_at, sent: 0 })
    }

    /// Whether calls are stamped with a session: learned with a NULL call to the first
    /// call's program before that call.
    async fn speaks_sessions(&self, call: ProcId, deadline: Instant, timeout: Duration) -> Result<bool, CallError> {
        if !self.config.session {
            return Ok(false);
        }
        let speaks = self.session.speaks.get_or_try_init(|| self.probe(call, deadline, timeout)).await?;
        Ok(*speaks)
    }

    /// Sends NULL with a session stamp: a courier server answers with its incarnation;
    /// other servers ignore the stamp or refuse it.
    async fn probe(&self, call: ProcId, deadline: Instant, timeout: Duration) -> Result<bool, CallError> {
        let null = ProcId { proc: 0, ..call };
        let stamp = CallStamp { client: self.session.id, slot: NO_SLOT, seq: 0, incarnation: 0, deadline_ms: 0 };
        let mut built = self.build(null, self.config.credential.clone(), Some(stamp), |_| Ok(()), Bytes::new())?;
        let (header, _) = self.transmit(&mut built, null, Semantics::AtLeastOnce, true, deadline, timeout).await?;
        let ReplyBody::Accepted { verf, .. } = &header.body else { return Ok(false) };
        let Some(stamp) = ReplyStamp::from_verifier(verf) else { return Ok(false) };
        self.session.incarnation.store(stamp.incarnation, Ordering::Release);
        Ok(true)
    }

    /// Sends a message until its reply comes, the deadline passes, or the semantics
    /// forbid sending it again.
    async fn transmit(
        &self,
        built: &mut Built,
        call: ProcId,
        semantics: Semantics,
        resend: bool,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(ReplyHeader, Bytes), CallError> {
        let timed_out = || CallError::Timeout { peer: self.peer.clone(), call, timeout };
        let closed = || CallError::Closed { peer: self.peer.clone(), call };
        let forget = Forget { inner: self, xid: std::cell::Cell::new(built.xid) };
        let reply = match &self.link {
            Link::Stream(streams) => loop {
                let wire = self.wire(streams, call, deadline).await?;
                // Dropped at the end of each attempt, before `forget` removes the sender:
                // a sender dropped while this end waits would wake the task.
                let (reply_tx, mut reply_rx) = oneshot::channel();
                // Alone on the connection: write straight to the socket; with company,
                // leave it to the writer task, which sends many messages at once.
                let direct = {
                    let mut pending = lock(&self.pending);
                    pending.insert(built.xid, reply_tx);
                    pending.len() == 1
                };
                let live = lock(&streams.conn).wire.as_ref().is_some_and(|w| Arc::ptr_eq(w, &wire));
                let attempt = if !live {
                    Attempt::Lost
                } else if wire.send(&built.out, direct).is_err() {
                    // The connection is broken: the next attempt opens a new one. (Left
                    // in place until its reader noticed, it would be handed out again
                    // and again — a busy loop that can starve that reader.)
                    self.connection_lost(wire.generation);
                    Attempt::Lost
                } else {
                    built.sent += 1;
                    let waited = self.wait_reply(&wire, built.xid, &mut reply_rx);
                    match tokio::time::timeout_at(deadline.into(), waited).await {
                        Ok(attempt) => attempt,
                        Err(_) => return Err(timed_out()),
                    }
                };
                match attempt {
                    Attempt::Reply(reply) => break reply,
                    Attempt::Lost if built.sent == 0 => tokio::task::yield_now().await,
                    Attempt::Lost if !resend || built.sent > MAX_RESENDS || streams.endpoint.is_none() => {
                        return Err(closed())
                    }
                    Attempt::Lost => {
                        tracing::debug!(peer = %self.peer, xid = built.xid, "connection lost; sending the call again");
                        if semantics == Semantics::AtLeastOnce {
                            self.renumber(built, &forget);
                        }
                    }
                }
            },
            Link::Datagram { socket, reading } => {
                let (reply_tx, mut reply_rx) = oneshot::channel();
                lock(&self.pending).insert(built.xid, reply_tx);
                let mut interval = self.config.retransmit;
                loop {
                    if let Err(source) = socket.send(&built.out.head).await {
                        return Err(CallError::Io { peer: self.peer.clone(), call, source });
                    }
                    built.sent += 1;
                    // Maybe: one request, then wait for its reply until the deadline.
                    let wait = if semantics == Semantics::Maybe {
                        deadline
                    } else {
                        (Instant::now() + interval).min(deadline)
                    };
                    let reply = self.wait_datagram(socket, reading, built.xid, &mut reply_rx);
                    match tokio::time::timeout_at(wait.into(), reply).await {
                        Ok(reply) => break reply.map_err(|_| closed())?,
                        Err(_) if Instant::now() >= deadline => return Err(timed_out()),
                        Err(_) => interval = (interval * 2).min(self.config.max_retransmit),
                    }
                    if semantics == Semantics::AtLeastOnce {
                        self.renumber(built, &forget);
                    }
                }
            }
        };
        reply.map_err(|source| CallError::BadReply { peer: self.peer.clone(), call, source })
    }

    /// Gives a message a new xid, so that the server's history of replies does not
    /// recognise it: the server executes it again (at-least-once).
    fn renumber(&self, built: &mut Built, forget: &Forget<'_>) {
        let fresh = self.next_xid.fetch_add(1, Ordering::Relaxed);
        let mut pending = lock(&self.pending);
        if let Some(waiter) = pending.remove(&forget.xid.replace(fresh)) {
            pending.insert(fresh, waiter);
        }
        drop(pending);
        built.xid = fresh;
        built.patch(built.xid_at, &fresh.to_be_bytes());
    }

    /// Waits for the reply to call `xid` on `reply`, reading the connection meanwhile
    /// whenever no other caller is: the first waiting caller reads, hands each reply to
    /// its caller, and gives the read side to the next one once its own reply is in.
    ///
    /// A reader keeps its own reply: handed over through its channel, it would wake the
    /// very task that reads, which the runtime would then poll again for nothing (and
    /// wake another worker thread to do so) after every call that reads its own reply.
    async fn wait_reply(&self, wire: &Wire, xid: u32, reply: &mut oneshot::Receiver<Reply>) -> Attempt {
        let arrived = |reply: Result<Reply, oneshot::error::RecvError>| match reply {
            Ok(reply) => Attempt::Reply(reply),
            Err(_) => Attempt::Lost,
        };
        tokio::select! {
            biased;
            got = &mut *reply => arrived(got),
            mut records = wire.records.lock() => loop {
                tokio::select! {
                    biased;
                    got = &mut *reply => return arrived(got),
                    next = records.next() => match next {
                        Some(Ok(record)) => {
                            if let Some(got) = self.keep_or_hand_over(record, xid) {
                                return Attempt::Reply(got);
                            }
                        }
                        // No reply can come on this connection any more.
                        Some(Err(e)) => {
                            tracing::debug!(peer = %self.peer, error = %e, "client connection failed");
                            self.connection_lost(wire.generation);
                            return Attempt::Lost;
                        }
                        None => {
                            self.connection_lost(wire.generation);
                            return Attempt::Lost;
                        }
                    },
                }
            },
        }
    }

    /// [`Inner::wait_reply`] for a UDP socket: the first waiting caller receives the
    /// datagrams and hands each reply to its caller, keeping its own.
    async fn wait_datagram(
        &self,
        socket: &UdpSocket,
        reading: &tokio::sync::Mutex<Vec<u8>>,
        xid: u32,
        reply: &mut oneshot::Receiver<Reply>,
    ) -> Result<Reply, oneshot::error::RecvError> {
        tokio::select! {
            biased;
            got = &mut *reply => got,
            mut buf = reading.lock() => loop {
                tokio::select! {
                    biased;
                    got = &mut *reply => return got,
                    received = socket.recv(&mut buf) => match received {
                        Ok(n) if n < buf.len() => {
                            if let Some(got) = self.keep_or_hand_over(Bytes::copy_from_slice(&buf[..n]), xid) {
                                return Ok(got);
                            }
                        }
                        Ok(n) => tracing::debug!(peer = %self.peer, len = n, "dropping an oversized datagram"),
                        // An ICMP "port unreachable" surfaces here on a connected socket;
                        // the call keeps retransmitting until its deadline, as libtirpc's does.
                        Err(e) => tracing::debug!(peer = %self.peer, error = %e, "datagram receive failed"),
                    },
                }
            },
        }
    }

    /// The current connection, opening a new one if the last one broke (or was closed
    /// by the server while idle) and the client may reconnect.
    async fn wire(&self, streams: &Streams, call: ProcId, deadline: Instant) -> Result<Arc<Wire>, CallError> {
        let current = || {
            let wire = lock(&streams.conn).wire.clone()?;
            if wire.closed_while_idle(|record| self.deliver(record)) {
                self.connection_lost(wire.generation);
                return None;
            }
            Some(wire)
        };
        if let Some(live) = current() {
            return Ok(live);
        }
        let Some(endpoint) = &streams.endpoint else { return Err(CallError::Closed { peer: self.peer.clone(), call }) };
        let _one_at_a_time = streams.reconnecting.lock().await;
        if let Some(live) = current() {
            return Ok(live);
        }
        let mut pause = self.config.retransmit.min(Duration::from_millis(50));
        loop {
            let failure = match tokio::time::timeout_at(deadline.into(), connection::open(endpoint)).await {
                Ok(Ok((r, w))) => {
                    let mut conn = lock(&streams.conn);
                    let generation = conn.generation + 1;
                    conn.writer.abort();
                    *conn = Conn::start(generation, r, w, &self.config);
                    tracing::debug!(peer = %self.peer, generation, "reconnected");
                    return Ok(conn.wire.clone().expect("a new connection is live"));
                }
                Ok(Err(source)) => CallError::Io { peer: self.peer.clone(), call, source },
                Err(_) => {
                    return Err(CallError::Timeout { peer: self.peer.clone(), call, timeout: self.config.timeout })
                }
            };
            if Instant::now() + pause >= deadline {
                return Err(failure);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(self.config.max_retransmit);
        }
    }

    /// Hands a received record, if it is a reply, to the call waiting for it.
    fn deliver(&self, record: Bytes) {
        if let Some((xid, reply)) = self.reply_of(record) {
            self.hand_over(xid, reply);
        }
    }

    /// A record read by the caller of `xid`: its own reply, returned (its channel stays
    /// in the pending table until the call ends, and is dropped after the channel's
    /// receiving end, so that dropping it wakes nobody); another call's, handed over.
    fn keep_or_hand_over(&self, record: Bytes, xid: u32) -> Option<Reply> {
        match self.reply_of(record)? {
            (of, reply) if of == xid => Some(reply),
            (of, reply) => {
                self.hand_over(of, reply);
                None
            }
        }
    }

    /// A received record as a reply: the xid it answers and what it says (a reply too
    /// malformed to read past its xid is that call's error); `None`, logged, for
    /// anything else.
    fn reply_of(&self, record: Bytes) -> Option<(u32, Reply)> {
        match Message::decode(record) {
            Ok(Message::Reply { header, results }) => Some((header.xid, Ok((header, results)))),
            Ok(Message::Call { header, .. }) => {
                tracing::debug!(peer = %self.peer, xid = header.xid, "ignoring a call received by a client");
                None
            }
            Err(e @ MessageError::Malformed { xid, .. }) => Some((xid, Err(e))),
            Err(e) => {
                tracing::debug!(peer = %self.peer, error = %e, "ignoring an undecodable reply");
                None
            }
        }
    }

    /// Gives `reply` to the call waiting for `xid`, if one is.
    fn hand_over(&self, xid: u32, reply: Reply) {
        let waiter = lock(&self.pending).remove(&xid);
        match waiter {
            Some(waiter) => {
                let _ = waiter.send(reply);
            }
            None => tracing::trace!(peer = %self.peer, xid, "reply to no pending call (late or duplicate)"),
        }
    }

    /// The connection of `generation` broke: later calls need a new one, and the calls
    /// waiting on it learn that their message may be lost.
    fn connection_lost(&self, generation: u64) {
        let Link::Stream(streams) = &self.link else { return };
        let mut conn = lock(&streams.conn);
        if conn.generation == generation && conn.wire.take().is_some() {
            lock(&self.pending).clear();
        }
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
        lock(&self.inner.pending).remove(&self.xid.get());
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
