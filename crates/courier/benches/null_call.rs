//! The latency of one NULL call and one 4 KiB echo through courier's client and server
//! on loopback, over TCP, UDP and a Unix socket, one call at a time. Whole-system
//! throughput with many calls in flight is `courier bench`'s job.
//!
//! `cargo bench -p courier --bench null_call`

use courier::rpc::{Client, ClientConfig, Server};
use courier::transport::Endpoint;
use courier_xdr::Opaque;
use criterion::{criterion_main, Criterion};

fn null_call(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server =
        Server::builder().register(courier::diag::PROGRAM, courier::diag::VERSION, courier::diag::service()).build();
    let sock = std::env::temp_dir().join(format!("courier-bench-{}.sock", std::process::id()));
    let endpoints: Vec<Endpoint> =
        vec!["tcp://127.0.0.1:0".parse().unwrap(), "udp://127.0.0.1:0".parse().unwrap(), Endpoint::Unix(sock.clone())];
    let mut group = c.benchmark_group("rpc");
    for endpoint in endpoints {
        let listening = rt.block_on(server.listen(&endpoint)).unwrap();
        let client = rt.block_on(Client::connect(listening.endpoint(), ClientConfig::default())).unwrap();
        let name = listening.endpoint().to_string();
        let scheme = name.split(':').next().unwrap_or("?").to_owned();
        group.bench_function(format!("null/{scheme}"), |b| {
            b.iter(|| rt.block_on(client.null(courier::diag::PROGRAM, courier::diag::VERSION)).unwrap())
        });
        let payload = Opaque::from(vec![7u8; 4096]);
        group.bench_function(format!("echo_4k/{scheme}"), |b| {
            b.iter(|| {
                let back: Opaque = rt
                    .block_on(client.call(
                        courier::diag::PROGRAM,
                        courier::diag::VERSION,
                        courier::diag::ECHO,
                        &payload,
                    ))
                    .unwrap();
                back
            })
        });
    }
    group.finish();
    let _ = std::fs::remove_file(sock);
}

// `criterion_group!` makes a `pub fn`; inside a private module it needs no doc.
mod group {
    criterion::criterion_group!(benches, super::null_call);
}
criterion_main!(group::benches);
