//! A node's mailbox program against garbage: a node serving a post office gets thousands
//! of calls (procedures 0 to 9) whose arguments are valid, truncated, mutated or random
//! encodings, over one TCP connection and over UDP. Every call must be answered:
//! GARBAGE_ARGS exactly when its arguments do not decode, otherwise a reply that decodes
//! (NULL for procedure 0, PROC_UNAVAIL for 9). Afterwards well-behaved clients on both
//! transports must still send and receive a message.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use courier::mailbox::post_office::{PostOffice, PostOfficeConfig};
use courier::mailbox::protocol::{
    self, AckBatchArgs, AckBatchReply, AckReceiveBatchArgs, AckReceiveBatchReply, Body, MailboxInfo, MailboxRef, Name,
    ReceiveArgs, ReceiveBatchArgs, ReceiveBatchReply, ReceiveReply, SendArgs, SendMode, SendReply, SettleArgs,
    SettleReply, Status,
};
use courier::mailbox::remote::{MailboxClient, RemoteMailbox};
use courier::mailbox::Receipt;
use courier::mailbox::{QueueConfig, WhenFull};
use courier::rpc::msg::{AcceptStat, CallHeader, Message, ReplyBody};
use courier::rpc::{Client, ClientConfig, Listening, OpaqueAuth, Server};
use courier::transport::Endpoint;
use courier_xdr::BoundedVec;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Calls sent over each transport.
const CALLS: usize = 2000;
/// The longest a reply may take (the node waits at most `MAX_WAIT` in a call).
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// The node's longest wait: mutated arguments ask for waits of up to 49 days.
const MAX_WAIT: Duration = Duration::from_millis(50);
/// The most mailboxes: random names make new ones until the node refuses more.
const MAX_MAILBOXES: usize = 64;
/// Names the garbage uses, besides random ones; never `survivor`.
const NAMES: [&str; 6] = ["orders", "q", "orders/eu", "orders.dead", "", "alice"];

/// A node serving a post office on TCP and UDP, and the mailbox the well-behaved clients
/// use, made before the garbage comes so that the mailbox limit cannot keep it out.
struct Node {
    tcp: SocketAddr,
    udp: SocketAddr,
    _listening: (Listening, Listening),
}

async fn start() -> Node {
    let queue = QueueConfig {
        capacity: 1000,
        when_full: WhenFull::Reject,
        visibility: Duration::from_secs(1),
        max_deliveries: None,
    };
    let config = PostOfficeConfig { queue, max_mailboxes: MAX_MAILBOXES, max_wait: MAX_WAIT };
    let office = PostOffice::open(config, None).unwrap();
    office.mailbox("survivor").unwrap();
    let server = Server::builder().register(protocol::PROGRAM, protocol::VERSION, office.service()).build();
    let tcp = server.listen(&"tcp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let udp = server.listen(&"udp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let Endpoint::Tcp(tcp_addr) = tcp.endpoint().clone() else { unreachable!("TCP") };
    let Endpoint::Udp(udp_addr) = udp.endpoint().clone() else { unreachable!("UDP") };
    Node { tcp: tcp_addr, udp: udp_addr, _listening: (tcp, udp) }
}

/// One garbage call: its procedure and argument bytes.
#[derive(Debug)]
struct Garbage {
    proc: u32,
    args: Bytes,
}

fn name(rng: &mut SmallRng) -> Name {
    let text = match rng.random_range(0..4) {
        0 => (0..rng.random_range(1..=12)).map(|_| char::from(rng.random_range(b'a'..=b'z'))).collect(),
        _ => NAMES[rng.random_range(0..NAMES.len())].to_owned(),
    };
    Name::new(text).unwrap()
}

fn wait_ms(rng: &mut SmallRng) -> u32 {
    match rng.random_range(0..3) {
        0 => 0,
        1 => rng.random_range(0..100),
        _ => rng.random(),
    }
}

/// The procedure past the last one.
const UNAVAILABLE: u32 = 9;

/// A valid encoding of the arguments of SEND (0), RECEIVE (1), ACK and RELEASE (2),
/// LIST (3, no arguments), RECEIVE_BATCH (4), ACK_BATCH (5) or ACK_RECEIVE_BATCH (6).
fn valid_args(rng: &mut SmallRng, kind: u32) -> Vec<u8> {
    let encoded = match kind {
        0 => {
            let mode = [SendMode::Async, SendMode::Sync, SendMode::Durable][rng.random_range(0..3)];
            let mut body = vec![0u8; rng.random_range(0..48)];
            rng.fill(&mut body[..]);
            let args = SendArgs {
                mailbox: name(rng),
                source: name(rng),
                mode,
                wait_ms: wait_ms(rng),
                body: Body::new(body).unwrap(),
            };
            courier_xdr::to_bytes(&args)
        }
        1 => {
            let source = rng.random_bool(0.5).then(|| name(rng));
            courier_xdr::to_bytes(&ReceiveArgs { mailbox: name(rng), source, wait_ms: wait_ms(rng) })
        }
        2 => {
            let Receipt { id, delivery, incarnation } = receipt(rng);
            courier_xdr::to_bytes(&SettleArgs { mailbox: name(rng), id, delivery, incarnation })
        }
        4 => {
            let source = rng.random_bool(0.5).then(|| name(rng));
            let max = [0, 1, 5, protocol::MAX_BATCH, u32::MAX][rng.random_range(0..5)];
            courier_xdr::to_bytes(&ReceiveBatchArgs {
                mailbox: name(rng),
                source,
                wait_ms: wait_ms(rng),
                max,
                linger_ms: wait_ms(rng),
            })
        }
        5 => {
            let receipts = (0..rng.random_range(0..8)).map(|_| receipt(rng)).collect();
            courier_xdr::to_bytes(&AckBatchArgs { mailbox: name(rng), receipts: BoundedVec::new(receipts).unwrap() })
        }
        6 => {
            let receipts = BoundedVec::new((0..rng.random_range(0..8)).map(|_| receipt(rng)).collect()).unwrap();
            let source = rng.random_bool(0.5).then(|| name(rng));
            let max = [0, 1, 5, protocol::MAX_BATCH, u32::MAX][rng.random_range(0..5)];
            let (mailbox, wait_ms) = (name(rng), wait_ms(rng));
            courier_xdr::to_bytes(&AckReceiveBatchArgs { mailbox, receipts, source, wait_ms, max, linger_ms: wait_ms })
        }
        _ => courier_xdr::to_bytes(&()),
    };
    encoded.unwrap().to_vec()
}

/// A receipt of one of the first messages (mostly not delivered, or not that time).
fn receipt(rng: &mut SmallRng) -> Receipt {
    Receipt { id: rng.random_range(0..20), delivery: rng.random_range(0..3), incarnation: rng.random() }
}

/// A call to procedure 0 to 9 with arguments made for it (mostly) or for another
/// procedure, sent as they are, truncated, with bytes flipped, with a word replaced by a
/// hostile length, with bytes appended, or replaced by random bytes.
fn garbage(rng: &mut SmallRng) -> Garbage {
    let proc = rng.random_range(0..=UNAVAILABLE);
    let kind = match proc {
        1 | 2 => proc - 1,
        3 | 4 => 2,
        5 => 3,
        6..=8 => proc - 2,
        _ => rng.random_range(0..7),
    };
    let kind = if rng.random_bool(0.8) { kind } else { rng.random_range(0..7) };
    let mut args = valid_args(rng, kind);
    match rng.random_range(0..6) {
        0 => {}
        1 => args.truncate(rng.random_range(0..args.len().max(1))),
        2 if !args.is_empty() => {
            for _ in 0..rng.random_range(1..=3) {
                let at = rng.random_range(0..args.len());
                args[at] ^= 1 << rng.random_range(0..8);
            }
        }
        3 if args.len() >= 4 => {
            let hostile =
                [u32::MAX, 0x8000_0000, protocol::MAX_BODY + 1, protocol::MAX_NAME + 1, protocol::MAX_BATCH + 1];
            let word = [hostile[rng.random_range(0..hostile.len())], 2, rng.random()][rng.random_range(0..3)];
            let at = rng.random_range(0..args.len() / 4) * 4;
            args[at..at + 4].copy_from_slice(&word.to_be_bytes());
        }
        4 => args.extend((0..rng.random_range(1..=8)).map(|_| rng.random::<u8>())),
        _ => {
            args = vec![0u8; rng.random_range(0..80)];
            rng.fill(&mut args[..]);
        }
    }
    Garbage { proc, args: Bytes::from(args) }
}

/// The call message of `garbage` (AUTH_NONE).
fn call_message(xid: u32, garbage: &Garbage) -> Vec<u8> {
    let header = CallHeader {
        xid,
        prog: protocol::PROGRAM,
        vers: protocol::VERSION,
        proc: garbage.proc,
        cred: OpaqueAuth::NONE,
        verf: OpaqueAuth::NONE,
    };
    let mut out = BytesMut::new();
    header.encode(&mut out);
    out.extend_from_slice(&garbage.args);
    out.to_vec()
}

/// Whether the arguments decode as what procedure `proc` takes.
fn args_decode(proc: u32, args: &Bytes) -> bool {
    let args = args.clone();
    match proc {
        protocol::SEND => courier_xdr::from_bytes::<SendArgs>(args).is_ok(),
        protocol::RECEIVE => courier_xdr::from_bytes::<ReceiveArgs>(args).is_ok(),
        protocol::ACK | protocol::RELEASE => courier_xdr::from_bytes::<SettleArgs>(args).is_ok(),
        protocol::LIST => courier_xdr::from_bytes::<()>(args).is_ok(),
        protocol::RECEIVE_BATCH => courier_xdr::from_bytes::<ReceiveBatchArgs>(args).is_ok(),
        protocol::ACK_BATCH => courier_xdr::from_bytes::<AckBatchArgs>(args).is_ok(),
        protocol::ACK_RECEIVE_BATCH => courier_xdr::from_bytes::<AckReceiveBatchArgs>(args).is_ok(),
        _ => unreachable!("procedure {proc} has no arguments to check"),
    }
}

/// What the node answered to the calls of one transport.
#[derive(Debug, Default)]
struct Tally {
    null: usize,
    unavailable: usize,
    garbage_args: usize,
    answered: usize,
}

/// Checks the answer to `call` (its accept status and results): GARBAGE_ARGS exactly when
/// the arguments do not decode, otherwise results of the procedure's reply type.
fn check_reply(call: &Garbage, results: Bytes, stat: AcceptStat, tally: &mut Tally) {
    match (call.proc, stat) {
        (0, AcceptStat::Success) => {
            assert!(results.is_empty(), "NULL answered with {} bytes", results.len());
            tally.null += 1;
        }
        (UNAVAILABLE, AcceptStat::ProcUnavail) => tally.unavailable += 1,
        (1..UNAVAILABLE, AcceptStat::GarbageArgs) => {
            assert!(!args_decode(call.proc, &call.args), "GARBAGE_ARGS for arguments that decode: {call:?}");
            tally.garbage_args += 1;
        }
        (1..UNAVAILABLE, AcceptStat::Success) => {
            assert!(args_decode(call.proc, &call.args), "answered arguments that do not decode: {call:?}");
            let decoded = match call.proc {
                protocol::SEND => courier_xdr::from_bytes::<SendReply>(results).map(|reply| {
                    let args: SendArgs = courier_xdr::from_bytes(call.args.clone()).unwrap();
                    if args.mode == SendMode::Durable {
                        assert!(matches!(reply.status, Status::NoStore | Status::TooMany), "{reply:?} to {args:?}");
                    }
                }),
                protocol::RECEIVE => courier_xdr::from_bytes::<ReceiveReply>(results).map(drop),
                protocol::ACK | protocol::RELEASE => courier_xdr::from_bytes::<SettleReply>(results).map(drop),
                protocol::RECEIVE_BATCH => courier_xdr::from_bytes::<ReceiveBatchReply>(results).map(|reply| {
                    let args: ReceiveBatchArgs = courier_xdr::from_bytes(call.args.clone()).unwrap();
                    assert!(reply.messages.len() <= args.max.max(1) as usize, "{reply:?} to {args:?}");
                }),
                protocol::ACK_BATCH => courier_xdr::from_bytes::<AckBatchReply>(results).map(|reply| {
                    let args: AckBatchArgs = courier_xdr::from_bytes(call.args.clone()).unwrap();
                    assert_eq!(reply.settled.len(), args.receipts.len(), "one answer per receipt: {reply:?}");
                }),
                protocol::ACK_RECEIVE_BATCH => courier_xdr::from_bytes::<AckReceiveBatchReply>(results).map(|reply| {
                    let args: AckReceiveBatchArgs = courier_xdr::from_bytes(call.args.clone()).unwrap();
                    let receipts = if reply.status == Status::Ok { args.receipts.len() } else { 0 };
                    assert_eq!(reply.settled.len(), receipts, "one answer per receipt, if any: {reply:?}");
                    assert!(reply.messages.len() <= args.max.max(1) as usize, "{reply:?} to {args:?}");
                }),
                protocol::LIST => courier_xdr::from_bytes::<Vec<MailboxInfo>>(results).map(|list| {
                    assert!(list.len() <= MAX_MAILBOXES, "{} mailboxes listed", list.len());
                    assert!(list.iter().any(|info| info.name.as_str() == "survivor"), "the survivor is not listed");
                }),
                proc => unreachable!("procedure {proc}"),
            };
            decoded.unwrap_or_else(|e| panic!("the reply to {call:?} does not decode: {e}"));
            tally.answered += 1;
        }
        (_, stat) => panic!("{stat:?} to {call:?}"),
    }
}

/// Decodes a reply message and checks it against the call with its xid, removed from
/// `pending`.
fn take_reply(record: Bytes, pending: &mut HashMap<u32, Garbage>, tally: &mut Tally) {
    let Ok(Message::Reply { header, results }) = Message::decode(record.clone()) else {
        panic!("not a reply: {record:?}")
    };
    let call = pending.remove(&header.xid).unwrap_or_else(|| panic!("a reply to xid {} not pending", header.xid));
    let ReplyBody::Accepted { stat, .. } = header.body else { panic!("{:?} to {call:?}", header.body) };
    check_reply(&call, results, stat, tally);
}

/// Reads one record (every fragment of it) within `REPLY_TIMEOUT`.
async fn read_record(stream: &mut TcpStream) -> Bytes {
    let read = async {
        let mut record = Vec::new();
        loop {
            let mut mark = [0u8; 4];
            stream.read_exact(&mut mark).await.expect("the node closed the connection");
            let mark = u32::from_be_bytes(mark);
            let start = record.len();
            record.resize(start + (mark & 0x7fff_ffff) as usize, 0);
            stream.read_exact(&mut record[start..]).await.expect("the node closed the connection mid-record");
            if mark & 0x8000_0000 != 0 {
                return Bytes::from(record);
            }
        }
    };
    tokio::time::timeout(REPLY_TIMEOUT, read).await.expect("no reply in time")
}

/// Sends the garbage over one connection, in pipelined batches, and checks every reply.
async fn garbage_over_tcp(node: &Node, rng: &mut SmallRng) -> Tally {
    let mut stream = TcpStream::connect(node.tcp).await.unwrap();
    let (mut tally, mut pending) = (Tally::default(), HashMap::new());
    for batch in 0..CALLS / 50 {
        let mut out = Vec::new();
        for i in 0..50 {
            let xid = (batch * 50 + i) as u32;
            let call = garbage(rng);
            let message = call_message(xid, &call);
            out.extend_from_slice(&(0x8000_0000 | message.len() as u32).to_be_bytes());
            out.extend_from_slice(&message);
            pending.insert(xid, call);
        }
        stream.write_all(&out).await.unwrap();
        for _ in 0..50 {
            let record = read_record(&mut stream).await;
            take_reply(record, &mut pending, &mut tally);
        }
        assert!(pending.is_empty(), "unanswered: {pending:?}");
    }
    tally
}

/// Sends the garbage as datagrams, a few at a time, and checks every reply.
async fn garbage_over_udp(node: &Node, rng: &mut SmallRng) -> Tally {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (mut tally, mut pending) = (Tally::default(), HashMap::new());
    let mut buf = vec![0u8; 65_536];
    for batch in 0..CALLS / 10 {
        for i in 0..10 {
            let xid = 1_000_000 + (batch * 10 + i) as u32;
            let call = garbage(rng);
            socket.send_to(&call_message(xid, &call), node.udp).await.unwrap();
            pending.insert(xid, call);
        }
        for _ in 0..10 {
            let (n, from) = tokio::time::timeout(REPLY_TIMEOUT, socket.recv_from(&mut buf))
                .await
                .expect("no reply in time")
                .unwrap();
            assert_eq!(from, node.udp);
            take_reply(Bytes::copy_from_slice(&buf[..n]), &mut pending, &mut tally);
        }
        assert!(pending.is_empty(), "unanswered: {pending:?}");
    }
    tally
}

/// A well-behaved client sends a message to `survivor` and receives and acknowledges it.
async fn round_trip(mailbox: &RemoteMailbox, body: &'static [u8]) {
    let exchange = async {
        mailbox.send("well-behaved", Bytes::from_static(body)).await.unwrap();
        let delivery = mailbox.receive_timeout(None, Duration::from_secs(5)).await.unwrap().expect("the message");
        assert_eq!((delivery.message().source.as_str(), &delivery.message().body[..]), ("well-behaved", body));
        assert!(delivery.ack().await.unwrap(), "acknowledged in time");
    };
    tokio::time::timeout(Duration::from_secs(20), exchange).await.expect("the well-behaved client hung");
}

fn check_tally(transport: &str, tally: &Tally) {
    eprintln!("{transport}: {tally:?}");
    let total = tally.null + tally.unavailable + tally.garbage_args + tally.answered;
    assert_eq!(total, CALLS, "{transport}: {tally:?}");
    // Each kind of answer came often: the garbage reached both the decoders' errors and
    // the procedures.
    for (what, count) in [("NULL", tally.null), ("PROC_UNAVAIL", tally.unavailable)] {
        assert!(count > CALLS / 20, "{transport}: {count} {what} answers: {tally:?}");
    }
    for (what, count) in [("GARBAGE_ARGS", tally.garbage_args), ("procedure", tally.answered)] {
        assert!(count > CALLS / 10, "{transport}: {count} {what} answers: {tally:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_answers_garbage_calls_and_keeps_serving() {
    let node = start().await;
    let mut rng = SmallRng::seed_from_u64(0x2043_5204);

    let tcp = garbage_over_tcp(&node, &mut rng).await;
    check_tally("TCP", &tcp);
    let over_tcp = RemoteMailbox::open(&MailboxRef { node: node.tcp, name: "survivor".into() }).await.unwrap();
    round_trip(&over_tcp, b"after the TCP garbage").await;

    let udp = garbage_over_udp(&node, &mut rng).await;
    check_tally("UDP", &udp);
    let config = ClientConfig { timeout: Duration::from_secs(5), ..ClientConfig::default() };
    let client = Client::connect(&Endpoint::Udp(node.udp), config).await.unwrap();
    let over_udp = MailboxClient::new(client).mailbox("survivor").unwrap();
    round_trip(&over_udp, b"after the UDP garbage").await;
    round_trip(&over_tcp, b"and TCP still").await;
}
