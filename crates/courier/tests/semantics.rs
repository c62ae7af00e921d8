//! Invocation semantics over UDP: what the client sends when replies do not come
//! (maybe: once; at-least-once: again as new calls; at-most-once: again as the same
//! call), and the server's history of replies, which answers a retransmitted call
//! without running it again.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use courier::rpc::{CallError, Client, ClientConfig, Procedures, Semantics, Server, ServerConfig};
use courier::transport::Endpoint;
use tokio::net::UdpSocket;

const PROG: u32 = 0x2000_6000;

/// A server whose procedure 1 increments a counter: not idempotent.
async fn counter_server(config: ServerConfig) -> (courier::rpc::Listening, Arc<AtomicU32>) {
    let count = Arc::new(AtomicU32::new(0));
    let counter = count.clone();
    let service = Procedures::new().typed(1, move |()| {
        let counter = counter.clone();
        async move { counter.fetch_add(1, Ordering::SeqCst) + 1 }
    });
    let server = Server::builder().register(PROG, 1, service).config(config).build();
    (server.listen(&"udp://127.0.0.1:0".parse().unwrap()).await.unwrap(), count)
}

/// The same call datagram (one xid) sent three times; the replies received.
async fn send_thrice(to: &Endpoint) -> Vec<Vec<u8>> {
    let Endpoint::Udp(addr) = to else { unreachable!("a UDP endpoint") };
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let call: Vec<u8> = [0x77u32, 0, 2, PROG, 1, 1, 0, 0, 0, 0].iter().flat_map(|w| w.to_be_bytes()).collect();
    let mut replies = Vec::new();
    for _ in 0..3 {
        socket.send_to(&call, addr).await.unwrap();
        let mut buf = [0u8; 256];
        let (n, _) = tokio::time::timeout(Duration::from_secs(2), socket.recv_from(&mut buf)).await.unwrap().unwrap();
        replies.push(buf[..n].to_vec());
    }
    replies
}

#[tokio::test]
async fn a_retransmitted_call_is_answered_from_the_history_not_run_again() {
    let (listening, count) = counter_server(ServerConfig::default()).await;
    let replies = send_thrice(listening.endpoint()).await;
    assert_eq!(count.load(Ordering::SeqCst), 1, "the procedure ran more than once");
    assert!(replies.iter().all(|r| r == &replies[0]), "a replayed reply differs from the first");
    assert_eq!(&replies[0][24..28], &1u32.to_be_bytes(), "the reply carries the first run's result");
}

#[tokio::test]
async fn without_a_history_every_retransmission_runs_again() {
    let (listening, count) = counter_server(ServerConfig { reply_cache: 0, ..ServerConfig::default() }).await;
    let replies = send_thrice(listening.endpoint()).await;
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert_eq!(&replies[2][24..28], &3u32.to_be_bytes());
}

/// Calls a server that never answers, with the given semantics; returns the xid of every
/// datagram it received.
async fn xids_sent(semantics: Semantics) -> Vec<u32> {
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let config = ClientConfig {
        timeout: Duration::from_millis(400),
        retransmit: Duration::from_millis(40),
        semantics,
        // A silent socket answers no session probe: speak plain ONC RPC to it.
        session: false,
        ..ClientConfig::default()
    };
    let client = Client::connect(&Endpoint::Udp(addr), config).await.unwrap();
    let err = client.call::<_, ()>(PROG, 1, 1, &()).await.unwrap_err();
    assert!(matches!(err, CallError::Timeout { .. }), "{err}");
    let mut xids = Vec::new();
    let mut buf = [0u8; 256];
    while let Ok(Ok((n, _))) = tokio::time::timeout(Duration::from_millis(50), silent.recv_from(&mut buf)).await {
        assert!(n >= 4);
        xids.push(u32::from_be_bytes(buf[..4].try_into().unwrap()));
    }
    xids
}

#[tokio::test]
async fn maybe_sends_once_and_the_others_retransmit_as_they_promise() {
    let maybe = xids_sent(Semantics::Maybe).await;
    assert_eq!(maybe.len(), 1, "maybe retransmitted: {maybe:?}");
    let at_most = xids_sent(Semantics::AtMostOnce).await;
    assert!(at_most.len() >= 3, "{at_most:?}");
    assert!(at_most.iter().all(|x| *x == at_most[0]), "at-most-once changed its identity: {at_most:?}");
    let at_least = xids_sent(Semantics::AtLeastOnce).await;
    assert!(at_least.len() >= 3, "{at_least:?}");
    let distinct: std::collections::HashSet<_> = at_least.iter().collect();
    assert_eq!(distinct.len(), at_least.len(), "at-least-once reused an identity: {at_least:?}");
}

#[tokio::test]
async fn each_semantics_gets_the_reply_when_nothing_is_lost() {
    let (listening, count) = counter_server(ServerConfig::default()).await;
    for semantics in [Semantics::Maybe, Semantics::AtLeastOnce, Semantics::AtMostOnce] {
        let config = ClientConfig { semantics, ..ClientConfig::default() };
        let client = Client::connect(listening.endpoint(), config).await.unwrap();
        let _: u32 = client.call(PROG, 1, 1, &()).await.unwrap();
    }
    assert_eq!(count.load(Ordering::SeqCst), 3);
}
