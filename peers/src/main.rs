//! `courier-peers`: servers and clients of `courier bench`'s ECHO workload on other
//! stacks, to compare courier with: raw tokio TCP (the floor), tonic (gRPC) and tarpc.
//! The fourth peer, libtirpc, is C (see `libtirpc/`). Besides: courier's remote objects
//! for the comparison with Java RMI (`objects-*`), and `durable-floor`, which measures
//! where a durable send's time goes.
//!
//! Each `*-server` prints `listening on tcp://ADDR` and serves until killed; each
//! `*-client` takes `courier bench`'s options and writes rows with the same fields, plus
//! `peer` and `cpu_us_per_call`. `scripts/bench-peers` runs them all.

mod durable;
mod grpc;
mod harness;
mod objects;
mod raw;
mod tarpc_peer;

use std::net::SocketAddr;

use clap::{Parser, Subcommand};

/// The peers courier bench is compared with.
#[derive(Parser)]
#[command(name = "courier-peers", about)]
struct Cli {
    /// Run on tokio's current-thread runtime instead of the multi-thread runtime (the
    /// default, as `courier` itself uses).
    #[arg(long, global = true)]
    current_thread: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Where to listen (port 0 picks a free port; the server prints what it bound).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

#[derive(Subcommand)]
enum Command {
    /// Raw tokio TCP echo server: 4-byte big-endian length, payload, sent back.
    RawServer(ServerArgs),
    /// Raw tokio TCP client: pipelines frames on one connection.
    RawClient(harness::ClientArgs),
    /// gRPC (tonic) server of unary Echo.
    TonicServer(ServerArgs),
    /// gRPC (tonic) client: concurrent calls on one channel (one HTTP/2 connection).
    TonicClient(harness::ClientArgs),
    /// tarpc server of echo, over TCP with bincode.
    TarpcServer(ServerArgs),
    /// tarpc client: concurrent calls on one client (one connection).
    TarpcClient(harness::ClientArgs),
    /// courier remote objects: an Echo interface with empty, echo and create (leased).
    ObjectsServer(objects::ServerArgs),
    /// The workloads of the Java RMI peer on courier objects; JSON lines.
    ObjectsClient(objects::ClientArgs),
    /// Creates objects, holds leases on them, says `held` and waits to be killed.
    ObjectsHolder(objects::HolderArgs),
    /// Where a durable send's time goes, one sender: the disk's syncs, bare servers that
    /// sync each message, and a courier node (with `--courier`), in turns.
    DurableFloor(durable::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = if cli.current_thread {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Runtime::new()?
    };
    runtime.block_on(run(cli.command))
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::RawServer(args) => raw::serve(args.listen).await,
        Command::RawClient(args) => raw::client(args).await,
        Command::TonicServer(args) => grpc::serve(args.listen).await,
        Command::TonicClient(args) => grpc::client(args).await,
        Command::TarpcServer(args) => tarpc_peer::serve(args.listen).await,
        Command::TarpcClient(args) => tarpc_peer::client(args).await,
        Command::ObjectsServer(args) => objects::serve(args).await,
        Command::ObjectsClient(args) => objects::client(args).await,
        Command::ObjectsHolder(args) => objects::holder(args).await,
        Command::DurableFloor(args) => durable::run(args).await,
    }
}
