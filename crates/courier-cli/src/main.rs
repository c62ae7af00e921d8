//! The `courier` command: the node (`courier serve`) and the tools that talk to nodes
//! and to any ONC RPC server (`courier ping`).

mod bench;
mod bench_mailbox;
mod chaos;
mod idl;
mod lookup;
mod ls;
mod mailboxes;
mod names;
mod node;
mod ping;
mod serve;

use clap::{Parser, Subcommand};

/// courier: interprocess communication over ONC RPC.
#[derive(Parser)]
#[command(name = "courier", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node: serves courier's programs on TCP and UDP until Ctrl-C or SIGTERM.
    Serve(serve::Args),
    /// Call procedure 0 (NULL) of a program, like `rpcinfo -t/-u`.
    Ping(ping::Args),
    /// List what a binder (rpcbind) has registered, like `rpcinfo -s` (or, with
    /// --objects, what a node's name registry binds).
    Ls(ls::Args),
    /// Look a name up in a node's registry of remote objects.
    Lookup(lookup::Args),
    /// Put a message in a node's mailbox (prints nothing but errors).
    Send(mailboxes::SendArgs),
    /// Receive a message from a node's mailbox and print its body (--follow: every one).
    Recv(mailboxes::RecvArgs),
    /// List a node's mailboxes: depth, consumers and rates.
    Mailboxes(mailboxes::ListArgs),
    /// Relay UDP to a server, losing, duplicating and delaying datagrams on purpose.
    Chaos(chaos::Args),
    /// Measure a node: latency and calls per second of ECHO calls.
    Bench(bench::Args),
    /// The RPC language: check a .x file, generate Rust from it, or print it canonically.
    #[command(subcommand)]
    Idl(idl::Command),
}

/// The node allocates and frees small buffers at a high rate on several threads
/// (calls, replies, messages, futures); mimalloc does that with less contention and
/// fewer trips to the kernel than the system allocator (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("courier: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Ping(args) => ping::run(args).await,
            Command::Idl(command) => idl::run(command),
            Command::Ls(args) => ls::run(args).await,
            Command::Lookup(args) => lookup::run(args).await,
            Command::Send(args) => mailboxes::send(args).await,
            Command::Recv(args) => mailboxes::recv(args).await,
            Command::Mailboxes(args) => mailboxes::list(args).await,
            Command::Chaos(args) => chaos::run(args).await,
            Command::Bench(args) => bench::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("courier: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
