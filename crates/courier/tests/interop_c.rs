//! Interoperability with the C ONC RPC stack Linux ships: a C client and a C server
//! built by `rpcgen` and libtirpc from `interop/interop.x` (see `interop/README.md`),
//! against courier's server and client, over TCP and UDP on 127.0.0.1.
//!
//! Values are compared exactly, through a canonical text both sides print (floats as
//! bit patterns): the C client prints what it decoded from courier, the C server
//! describes what it decoded from courier, so an encoding bug on either courier side
//! shows up even if a matching decoding bug would hide it in an echo.
//!
//! Needs gcc, rpcgen, pkg-config and libtirpc-dev (`scripts/test` installs them).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use courier_test_support::CServer;

use courier::rpc::{AuthSys, CallError, Client, ClientConfig, Credentials, Procedures, Server};
use courier::transport::Endpoint;
use courier_xdr::{BoundedString, BoundedVec, Opaque};

const PROG: u32 = 0x2043_4F55;
const VERS: u32 = 1;
const ECHO_PRIMS: u32 = 1;
const ECHO_COMPLEX: u32 = 2;
const DESCRIBE: u32 = 3;
const ECHO_BIG: u32 = 4;
const WHOAMI: u32 = 5;

#[allow(dead_code)]
#[path = "interop/interop_types.rs"]
mod interop_types;
use interop_types::*;

fn big(n: usize) -> Opaque {
    Opaque::from((0..n).map(|k| (k * 7 + 3) as u8).collect::<Vec<u8>>())
}

/// Builds the C peers once per test process.
fn c_peers() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/build.sh");
        courier_test_support::build_c_peers(&script, &[], Path::new(env!("CARGO_TARGET_TMPDIR")), "interop-c")
    })
}

fn courier_service() -> Procedures {
    Procedures::new()
        .typed(ECHO_PRIMS, |p: Prims| async move { p })
        .typed(ECHO_COMPLEX, |c: Complex| async move { c })
        .typed(DESCRIBE, |c: Complex| async move { describe_complex(&c) })
        .typed(ECHO_BIG, |b: Opaque| async move { b })
        .raw(WHOAMI, |call| async move {
            let mut res = WhoamiRes { flavor: call.credentials.flavor(), ..WhoamiRes::default() };
            if let Credentials::Sys(sys) = &call.credentials {
                res.stamp = sys.stamp;
                res.machine =
                    BoundedString::new(sys.machine_name.clone()).map_err(|_| courier::rpc::Fault::SystemErr)?;
                res.uid = sys.uid;
                res.gid = sys.gid;
                res.gids = BoundedVec::new(sys.gids.clone()).map_err(|_| courier::rpc::Fault::SystemErr)?;
            }
            courier::rpc::encode_results(&res)
        })
}

fn run_c_client(proto: &str, port: u16, args: &[&str]) -> String {
    courier_test_support::run_c_client(&c_peers().join("interop_client"), proto, port, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_c_client_calls_the_courier_server() {
    assert_eq!(describe_complex(&sample_complex()), SAMPLE_TEXT);
    let server = Server::builder().register(PROG, VERS, courier_service()).build();
    let tcp = server.listen(&"tcp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let udp = server.listen(&"udp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let port = |e: &Endpoint| match e {
        Endpoint::Tcp(a) | Endpoint::Udp(a) => a.port(),
        Endpoint::Unix(_) => unreachable!(),
    };
    let prims_line = format!("echo={}\n", describe_prims(&sample_prims()));
    let complex_lines = format!("echo={SAMPLE_TEXT}\ndescribe={SAMPLE_TEXT}\n");
    for (proto, port, big_len) in [("tcp", port(tcp.endpoint()), "1048576"), ("udp", port(udp.endpoint()), "30000")] {
        let c = |args: &'static [&'static str]| tokio::task::spawn_blocking(move || run_c_client(proto, port, args));
        assert_eq!(c(&["null"]).await.unwrap(), "null=ok\n");
        assert_eq!(c(&["prims"]).await.unwrap(), prims_line);
        assert_eq!(c(&["complex"]).await.unwrap(), complex_lines, "over {proto}");
        let big = tokio::task::spawn_blocking(move || run_c_client(proto, port, &["big", big_len])).await.unwrap();
        assert_eq!(big, format!("big={big_len} match\n"));
        assert_eq!(c(&["whoami"]).await.unwrap(), "flavor=1 machine=interop-host uid=1234 gid=5678 gids=10,20,30\n");
        assert_eq!(c(&["badproc"]).await.unwrap(), "error=10\n", "PROC_UNAVAIL over {proto}");
        assert_eq!(c(&["badvers"]).await.unwrap(), "error=9 low=1 high=1\n", "PROG_MISMATCH over {proto}");
        assert_eq!(c(&["garbage"]).await.unwrap(), "error=11\n", "GARBAGE_ARGS over {proto}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_courier_client_calls_the_c_server() {
    let c = CServer::start(&c_peers().join("interop_server"));
    let sys = AuthSys { stamp: 99, machine_name: "courier-host".into(), uid: 4321, gid: 8765, gids: vec![7, 8] };
    for (endpoint, big_len) in [
        (Endpoint::Tcp(([127, 0, 0, 1], c.tcp).into()), 1 << 20),
        (Endpoint::Udp(([127, 0, 0, 1], c.udp).into()), 30_000),
    ] {
        let client = Client::connect(&endpoint, ClientConfig::default()).await.unwrap();
        client.null(PROG, VERS).await.unwrap();
        let prims: Prims = client.call(PROG, VERS, ECHO_PRIMS, &sample_prims()).await.unwrap();
        assert_eq!(describe_prims(&prims), describe_prims(&sample_prims()));
        let complex: Complex = client.call(PROG, VERS, ECHO_COMPLEX, &sample_complex()).await.unwrap();
        assert_eq!(complex, sample_complex(), "echo over {endpoint}");
        let text: String = client.call(PROG, VERS, DESCRIBE, &sample_complex()).await.unwrap();
        assert_eq!(text, SAMPLE_TEXT, "what the C server decoded over {endpoint}");
        let data = big(big_len);
        let echoed: Opaque = client.call(PROG, VERS, ECHO_BIG, &data).await.unwrap();
        assert!(echoed == data, "big echo over {endpoint} differs");

        let err = client.call::<_, ()>(PROG, VERS, 99, &()).await.unwrap_err();
        assert!(matches!(err, CallError::ProcUnavail { .. }), "{err}");
        let err = client.null(PROG, 2).await.unwrap_err();
        assert!(matches!(err, CallError::ProgMismatch { low: 1, high: 1, .. }), "{err}");
        let err = client.null(PROG + 1, 1).await.unwrap_err();
        assert!(matches!(err, CallError::ProgUnavail { .. }), "{err}");

        let none: WhoamiRes = client.call(PROG, VERS, WHOAMI, &()).await.unwrap();
        assert_eq!(none, WhoamiRes::default(), "AUTH_NONE over {endpoint}");
        let config = ClientConfig { credential: sys.to_opaque_auth().unwrap(), ..ClientConfig::default() };
        let authed = Client::connect(&endpoint, config).await.unwrap();
        let seen: WhoamiRes = authed.call(PROG, VERS, WHOAMI, &()).await.unwrap();
        let expected = WhoamiRes {
            flavor: 1,
            stamp: 99,
            machine: BoundedString::new("courier-host").unwrap(),
            uid: 4321,
            gid: 8765,
            gids: BoundedVec::new(vec![7, 8]).unwrap(),
        };
        assert_eq!(seen, expected, "AUTH_SYS over {endpoint}");
    }
    // Garbage arguments, over TCP only: libtirpc's UDP server decodes past the end of the
    // datagram (from its stale receive buffer), so it cannot report GARBAGE_ARGS there.
    let client =
        Client::connect(&Endpoint::Tcp(([127, 0, 0, 1], c.tcp).into()), ClientConfig::default()).await.unwrap();
    let err = client.call::<_, Prims>(PROG, VERS, ECHO_PRIMS, &42i32).await.unwrap_err();
    assert!(matches!(err, CallError::GarbageArgs { .. }), "{err}");
}
