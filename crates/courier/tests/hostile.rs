//! Malformed and malicious clients against a real server on loopback, while well-behaved
//! clients keep calling: every hostile connection gets an error reply or a closed
//! connection, and every well-behaved call succeeds.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use courier::rpc::{Client, ClientConfig, Procedures, Server, ServerConfig};
use courier::transport::Endpoint;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const PROG: u32 = 0x2000_2000;
const RECORD_TIMEOUT: Duration = Duration::from_millis(500);

fn be(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

fn record(payload: &[u8]) -> Vec<u8> {
    let mut out = (0x8000_0000u32 | payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// A call header with the given RPC version and credential, then `args`.
fn call(xid: u32, rpcvers: u32, proc: u32, cred: (u32, &[u8]), args: &[u8]) -> Vec<u8> {
    let mut m = be(&[xid, 0, rpcvers, PROG, 1, proc, cred.0, cred.1.len() as u32]);
    m.extend_from_slice(cred.1);
    m.resize(m.len() + (4 - cred.1.len() % 4) % 4, 0);
    m.extend_from_slice(&be(&[0, 0]));
    m.extend_from_slice(args);
    m
}

/// Reads until EOF or reset; fails if the server neither closes nor answers in time.
async fn expect_closed(stream: &mut TcpStream, within: Duration) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the server neither closed the connection nor answered within {within:?}"),
        }
    }
}

/// Reads one reply record and returns its words after the xid.
async fn read_reply(stream: &mut TcpStream) -> Vec<u32> {
    courier_test_support::wire::read_record_words(stream).await.split_off(1)
}

struct Bystanders {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Well-behaved clients calling echo in a loop on TCP and UDP; any failure panics.
async fn bystanders(endpoints: &[Endpoint]) -> Bystanders {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for endpoint in endpoints {
        for _ in 0..2 {
            let config = ClientConfig { timeout: Duration::from_secs(5), ..ClientConfig::default() };
            let client = Client::connect(endpoint, config).await.unwrap();
            let (stop, done) = (stop.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let got: u32 =
                        client.call(PROG, 1, 1, &i).await.unwrap_or_else(|e| panic!("bystander call failed: {e}"));
                    assert_eq!(got, i);
                    done.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }));
        }
    }
    Bystanders { stop, done, tasks }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_are_cut_off_while_others_are_served() {
    let config = ServerConfig { record_timeout: RECORD_TIMEOUT, max_in_flight: 16, ..ServerConfig::default() };
    let server = Server::builder()
        .register(
            PROG,
            1,
            Procedures::new().typed(1, |x: u32| async move { x }).typed(2, |b: courier_xdr::Opaque| async move { b }),
        )
        .config(config)
        .build();
    let tcp = server.listen(&"tcp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let udp = server.listen(&"udp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let Endpoint::Tcp(addr) = tcp.endpoint().clone() else { unreachable!() };
    let Endpoint::Udp(uaddr) = udp.endpoint().clone() else { unreachable!() };
    let bystanders = bystanders(&[tcp.endpoint().clone(), udp.endpoint().clone()]).await;
    let connect = || TcpStream::connect(addr);

    // HTTP sent to an RPC port: the "record header" announces over 1 GB.
    let mut s = connect().await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    expect_closed(&mut s, Duration::from_secs(2)).await;

    // A record header announcing 4 GiB - 1, and nothing else.
    let mut s = connect().await.unwrap();
    s.write_all(&[0xff; 4]).await.unwrap();
    expect_closed(&mut s, Duration::from_secs(2)).await;

    // A half-sent record: closed after the record timeout, not before.
    let mut s = connect().await.unwrap();
    s.write_all(&[0x80, 0, 0, 100, 1, 2, 3, 4, 5, 6, 7, 8]).await.unwrap();
    let waited = expect_closed(&mut s, Duration::from_secs(3)).await;
    assert!(waited >= RECORD_TIMEOUT - Duration::from_millis(100), "closed after {waited:?}");

    // A flood of empty fragments that never ends a record.
    let mut s = connect().await.unwrap();
    let flood = vec![0u8; 4 * 20_000];
    let _ = s.write_all(&flood).await;
    expect_closed(&mut s, Duration::from_secs(2)).await;

    // A call that is too short to be a call.
    let mut s = connect().await.unwrap();
    s.write_all(&record(&be(&[9, 0, 2]))).await.unwrap();
    expect_closed(&mut s, Duration::from_secs(2)).await;

    // RPC version 3: answered RPC_MISMATCH (MSG_DENIED, RPC_MISMATCH, 2, 2); the
    // connection stays usable for a good call after it.
    let mut s = connect().await.unwrap();
    s.write_all(&record(&call(1, 3, 1, (0, b""), &be(&[5])))).await.unwrap();
    assert_eq!(read_reply(&mut s).await, vec![1, 1, 0, 2, 2]);
    // An AUTH_SYS credential whose body is garbage: AUTH_ERROR / AUTH_BADCRED.
    s.write_all(&record(&call(2, 2, 1, (1, b"junk"), &be(&[5])))).await.unwrap();
    assert_eq!(read_reply(&mut s).await, vec![1, 1, 1, 1]);
    // Arguments that do not decode: GARBAGE_ARGS.
    s.write_all(&record(&call(3, 2, 1, (0, b""), &[1, 2]))).await.unwrap();
    assert_eq!(read_reply(&mut s).await, vec![1, 0, 0, 0, 4]);
    s.write_all(&record(&call(4, 2, 1, (0, b""), &be(&[77])))).await.unwrap();
    assert_eq!(read_reply(&mut s).await, vec![1, 0, 0, 0, 0, 77]);

    // A client that pipelines thousands of calls and never reads the replies: the server
    // stops reading from it, and nobody else notices.
    let mut greedy = connect().await.unwrap();
    let mut burst = Vec::new();
    for xid in 0..2_000u32 {
        burst.extend_from_slice(&record(&call(xid, 2, 2, (0, b""), &[&be(&[4096])[..], &[7u8; 4096][..]].concat())));
    }
    let writer = tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(2), greedy.write_all(&burst)).await;
        greedy
    });

    // Garbage datagrams on UDP are dropped.
    let junk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for n in [0usize, 3, 8, 24, 1000] {
        junk.send_to(&vec![0xee; n], uaddr).await.unwrap();
    }
    junk.send_to(&call(5, 3, 1, (0, b""), &be(&[1])), uaddr).await.unwrap();
    let mut buf = [0u8; 128];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), junk.recv_from(&mut buf)).await.unwrap().unwrap();
    assert_eq!(&buf[..n], &be(&[5, 1, 1, 0, 2, 2])[..], "RPC_MISMATCH over UDP");

    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = bystanders.done.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(bystanders.done.load(Ordering::Relaxed) > before, "bystanders stalled behind the greedy client");
    drop(writer.await.unwrap());

    bystanders.stop.store(true, Ordering::Relaxed);
    for t in bystanders.tasks {
        t.await.expect("a well-behaved client's call failed");
    }
    assert!(bystanders.done.load(Ordering::Relaxed) > 100);
}
