//! The request-reply protocol with the seed's own three operations, nothing hidden:
//! the client's `do_operation` (send a request, wait for its reply), and the server's
//! `get_request` and `send_reply`.
//!
//! The server here is a hand-written loop over one UDP socket — exactly the lectures'
//! picture of a server — instead of courier's dispatcher. It keeps a counter; procedure
//! 1 adds its argument to it and returns the new total.
//!
//! ```text
//! cargo run --example request_reply -- server 127.0.0.1:7300
//! cargo run --example request_reply -- client 127.0.0.1:7300 5
//! cargo run --example request_reply       # both, in one process
//! ```

use std::net::SocketAddr;

use courier::rpc::{CallOptions, Client, ClientConfig, DatagramEndpoint, Fault, ProcId, ServerConfig};
use courier::transport::Endpoint;

const COUNTER: ProcId = ProcId { prog: 0x2000_0E03, vers: 1, proc: 1 };

/// The server: `get_request`, compute, `send_reply`, forever.
async fn serve(mut endpoint: DatagramEndpoint) -> std::io::Result<()> {
    let mut total: i64 = 0;
    loop {
        let request = endpoint.get_request().await?;
        let header = &request.call.header;
        let outcome = if (header.prog, header.vers, header.proc) != (COUNTER.prog, COUNTER.vers, COUNTER.proc) {
            Err(Fault::ProcUnavail)
        } else {
            match request.call.args::<i64>() {
                Ok(n) => {
                    total = total.wrapping_add(n);
                    courier::rpc::encode_results(&total)
                }
                Err(fault) => Err(fault),
            }
        };
        request.send_reply(outcome).await;
    }
}

/// The client: marshal the argument, `do_operation`, unmarshal the result.
async fn add(addr: SocketAddr, n: i64) -> Result<i64, Box<dyn std::error::Error>> {
    let client = Client::connect(&Endpoint::Udp(addr), ClientConfig::default()).await?;
    let request = courier_xdr::to_bytes(&n)?;
    let reply = client.do_operation(COUNTER, request, &CallOptions::default()).await?;
    Ok(courier_xdr::from_bytes(reply)?)
}

async fn bind(addr: SocketAddr) -> std::io::Result<DatagramEndpoint> {
    Ok(DatagramEndpoint::new(tokio::net::UdpSocket::bind(addr).await?, &ServerConfig::default()))
}

async fn demo() -> Result<Vec<i64>, Box<dyn std::error::Error>> {
    let endpoint = bind("127.0.0.1:0".parse()?).await?;
    let addr = endpoint.local_addr()?;
    tokio::spawn(serve(endpoint));
    let mut totals = Vec::new();
    for n in [5, 10, -3] {
        totals.push(add(addr, n).await?);
    }
    Ok(totals)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["server", addr] => {
            let endpoint = bind(addr.parse()?).await?;
            println!("counter server on udp://{}", endpoint.local_addr()?);
            serve(endpoint).await?;
        }
        ["client", addr, n] => println!("total: {}", add(addr.parse()?, n.parse()?).await?),
        [] => println!("totals: {:?}", demo().await?),
        _ => eprintln!("usage: request_reply [server ADDR:PORT | client ADDR:PORT N]"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_server_keeps_a_running_total() {
        assert_eq!(super::demo().await.unwrap(), [5, 15, 12]);
    }
}
