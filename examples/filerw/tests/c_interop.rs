//! FILEREADWRITE against C: the C client rpcgen builds from `filerw.x` calls the Rust
//! server generated from the same file, and the generated Rust client calls the C
//! server, over TCP and UDP on 127.0.0.1 (`c/README.md` has the C side).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use courier_test_support::CServer;

use courier::rpc::{ClientConfig, Server};
use courier::transport::Endpoint;
use filerw::{version, FileStore, Readargs, Writeargs};

fn c_peers() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("c/build.sh");
        courier_test_support::build_c_peers(&script, &[], Path::new(env!("CARGO_TARGET_TMPDIR")), "filerw-c")
    })
}

fn c_client(proto: &str, port: u16, args: &[&str]) -> String {
    courier_test_support::run_c_client(&c_peers().join("filerw_client"), proto, port, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_c_client_uses_the_rust_server() {
    for proto in ["tcp", "udp"] {
        let server = Server::builder().add_service(version::Dispatcher::new(FileStore::new())).build();
        let listening = server.listen(&format!("{proto}://127.0.0.1:0").parse().unwrap()).await.unwrap();
        let (Endpoint::Tcp(addr) | Endpoint::Udp(addr)) = *listening.endpoint() else { unreachable!("an IP endpoint") };
        let port = addr.port();
        let run = move |args: Vec<&'static str>| tokio::task::spawn_blocking(move || c_client(proto, port, &args));
        assert_eq!(run(vec!["script"]).await.unwrap(), "read=14 hello, courier\nread=0 \nread=0 \n", "over {proto}");
        assert_eq!(run(vec!["write", "5", "0", "abc"]).await.unwrap(), "write=ok\n");
        assert_eq!(run(vec!["read", "5", "1", "1"]).await.unwrap(), "read=1 b\n");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_uses_the_c_server() {
    let c = CServer::start(&c_peers().join("filerw_server"));
    for (file, endpoint) in
        [(3, Endpoint::Tcp(([127, 0, 0, 1], c.tcp).into())), (4, Endpoint::Udp(([127, 0, 0, 1], c.udp).into()))]
    {
        let client = version::Client::connect(&endpoint, ClientConfig::default()).await.unwrap();
        client.null().await.unwrap();
        client.write(&Writeargs { f: file, position: 0, data: filerw::data(b"hello, world") }).await.unwrap();
        client.write(&Writeargs { f: file, position: 7, data: filerw::data(b"courier") }).await.unwrap();
        let got = client.read(&Readargs { f: file, position: 0, length: 100 }).await.unwrap();
        assert_eq!(got.length, 14, "over {endpoint}");
        assert_eq!(&got.buffer[..14], b"hello, courier");
        assert!(got.buffer[14..].iter().all(|b| *b == 0));
        let past = client.read(&Readargs { f: file, position: 100, length: 10 }).await.unwrap();
        assert_eq!(past.length, 0);
    }
}
