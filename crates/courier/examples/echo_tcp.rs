//! Echo over TCP — the lectures' first stream program, on courier's RPC.
//!
//! The server accepts connections and sends each message back; the client connects,
//! sends messages and reads the replies, several in flight on one connection.
//!
//! ```text
//! cargo run --example echo_tcp -- server 127.0.0.1:7200
//! cargo run --example echo_tcp -- client 127.0.0.1:7200 hello world again
//! cargo run --example echo_tcp            # both, in one process
//! ```

use std::net::SocketAddr;

use courier::rpc::{Client, ClientConfig, Procedures, Server};
use courier::transport::Endpoint;

const ECHO_PROG: u32 = 0x2000_0E02;
const ECHO_VERS: u32 = 1;
const ECHO: u32 = 1;

/// Serves the echo program on TCP at `addr`; returns where it actually listens.
async fn server(addr: SocketAddr) -> std::io::Result<courier::rpc::Listening> {
    let echo = Procedures::new().typed(ECHO, |msg: String| async move {
        println!("server: echoing {msg:?}");
        msg
    });
    Server::builder().register(ECHO_PROG, ECHO_VERS, echo).build().listen(&Endpoint::Tcp(addr)).await
}

/// Sends every message at once on one connection and returns the replies in order:
/// the calls are in flight together and matched to their replies by xid.
async fn client(addr: SocketAddr, msgs: &[&str]) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let client = Client::connect(&Endpoint::Tcp(addr), ClientConfig::default()).await?;
    let calls = msgs.iter().map(|msg| client.call::<_, String>(ECHO_PROG, ECHO_VERS, ECHO, *msg));
    Ok(futures_util::future::try_join_all(calls).await?)
}

async fn demo() -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let listening = server("127.0.0.1:0".parse()?).await?;
    let Endpoint::Tcp(addr) = *listening.endpoint() else { unreachable!("bound a TCP endpoint") };
    client(addr, &["hello", "over", "TCP"]).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["server", addr] => {
            let listening = server(addr.parse()?).await?;
            println!("echo server on {}", listening.endpoint());
            tokio::signal::ctrl_c().await?;
        }
        ["client", addr, ref msgs @ ..] => println!("replies: {:?}", client(addr.parse()?, msgs).await?),
        [] => println!("replies: {:?}", demo().await?),
        _ => eprintln!("usage: echo_tcp [server ADDR:PORT | client ADDR:PORT MESSAGE...]"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_message_comes_back() {
        assert_eq!(super::demo().await.unwrap(), ["hello", "over", "TCP"]);
    }
}
