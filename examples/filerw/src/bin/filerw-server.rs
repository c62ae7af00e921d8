//! The FILEREADWRITE server: serves a [`filerw::FileStore`] on TCP and UDP.
//!
//! `cargo run -p filerw --bin filerw-server -- [ADDR:PORT]` (default 127.0.0.1:0); it
//! prints the addresses it listens on. Try it with `filerw-client`, or with the C client
//! rpcgen builds from the same `filerw.x` (see `examples/filerw/c/`).

use courier::rpc::Server;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let server = Server::builder().add_service(filerw::version::Dispatcher::new(filerw::FileStore::new())).build();
    let tcp = server.listen(&format!("tcp://{addr}").parse()?).await?;
    let udp = server.listen(&format!("udp://{addr}").parse()?).await?;
    println!("listening on {}", tcp.endpoint());
    println!("listening on {}", udp.endpoint());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
