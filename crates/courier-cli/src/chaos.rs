//! `courier chaos`: a fault-injecting relay in front of a UDP or TCP server — it drops,
//! duplicates and delays (so reorders) messages both ways, from a seed — to see what a
//! client's invocation semantics do when messages are lost. Over TCP it works on whole
//! RPC records (a lost record breaks its connection) and reads commands from its
//! standard input: `partition`, `heal`, `cut`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use courier::chaos::{Faults, Tally, TcpRelay, UdpRelay};
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(clap::Args)]
pub struct Args {
    /// Where clients send their datagrams (port 0: any free port).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The server behind the relay.
    #[arg(long, value_name = "ADDR:PORT")]
    to: SocketAddr,
    /// Relay TCP (ONC RPC records) instead of UDP datagrams.
    #[arg(long)]
    tcp: bool,
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
    let tally = if args.tcp {
        let relay = TcpRelay::start(args.listen, args.to, faults).await?;
        println!("relaying tcp://{} -> tcp://{}", relay.addr(), args.to);
        println!("commands on standard input: partition, heal, cut");
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                line = lines.next_line() => match line? {
                    Some(line) => match line.trim() {
                        "partition" => relay.partition(),
                        "heal" => relay.heal(),
                        "cut" => relay.cut(),
                        "" => continue,
                        other => {
                            eprintln!("courier chaos: unknown command {other:?} (partition, heal, cut)");
                            continue;
                        }
                    },
                    // Standard input closed: keep relaying until interrupted.
                    None => {
                        tokio::signal::ctrl_c().await?;
                        break;
                    }
                },
            }
            println!("ok");
        }
        relay.tally()
    } else {
        let relay = UdpRelay::start(args.listen, args.to, faults).await?;
        println!("relaying udp://{} -> udp://{}", relay.addr(), args.to);
        tokio::signal::ctrl_c().await?;
        relay.tally()
    };
    report(tally);
    Ok(ExitCode::SUCCESS)
}

fn report(tally: Tally) {
    println!(
        "from clients {}, from the server {}, dropped {}, duplicated {}",
        tally.from_clients, tally.from_server, tally.dropped, tally.duplicated
    );
}
