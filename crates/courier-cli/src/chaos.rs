//! `courier chaos`: a fault-injecting relay in front of a UDP server — it drops,
//! duplicates and delays (so reorders) datagrams both ways, from a seed — to see what a
//! client's invocation semantics do when messages are lost.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use courier::chaos::{Faults, UdpRelay};

#[derive(clap::Args)]
pub struct Args {
    /// Where clients send their datagrams (port 0: any free port).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The UDP server behind the relay.
    #[arg(long, value_name = "ADDR:PORT")]
    to: SocketAddr,
    /// The chance of losing each datagram (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// The chance of sending a datagram twice (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    duplicate: f64,
    /// Hold each datagram up to this many milliseconds (reorders them).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    delay: u64,
    /// The seed of the random choices, for a run that can be repeated.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    for (name, p) in [("--loss", args.loss), ("--duplicate", args.duplicate)] {
        if !(0.0..=1.0).contains(&p) {
            bail!("{name} is a chance between 0 and 1, not {p}");
        }
    }
    let faults = Faults {
        loss: args.loss,
        duplication: args.duplicate,
        max_delay: Duration::from_millis(args.delay),
        seed: args.seed,
    };
    let relay = UdpRelay::start(args.listen, args.to, faults).await?;
    println!("relaying udp://{} -> udp://{}", relay.addr(), args.to);
    tokio::signal::ctrl_c().await?;
    let tally = relay.tally();
    println!(
        "from clients {}, from the server {}, dropped {}, duplicated {}",
        tally.from_clients, tally.from_server, tally.dropped, tally.duplicated
    );
    Ok(ExitCode::SUCCESS)
}
