//! courier's own binder (`binder::Binder`), served on ephemeral loopback ports and used
//! through courier's binder client: the rpcbind and port mapper procedures agree with
//! each other and with the rules of `binder::table`.

use courier::binder::{Binder, BinderClient, Mapping, Rpcb, Table};
use courier::rpc::{ClientConfig, Server};
use courier::transport::Endpoint;

async fn binder_on(scheme: &str) -> (courier::rpc::Listening, BinderClient) {
    let server = Binder::new(Table::default()).serve(Server::builder()).build();
    let listening = server.listen(&format!("{scheme}://127.0.0.1:0").parse().unwrap()).await.unwrap();
    let client = BinderClient::connect(listening.endpoint(), ClientConfig::default()).await.unwrap();
    (listening, client)
}

#[tokio::test]
async fn registrations_are_kept_and_answered_over_both_protocols() {
    for scheme in ["tcp", "udp"] {
        let (_listening, binder) = binder_on(scheme).await;
        let served: Endpoint = "udp://127.0.0.1:2049".parse().unwrap();
        assert!(binder.register(0x2000_0009, 3, &served).await.unwrap());
        assert!(binder.register(0x2000_0009, 3, &"tcp://127.0.0.1:2050".parse().unwrap()).await.unwrap());
        let entries = binder.dump().await.unwrap();
        assert_eq!(entries.len(), 2);
        assert!(entries.iter().all(|e| e.owner == "unknown"), "the binder decides the owner: {entries:?}");
        assert_eq!(binder.getaddr(0x2000_0009, 3, "udp").await.unwrap().as_deref(), Some("127.0.0.1.8.1"));
        assert_eq!(
            binder.getaddr(0x2000_0009, 7, "tcp").await.unwrap().as_deref(),
            Some("127.0.0.1.8.2"),
            "another version"
        );
        assert_eq!(binder.getaddr(0x2000_0010, 1, "tcp").await.unwrap(), None);
        assert_eq!(binder.pmap_getport(0x2000_0009, 3, courier::binder::Transport::Udp).await.unwrap(), 2049);
        let mappings = binder.pmap_dump().await.unwrap();
        assert!(mappings.contains(&Mapping { prog: 0x2000_0009, vers: 3, prot: 17, port: 2049 }), "{mappings:?}");
        // A conflicting registration is refused; the port mapper's view agrees.
        let conflict = Rpcb {
            prog: 0x2000_0009,
            vers: 3,
            netid: "udp".into(),
            addr: "127.0.0.1.9.9".into(),
            owner: String::new(),
        };
        assert!(!binder.set(&conflict).await.unwrap());
        assert!(binder.pmap_set(&Mapping { prog: 0x2000_0011, vers: 1, prot: 6, port: 4000 }).await.unwrap());
        assert_eq!(
            binder.getaddr(0x2000_0011, 1, "tcp").await.unwrap().as_deref(),
            Some("127.0.0.1.15.160"),
            "0.0.0.0 becomes reachable"
        );
        assert!(binder.unregister(0x2000_0009, 3, &served).await.unwrap());
        assert_eq!(binder.getaddr(0x2000_0009, 3, "udp").await.unwrap(), None);
        let time: u32 = binder.rpc().call(100_000, 3, 6, &()).await.unwrap();
        assert!(time > 1_700_000_000);
    }
}

#[tokio::test]
async fn the_binder_calls_registered_programs_on_a_callers_behalf() {
    use courier::binder::protocol::{PmapCallResult, RmtCallArgs, RmtCallRes, VersionStat};
    use courier::rpc::{CallError, CallOptions, ProcId};
    use courier_xdr::Opaque;
    use std::time::Duration;

    let diag = Server::builder().register(courier::diag::PROGRAM, 1, courier::diag::service()).build();
    let diag_udp = diag.listen(&"udp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (_listening, binder) = binder_on("udp").await;
    assert!(binder.register(courier::diag::PROGRAM, 1, diag_udp.endpoint()).await.unwrap());
    let Endpoint::Udp(diag_addr) = *diag_udp.endpoint() else { unreachable!("a UDP socket") };

    let echo = |text: &str| RmtCallArgs {
        prog: courier::diag::PROGRAM,
        vers: 1,
        proc: courier::diag::ECHO,
        args: Opaque::from(courier_xdr::to_bytes(&Opaque::from(text.as_bytes().to_vec())).unwrap()),
    };
    let rpc = binder.rpc();
    let v2: PmapCallResult = rpc.call(100_000, 2, 5, &echo("through the port mapper")).await.unwrap();
    assert_eq!(v2.port, u32::from(diag_addr.port()));
    assert_eq!(courier_xdr::from_bytes::<Opaque>(v2.res.into_bytes()).unwrap().as_ref(), b"through the port mapper");
    let v3: RmtCallRes = rpc.call(100_000, 3, 5, &echo("through rpcbind")).await.unwrap();
    assert_eq!(v3.addr, courier::binder::uaddr::to_uaddr(diag_addr));
    assert_eq!(courier_xdr::from_bytes::<Opaque>(v3.results.into_bytes()).unwrap().as_ref(), b"through rpcbind");
    let v4: RmtCallRes = rpc.call(100_000, 4, 10, &echo("indirectly")).await.unwrap();
    assert_eq!(courier_xdr::from_bytes::<Opaque>(v4.results.into_bytes()).unwrap().as_ref(), b"indirectly");

    // INDIRECT answers failures; CALLIT says nothing (it serves broadcasts), and neither
    // calls the binder itself.
    let unknown = RmtCallArgs { prog: 0x2000_0404, ..echo("x") };
    let err = rpc.call::<_, RmtCallRes>(100_000, 4, 10, &unknown).await.unwrap_err();
    assert!(matches!(err, CallError::ProgUnavail { .. }), "{err}");
    let itself = RmtCallArgs { prog: 100_000, vers: 2, proc: 4, args: Opaque::from(Vec::new()) };
    let err = rpc.call::<_, RmtCallRes>(100_000, 4, 10, &itself).await.unwrap_err();
    assert!(matches!(err, CallError::ProcUnavail { .. }), "{err}");
    let quick = CallOptions { timeout: Some(Duration::from_millis(300)), ..CallOptions::default() };
    let err = rpc
        .call_with::<_, PmapCallResult>(ProcId { prog: 100_000, vers: 2, proc: 5 }, &itself, &quick)
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Timeout { .. }), "CALLIT to itself is answered: {err}");

    let stats: [VersionStat; 3] = rpc.call(100_000, 4, 12, &()).await.unwrap();
    let v2_calls = &stats[0].rmtinfo.0;
    assert!(
        v2_calls.iter().any(|s| s.prog == courier::diag::PROGRAM && s.success == 1 && s.indirect == 0),
        "{stats:?}"
    );
    assert!(stats[2].rmtinfo.0.iter().any(|s| s.prog == 0x2000_0404 && s.failure == 1 && s.indirect == 1), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_an_error_and_the_binder_keeps_answering() {
    use tokio::io::AsyncWriteExt;

    let server = Binder::new(Table::default()).serve(Server::builder()).build();
    let tcp = server.listen(&"tcp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let udp = server.listen(&"udp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (Endpoint::Tcp(tcp_addr), Endpoint::Udp(udp_addr)) = (tcp.endpoint().clone(), udp.endpoint().clone()) else {
        unreachable!("TCP and UDP endpoints")
    };
    let bystander = BinderClient::connect(tcp.endpoint(), ClientConfig::default()).await.unwrap();
    assert!(bystander.register(0x2000_0050, 1, &"tcp://127.0.0.1:5050".parse().unwrap()).await.unwrap());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut answered = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let addr = bystander.getaddr(0x2000_0050, 1, "tcp").await.expect("the binder stopped answering");
                assert_eq!(addr.as_deref(), Some("127.0.0.1.19.186"));
                answered += 1;
            }
            answered
        }
    });

    use courier_test_support::wire::{read_record_words, record, words};
    // xid, CALL, RPC 2, binder, v4, SET, AUTH_NONE, AUTH_NONE, then the arguments.
    let call = |xid: u32, args: &[u32]| record(&[words(&[xid, 0, 2, 100_000, 4, 1, 0, 0, 0, 0]), words(args)].concat());
    let mut s = tokio::net::TcpStream::connect(tcp_addr).await.unwrap();
    // A SET cut short, then one whose netid claims 4 GiB - 16 bytes: GARBAGE_ARGS both.
    s.write_all(&call(1, &[0x2000_0060, 1])).await.unwrap();
    s.write_all(&call(2, &[0x2000_0060, 1, 0xffff_fff0])).await.unwrap();
    let mut replies = Vec::new();
    for _ in 0..2 {
        replies.push(read_record_words(&mut s).await);
    }
    // Calls are served concurrently, so the replies may come in either order.
    replies.sort();
    assert_eq!(replies, [[1, 1, 0, 0, 0, 4], [2, 1, 0, 0, 0, 4]], "GARBAGE_ARGS for both");
    // A flood over UDP: garbage, and DUMPs nobody reads.
    let flood = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for i in 0..2_000u32 {
        let datagram =
            if i % 2 == 0 { vec![0xab; (i % 300) as usize] } else { words(&[i, 0, 2, 100_000, 3, 4, 0, 0, 0, 0]) };
        let _ = flood.send_to(&datagram, udp_addr).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answered = watcher.await.expect("the bystander's lookups all succeeded");
    assert!(answered > 10, "only {answered} lookups answered during the attack");
    let after = BinderClient::connect(udp.endpoint(), ClientConfig::default()).await.unwrap();
    assert!(after.dump().await.unwrap().iter().any(|e| e.prog == 0x2000_0050));
}

#[tokio::test]
async fn the_client_falls_back_to_older_binders() {
    for versions in [&[2u32, 3][..], &[2][..]] {
        let binder = Binder::new(Table::default());
        let server = binder.clone().serve_versions(Server::builder(), versions).build();
        let listening = server.listen(&"tcp://127.0.0.1:0".parse().unwrap()).await.unwrap();
        let client = BinderClient::connect(listening.endpoint(), ClientConfig::default()).await.unwrap();
        let served: Endpoint = "tcp://127.0.0.1:4321".parse().unwrap();
        assert!(client.register(0x2000_0077, 1, &served).await.unwrap(), "SET through versions {versions:?}");
        let Endpoint::Tcp(addr) = served else { unreachable!("a TCP endpoint") };
        assert_eq!(client.locate(0x2000_0077, 1).await.unwrap(), addr, "lookup through versions {versions:?}");
        assert!(binder.entries().iter().any(|e| e.prog == 0x2000_0077 && e.netid == "tcp"));
        assert!(client.unregister(0x2000_0077, 1, &served).await.unwrap());
        assert!(client.locate(0x2000_0077, 1).await.is_err());
    }
}
