//! courier as a client of the machine's binder: against Debian's real rpcbind, started by
//! the test in a network namespace of its own (port 111 is the test's there), a courier
//! server registers its programs, `rpcinfo` sees and calls them, a courier client finds
//! them, and a courier client finds a libtirpc C server that registered itself.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use courier::binder::{BinderClient, LocateError, Rpcb, Transport};
use courier::rpc::{Client, ClientConfig, Procedures, Server};
use courier::transport::Endpoint;
use courier_test_support::{in_private_network, CServer, Rpcbind};

const PROG: u32 = 0x2000_3000;
const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// Runs an async test body on the namespaced thread.
fn run<F: std::future::Future<Output = ()>>(body: impl FnOnce() -> F + Send) {
    in_private_network(|| {
        let _rpcbind = Rpcbind::start();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(body());
    });
}

async fn rpcinfo(args: &[&str]) -> (bool, String) {
    let out = tokio::process::Command::new("rpcinfo").args(args).output().await.expect("run rpcinfo");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn a_courier_server_registers_and_rpcinfo_sees_and_calls_it() {
    run(|| async {
        let service = || Procedures::new().typed(1, |x: u32| async move { x + 1 });
        let server = Server::builder().register(PROG, 1, service()).register(PROG, 2, service()).build();
        let tcp = server.listen(&"tcp://127.0.0.1:0".parse().unwrap()).await.unwrap();
        let udp = server.listen(&"udp://127.0.0.1:0".parse().unwrap()).await.unwrap();
        let binder = BinderClient::on_host(LOCALHOST, Transport::Tcp).await.unwrap();
        for vers in [1, 2] {
            assert!(binder.register(PROG, vers, tcp.endpoint()).await.unwrap());
            assert!(binder.register(PROG, vers, udp.endpoint()).await.unwrap());
        }
        let Endpoint::Tcp(tcp_addr) = *tcp.endpoint() else { unreachable!("a TCP listener") };
        let Endpoint::Udp(udp_addr) = *udp.endpoint() else { unreachable!("a UDP socket") };

        // rpcinfo -p lists it (PMAP v2 DUMP), rpcinfo -s (RPCB v3 DUMP) too.
        let (ok, listing) = rpcinfo(&["-p", "127.0.0.1"]).await;
        assert!(ok, "{listing}");
        for (vers, proto, port) in [(1, "tcp", tcp_addr.port()), (2, "udp", udp_addr.port())] {
            let line = format!("{PROG:>10}{vers:>5}{proto:>6}{port:>7}");
            assert!(listing.lines().any(|l| l.starts_with(&line)), "no `{line}` in\n{listing}");
        }
        let (ok, summary) = rpcinfo(&["-s", "127.0.0.1"]).await;
        assert!(ok, "{summary}");
        assert!(summary.lines().any(|l| l.trim_start().starts_with(&format!("{PROG}  2,1"))), "{summary}");

        // rpcinfo -T finds it through GETADDR and calls NULL on it.
        for proto in ["tcp", "udp"] {
            let (ok, out) = rpcinfo(&["-T", proto, "127.0.0.1", &PROG.to_string(), "2"]).await;
            assert!(ok, "{out}");
            assert_eq!(out.trim(), format!("program {PROG} version 2 ready and waiting"));
        }

        // A courier client finds it the same way.
        for transport in [Transport::Tcp, Transport::Udp] {
            let client =
                Client::connect_via_binder(LOCALHOST, PROG, 1, transport, ClientConfig::default()).await.unwrap();
            let n: u32 = client.call(PROG, 1, 1, &41u32).await.unwrap();
            assert_eq!(n, 42);
        }
        assert_eq!(binder.locate(PROG, 2).await.unwrap(), tcp_addr);
        let over_udp = BinderClient::on_host(LOCALHOST, Transport::Udp).await.unwrap();
        assert_eq!(over_udp.locate(PROG, 2).await.unwrap(), udp_addr);
        let entries = binder.dump().await.unwrap();
        assert!(entries.iter().any(|e| e.prog == PROG && e.vers == 1 && e.netid == "tcp"), "{entries:?}");

        // A SET of a program version and netid registered at another address is refused;
        // UNSET removes the registration, for rpcinfo too.
        let elsewhere = std::net::SocketAddr::new(tcp_addr.ip(), tcp_addr.port().wrapping_add(1));
        let again = Rpcb {
            prog: PROG,
            vers: 1,
            netid: "tcp".into(),
            addr: courier::binder::uaddr::to_uaddr(elsewhere),
            owner: String::new(),
        };
        assert!(!binder.set(&again).await.unwrap(), "a conflicting SET answers FALSE");
        assert!(binder.unregister(PROG, 1, tcp.endpoint()).await.unwrap());
        // GETADDR still answers for version 1 with version 2's address (rpcbind lets the
        // server tell the caller its versions), until no version is left on TCP.
        assert_eq!(binder.locate(PROG, 1).await.unwrap(), tcp_addr);
        assert!(binder.unregister(PROG, 2, tcp.endpoint()).await.unwrap());
        let err = binder.locate(PROG, 1).await.unwrap_err();
        assert!(matches!(err, LocateError::NotRegistered { prog: PROG, vers: 1, .. }), "{err}");
        assert_eq!(over_udp.locate(PROG, 1).await.unwrap(), udp_addr, "UDP registrations stay");
        let (ok, out) = rpcinfo(&["-T", "tcp", "127.0.0.1", &PROG.to_string(), "1"]).await;
        assert!(!ok && out.contains("Program not registered"), "{out}");
    });
}

#[test]
fn a_courier_client_finds_a_c_server_that_registered_itself() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/build.sh");
    let peers = courier_test_support::build_c_peers(&script, &[], tmp, "binder-c");
    run(|| async move {
        // libtirpc registers over [::1]:111 (no local socket outside rpcbind's /run).
        let c = CServer::start_with(&peers.join("interop_server"), &["--register"]);
        const INTEROP: u32 = 0x2043_4F55;
        let binder = BinderClient::on_host(LOCALHOST, Transport::Tcp).await.unwrap();
        let mut found = None;
        for _ in 0..100 {
            if let Ok(addr) = binder.locate(INTEROP, 1).await {
                found = Some(addr);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(found.map(|a| a.port()), Some(c.tcp), "the C server's TCP registration");
        assert_eq!(binder.pmap_getport(INTEROP, 1, Transport::Udp).await.unwrap(), c.udp);
        for transport in [Transport::Tcp, Transport::Udp] {
            let client =
                Client::connect_via_binder(LOCALHOST, INTEROP, 1, transport, ClientConfig::default()).await.unwrap();
            client.null(INTEROP, 1).await.unwrap();
        }
        // GETADDR answers for another version of a registered program (so that the
        // caller learns the versions from PROG_MISMATCH), and not for an unknown one.
        let client =
            Client::connect_via_binder(LOCALHOST, INTEROP, 7, Transport::Tcp, ClientConfig::default()).await.unwrap();
        let err = client.null(INTEROP, 7).await.unwrap_err();
        assert!(matches!(err, courier::rpc::CallError::ProgMismatch { low: 1, high: 1, .. }), "{err}");
        let err = Client::connect_via_binder(LOCALHOST, INTEROP + 1, 1, Transport::Udp, ClientConfig::default())
            .await
            .unwrap_err();
        assert!(matches!(err, LocateError::NotRegistered { .. }), "{err}");
    });
}
