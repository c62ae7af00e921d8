//! Echo over UDP — the lectures' first datagram program, on courier's RPC.
//!
//! The server waits for datagrams and sends each message back; the client sends one
//! message and waits, retransmitting if the datagram or its answer is lost.
//!
//! ```text
//! cargo run --example echo_udp -- server 127.0.0.1:7200
//! cargo run --example echo_udp -- client 127.0.0.1:7200 "hello, world"
//! cargo run --example echo_udp            # both, in one process
//! ```

use std::net::SocketAddr;

use courier::rpc::{Client, ClientConfig, Procedures, Server};
use courier::transport::Endpoint;

const ECHO_PROG: u32 = 0x2000_0E01;
const ECHO_VERS: u32 = 1;
const ECHO: u32 = 1;

/// Serves the echo program on UDP at `addr`; returns where it actually listens.
async fn server(addr: SocketAddr) -> std::io::Result<courier::rpc::Listening> {
    let echo = Procedures::new().typed(ECHO, |msg: String| async move {
        println!("server: echoing {msg:?}");
        msg
    });
    Server::builder().register(ECHO_PROG, ECHO_VERS, echo).build().listen(&Endpoint::Udp(addr)).await
}

/// Sends `msg` to the echo server at `addr` and returns the reply.
async fn client(addr: SocketAddr, msg: &str) -> Result<String, Box<dyn std::error::Error>> {
    let client = Client::connect(&Endpoint::Udp(addr), ClientConfig::default()).await?;
    Ok(client.call(ECHO_PROG, ECHO_VERS, ECHO, msg).await?)
}

async fn demo() -> Result<String, Box<dyn std::error::Error>> {
    let listening = server("127.0.0.1:0".parse()?).await?;
    let Endpoint::Udp(addr) = *listening.endpoint() else { unreachable!("bound a UDP endpoint") };
    client(addr, "hello over UDP").await
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
        ["client", addr, msg] => println!("reply: {}", client(addr.parse()?, msg).await?),
        [] => println!("reply: {}", demo().await?),
        _ => eprintln!("usage: echo_udp [server ADDR:PORT | client ADDR:PORT MESSAGE]"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_message_comes_back() {
        assert_eq!(super::demo().await.unwrap(), "hello over UDP");
    }
}
