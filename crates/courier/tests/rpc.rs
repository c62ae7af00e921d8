//! End-to-end tests of the request-reply protocol over real sockets on loopback: typed
//! calls, every error status, pipelining, timeouts, UDP retransmission, credentials,
//! fragmentation, and the blocking facade.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use courier::rpc::msg::AuthStat;
use courier::rpc::{
    AuthSys, CallError, CallOptions, Client, ClientConfig, Credentials, Fault, ProcId, Procedures, Server, ServerConfig,
};
use courier::transport::Endpoint;

const PROG: u32 = 0x2000_1000;

fn test_service() -> Procedures {
    Procedures::new()
        .typed(1, |s: String| async move { s.to_uppercase() })
        .typed(2, |(a, b): (i32, i32)| async move { a.wrapping_add(b) })
        .typed(3, |ms: u32| async move {
            tokio::time::sleep(Duration::from_millis(ms.into())).await;
            ms
        })
        .raw(4, |call| async move {
            match call.credentials {
                Credentials::Sys(sys) => courier::rpc::encode_results(&(sys.uid, sys.gid, sys.machine_name, sys.gids)),
                _ => Err(Fault::Auth(AuthStat::TooWeak)),
            }
        })
        .raw(5, |_| async { Err(Fault::SystemErr) })
        .typed(6, |b: courier_xdr::Opaque| async move { b })
        .typed(7, |()| async move {
            if true {
                panic!("a bug in a procedure");
            }
        })
}

fn server(config: ServerConfig) -> Server {
    Server::builder().register(PROG, 2, test_service()).register(PROG, 5, test_service()).config(config).build()
}

async fn start(endpoint: &str) -> (courier::rpc::Listening, Client) {
    start_with(endpoint, ServerConfig::default(), ClientConfig::default()).await
}

async fn start_with(endpoint: &str, sc: ServerConfig, cc: ClientConfig) -> (courier::rpc::Listening, Client) {
    let listening = server(sc).listen(&endpoint.parse().unwrap()).await.unwrap();
    let client = Client::connect(listening.endpoint(), cc).await.unwrap();
    (listening, client)
}

fn unix_endpoint(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("courier-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    format!("unix://{}", dir.join("rpc.sock").display())
}

async fn exercise(client: &Client) {
    let up: String = client.call(PROG, 2, 1, "hello").await.unwrap();
    assert_eq!(up, "HELLO");
    let sum: i32 = client.call(PROG, 5, 2, &(40, 2)).await.unwrap();
    assert_eq!(sum, 42);
    client.null(PROG, 2).await.unwrap();
}

#[tokio::test]
async fn typed_calls_work_over_tcp_udp_unix_and_ipv6() {
    for endpoint in
        ["tcp://127.0.0.1:0", "udp://127.0.0.1:0", "tcp://[::1]:0", "udp://[::1]:0", &unix_endpoint("typed")]
    {
        let (_l, client) = start(endpoint).await;
        exercise(&client).await;
    }
}

#[tokio::test]
async fn every_error_status_reaches_the_caller() {
    for endpoint in ["tcp://127.0.0.1:0", "udp://127.0.0.1:0"] {
        let (_l, client) = start(endpoint).await;
        let err = client.null(PROG + 1, 1).await.unwrap_err();
        assert!(matches!(err, CallError::ProgUnavail { .. }), "{err}");
        let err = client.null(PROG, 3).await.unwrap_err();
        assert!(matches!(err, CallError::ProgMismatch { low: 2, high: 5, .. }), "{err}");
        assert!(err.to_string().contains("versions 2-5"), "{err}");
        let err = client.call::<_, ()>(PROG, 2, 99, &()).await.unwrap_err();
        assert!(matches!(err, CallError::ProcUnavail { .. }), "{err}");
        let err = client.call::<_, String>(PROG, 2, 1, &7u32).await.unwrap_err();
        assert!(matches!(err, CallError::GarbageArgs { .. }), "{err}");
        let err = client.call::<_, ()>(PROG, 2, 5, &()).await.unwrap_err();
        assert!(matches!(err, CallError::SystemErr { .. }), "{err}");
        let err = client.call::<_, ()>(PROG, 2, 4, &()).await.unwrap_err();
        assert!(matches!(err, CallError::Auth { stat: AuthStat::TooWeak, .. }), "{err}");
        let err = client.call::<_, ()>(PROG, 2, 7, &()).await.unwrap_err();
        assert!(matches!(err, CallError::SystemErr { .. }), "a panic: {err}");
        let err = client.call::<_, u64>(PROG, 2, 2, &(1, 2)).await.unwrap_err();
        assert!(matches!(err, CallError::Decode { .. }), "{err}");
    }
}

#[tokio::test]
async fn the_server_reads_auth_sys_credentials() {
    let sys = AuthSys { stamp: 1, machine_name: "box".into(), uid: 1234, gid: 5678, gids: vec![10, 20, 30] };
    let config = ClientConfig { credential: sys.to_opaque_auth().unwrap(), ..ClientConfig::default() };
    for endpoint in ["tcp://127.0.0.1:0", "udp://127.0.0.1:0"] {
        let (_l, client) = start_with(endpoint, ServerConfig::default(), config.clone()).await;
        let seen: (u32, u32, String, Vec<u32>) = client.call(PROG, 2, 4, &()).await.unwrap();
        assert_eq!(seen, (1234, 5678, "box".to_owned(), vec![10, 20, 30]));
    }
}

#[tokio::test]
async fn many_calls_in_flight_on_one_connection_are_matched_by_xid() {
    let (_l, client) = start("tcp://127.0.0.1:0").await;
    // Later calls sleep less, so replies come back in a different order than calls went.
    let calls = (0..200u32).map(|i| {
        let client = client.clone();
        async move { (i, client.call::<_, u32>(PROG, 2, 3, &(200 - i)).await.unwrap()) }
    });
    let started = std::time::Instant::now();
    for (i, got) in futures_util::future::join_all(calls).await {
        assert_eq!(got, 200 - i);
    }
    assert!(started.elapsed() < Duration::from_secs(5), "calls were not concurrent: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_call_without_reply_times_out_and_the_connection_stays_usable() {
    let (_l, client) = start("tcp://127.0.0.1:0").await;
    let opts = CallOptions { timeout: Some(Duration::from_millis(100)), ..CallOptions::default() };
    let call = ProcId { prog: PROG, vers: 2, proc: 3 };
    let err = client.call_with::<_, u32>(call, &5_000u32, &opts).await.unwrap_err();
    assert!(matches!(err, CallError::Timeout { .. }), "{err}");
    assert!(err.is_no_reply());
    exercise(&client).await;
}

#[tokio::test]
async fn udp_calls_are_retransmitted_with_the_same_xid_until_answered() {
    // A raw UDP "server" that ignores the first three datagrams and answers the fourth.
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut buf = [0u8; 1024];
        let mut xids = Vec::new();
        let mut times = Vec::new();
        loop {
            let (n, from) = socket.recv_from(&mut buf).await.unwrap();
            xids.push(u32::from_be_bytes(buf[..4].try_into().unwrap()));
            times.push(std::time::Instant::now());
            if xids.len() == 4 {
                let mut reply = buf[..4].to_vec();
                reply.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
                reply.extend_from_slice(&7u32.to_be_bytes());
                socket.send_to(&reply, from).await.unwrap();
                assert!(n > 0);
                return (xids, times);
            }
        }
    });
    // The raw server answers no session probe: speak plain ONC RPC to it.
    let config = ClientConfig { retransmit: Duration::from_millis(20), session: false, ..ClientConfig::default() };
    let client = Client::connect(&Endpoint::Udp(addr), config).await.unwrap();
    let got: u32 = client.call(PROG, 1, 1, &()).await.unwrap();
    assert_eq!(got, 7);
    let (xids, times) = server.await.unwrap();
    assert!(xids.iter().all(|x| *x == xids[0]), "xids changed: {xids:?}");
    let gaps: Vec<_> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[2] > gaps[0], "no backoff: {gaps:?}");
}

#[tokio::test]
async fn a_udp_call_to_nobody_times_out() {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let config = ClientConfig {
        timeout: Duration::from_millis(300),
        retransmit: Duration::from_millis(50),
        ..ClientConfig::default()
    };
    let client = Client::connect(&Endpoint::Udp(addr), config).await.unwrap();
    let err = client.null(PROG, 1).await.unwrap_err();
    assert!(matches!(err, CallError::Timeout { .. }), "{err}");
    drop(socket);
}

#[tokio::test]
async fn large_messages_cross_many_fragments_both_ways() {
    let sc = ServerConfig { max_fragment: 1000, ..ServerConfig::default() };
    let cc = ClientConfig { max_fragment: 777, ..ClientConfig::default() };
    let (_l, client) = start_with("tcp://127.0.0.1:0", sc, cc).await;
    let data: Vec<u8> = (0..(1 << 20)).map(|i: u32| (i * 7 + 3) as u8).collect();
    let sent = courier_xdr::Opaque::from(data.clone());
    let got: courier_xdr::Opaque = client.call(PROG, 2, 6, &sent).await.unwrap();
    assert_eq!(&got[..], &data[..]);
}

#[tokio::test]
async fn do_operation_sends_encoded_arguments_and_returns_encoded_results() {
    let (_l, client) = start("tcp://127.0.0.1:0").await;
    let args = courier_xdr::to_bytes("abc").unwrap();
    let results =
        client.do_operation(ProcId { prog: PROG, vers: 2, proc: 1 }, args, &CallOptions::default()).await.unwrap();
    assert_eq!(results, Bytes::from_static(b"\0\0\0\x03ABC\0"));
}

#[tokio::test]
async fn a_record_over_the_server_limit_closes_that_connection_only() {
    let sc = ServerConfig { max_record: 64 * 1024, ..ServerConfig::default() };
    let (l, client) = start_with("tcp://127.0.0.1:0", sc, ClientConfig::default()).await;
    let big = courier_xdr::Opaque::from(vec![0u8; 100 * 1024]);
    let err = client.call::<_, courier_xdr::Opaque>(PROG, 2, 6, &big).await.unwrap_err();
    assert!(matches!(err, CallError::Closed { .. } | CallError::Io { .. }), "{err}");
    let other = Client::connect(l.endpoint(), ClientConfig::default()).await.unwrap();
    exercise(&other).await;
}

#[tokio::test]
async fn a_dropped_call_is_cancelled_and_later_calls_still_match() {
    let (_l, client) = start("tcp://127.0.0.1:0").await;
    let slow = client.call::<_, u32>(PROG, 2, 3, &300u32);
    assert!(tokio::time::timeout(Duration::from_millis(50), slow).await.is_err());
    for i in 0..5 {
        let got: u32 = client.call(PROG, 2, 3, &i).await.unwrap();
        assert_eq!(got, i);
    }
    tokio::time::sleep(Duration::from_millis(400)).await; // the late reply arrives and is dropped
    exercise(&client).await;
}

#[test]
fn the_blocking_client_is_the_async_one_driven_to_completion() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listening =
        runtime.block_on(server(ServerConfig::default()).listen(&"udp://127.0.0.1:0".parse().unwrap())).unwrap();
    let client = courier::blocking::Client::connect(listening.endpoint(), ClientConfig::default()).unwrap();
    let up: String = client.call(PROG, 2, 1, "blocking").unwrap();
    assert_eq!(up, "BLOCKING");
    client.null(PROG, 5).unwrap();
    assert!(matches!(client.null(PROG, 9), Err(CallError::ProgMismatch { low: 2, high: 5, .. })));
    let results = client
        .do_operation(
            ProcId { prog: PROG, vers: 2, proc: 2 },
            courier_xdr::to_bytes(&(1, 2)).unwrap(),
            &CallOptions::default(),
        )
        .unwrap();
    assert_eq!(&results[..], &[0, 0, 0, 3]);
}

#[tokio::test]
async fn get_request_and_send_reply_serve_a_connection_by_hand() {
    use courier::rpc::StreamEndpoint;
    use courier::transport::Peer;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Arc::new(AtomicU32::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        let (stream, peer) = listener.accept().await.unwrap();
        let (r, w) = stream.into_split();
        let mut endpoint = StreamEndpoint::new(r, w, Peer::Tcp(peer), &ServerConfig::default());
        while let Some(request) = endpoint.get_request().await.unwrap() {
            // Every ONC RPC server answers NULL (the client's first call is one).
            if request.call.header.proc == 0 {
                request.send_reply(Ok(Bytes::new())).await;
                continue;
            }
            count.fetch_add(1, Ordering::Relaxed);
            let n: u32 = request.call.args().unwrap();
            request.send_reply(courier::rpc::encode_results(&(n * 2))).await;
        }
    });
    let client = Client::connect(&Endpoint::Tcp(addr), ClientConfig::default()).await.unwrap();
    for n in 0..10u32 {
        let doubled: u32 = client.call(1, 1, 1, &n).await.unwrap();
        assert_eq!(doubled, n * 2);
    }
    assert_eq!(served.load(Ordering::Relaxed), 10);
}

/// A connection's queue of replies has room for as many calls as it takes in flight
/// (one here); a hand-written server that answers more at once waits for room instead
/// of losing them. On one thread the queue's writer cannot run between the answers, so
/// every answer after the first finds the queue full.
#[tokio::test]
async fn replies_beyond_the_queue_wait_for_room_and_all_arrive() {
    use courier::rpc::StreamEndpoint;
    use courier::transport::Peer;
    const CALLS: u32 = 8;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, peer) = listener.accept().await.unwrap();
        let (r, w) = stream.into_split();
        let config = ServerConfig { max_in_flight: 1, ..ServerConfig::default() };
        let mut endpoint = StreamEndpoint::new(r, w, Peer::Tcp(peer), &config);
        let mut held = Vec::new();
        while let Some(request) = endpoint.get_request().await.unwrap() {
            if request.call.header.proc == 0 {
                request.send_reply(Ok(Bytes::new())).await;
                continue;
            }
            held.push(request);
            if held.len() as u32 == CALLS {
                for request in held.drain(..) {
                    let n: u32 = request.call.args().unwrap();
                    request.send_reply(courier::rpc::encode_results(&(n * 2))).await;
                }
            }
        }
    });
    let client = Client::connect(&Endpoint::Tcp(addr), ClientConfig::default()).await.unwrap();
    let options = CallOptions { timeout: Some(Duration::from_secs(5)), ..CallOptions::default() };
    let calls = (0..CALLS).map(|n| {
        let (client, options) = (&client, &options);
        async move { client.call_with::<_, u32>(ProcId { prog: 1, vers: 1, proc: 1 }, &n, options).await }
    });
    let doubled: Vec<u32> = futures_util::future::join_all(calls).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(doubled, (0..CALLS).map(|n| n * 2).collect::<Vec<_>>());
}

/// A future that counts how often it is polled.
struct Counted<F> {
    polls: Arc<AtomicU32>,
    inner: std::pin::Pin<Box<F>>,
}

impl<F: std::future::Future> std::future::Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<F::Output> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        self.inner.as_mut().poll(cx)
    }
}

/// A caller that reads its own reply off the connection keeps it: handed over through
/// its channel, it would wake the caller's own task, which the runtime would then poll
/// again for nothing after every call. Calls one after the other, each answered after a
/// pause (so that the caller is parked when the reply comes), cost one poll each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_reads_its_own_reply_is_not_woken_again_for_it() {
    const CALLS: u32 = 20;
    for endpoint in ["tcp://127.0.0.1:0", "udp://127.0.0.1:0"] {
        let (_listening, client) = start(endpoint).await;
        let _: u32 = client.call(PROG, 2, 3, &0u32).await.unwrap();
        let polls = Arc::new(AtomicU32::new(0));
        let calls = Counted {
            polls: polls.clone(),
            inner: Box::pin(async move {
                for _ in 0..CALLS {
                    let _: u32 = client.call(PROG, 2, 3, &2u32).await.unwrap();
                }
            }),
        };
        tokio::spawn(calls).await.unwrap();
        let polls = polls.load(Ordering::SeqCst);
        assert!(polls <= CALLS + CALLS / 4, "{endpoint}: {CALLS} calls took {polls} polls");
    }
}

/// `Call::alone` is true exactly when nothing else of the call's connection was
/// received, running or waiting to be written: one call on its own connection is alone;
/// a call that comes while another of the connection runs, or with another in the same
/// write, is not; a datagram never is.
#[tokio::test]
async fn a_call_is_alone_only_when_its_connection_has_nothing_else() {
    use courier::rpc::msg::CallHeader;
    use courier::rpc::OpaqueAuth;
    use courier_test_support::wire;
    use tokio::io::AsyncWriteExt;
    let service = Procedures::new()
        .raw(1, |call| async move { courier::rpc::encode_results(&call.alone()) })
        .typed(2, |ms: u32| async move { tokio::time::sleep(Duration::from_millis(ms.into())).await });
    let server = Server::builder().register(PROG, 1, service).build();
    let tcp = server.listen(&"tcp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let udp = server.listen(&"udp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (alone, options) = (ProcId { prog: PROG, vers: 1, proc: 1 }, CallOptions::default());

    let client = Client::connect(tcp.endpoint(), ClientConfig::default()).await.unwrap();
    assert!(client.call_with::<_, bool>(alone, &(), &options).await.unwrap());
    // Behind a call that is still running on the same connection.
    let slow = client.call_with::<_, ()>(ProcId { proc: 2, ..alone }, &300u32, &options);
    let behind = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        client.call_with::<_, bool>(alone, &(), &options).await.unwrap()
    };
    let (slow, behind) = tokio::join!(slow, behind);
    slow.unwrap();
    assert!(!behind, "a call behind a running one is not alone");
    assert!(client.call_with::<_, bool>(alone, &(), &options).await.unwrap());

    // Two calls in one write: the first has the second received behind it.
    let Endpoint::Tcp(addr) = tcp.endpoint() else { unreachable!() };
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut both = Vec::new();
    for xid in [1u32, 2] {
        let header = CallHeader { xid, prog: PROG, vers: 1, proc: 1, cred: OpaqueAuth::NONE, verf: OpaqueAuth::NONE };
        let mut message = bytes::BytesMut::new();
        header.encode(&mut message);
        both.extend(wire::record(&message));
    }
    stream.write_all(&both).await.unwrap();
    let mut answers = Vec::new();
    for _ in 0..2 {
        // xid, REPLY, MSG_ACCEPTED, verifier (2 words), SUCCESS, then the bool.
        let word = wire::read_record_words(&mut stream).await;
        assert_eq!((word[1], word[2], word[5]), (1, 0, 0), "call {} not answered", word[0]);
        answers.push((word[0], word[6] == 1));
    }
    answers.sort();
    // The first had the second received behind it; the second, the first's reply not
    // yet written.
    assert_eq!(answers, [(1, false), (2, false)]);

    let client = Client::connect(udp.endpoint(), ClientConfig::default()).await.unwrap();
    assert!(!client.call_with::<_, bool>(alone, &(), &options).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_are_served_concurrently() {
    for endpoint in ["tcp://127.0.0.1:0", "udp://127.0.0.1:0"] {
        let listening = server(ServerConfig::default()).listen(&endpoint.parse().unwrap()).await.unwrap();
        let clients = (0..32u32).map(|c| {
            let endpoint = listening.endpoint().clone();
            tokio::spawn(async move {
                let client = Client::connect(&endpoint, ClientConfig::default()).await.unwrap();
                for i in 0..20 {
                    let sum: i32 = client.call(PROG, 2, 2, &(c as i32, i)).await.unwrap();
                    assert_eq!(sum, c as i32 + i);
                }
            })
        });
        for task in futures_util::future::join_all(clients).await {
            task.unwrap();
        }
    }
}
