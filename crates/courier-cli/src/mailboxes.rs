//! The mailbox commands: `courier send MAILBOX [--sync|--durable] MESSAGE` (prints
//! nothing but errors), `courier recv MAILBOX [--timeout SECONDS] [--follow]` (each
//! message body on its own line, acknowledged once printed; exit status 1 when the time
//! runs out) and `courier mailboxes` (depth, consumers and rates of a node's mailboxes).
//! MAILBOX is a name at the node given by `--node` / `COURIER_NODE`, or a reference
//! `mailbox://HOST:PORT/NAME`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use courier::mailbox::protocol::{MailboxInfo, MailboxRef};
use courier::mailbox::remote::{MailboxClient, RemoteMailbox};

/// Where the mailbox is.
#[derive(clap::Args)]
pub struct Target {
    /// The mailbox: a name at the node, or mailbox://HOST:PORT/NAME.
    mailbox: String,
    /// The node: HOST or HOST:PORT (default 127.0.0.1:7111).
    #[arg(long, env = "COURIER_NODE")]
    node: Option<String>,
}

impl Target {
    async fn open(&self) -> anyhow::Result<RemoteMailbox> {
        if self.mailbox.starts_with("mailbox://") {
            let reference: MailboxRef = self.mailbox.parse()?;
            return Ok(RemoteMailbox::open(&reference).await?);
        }
        let (_, client) = crate::node::connect(self.node.as_deref()).await?;
        Ok(MailboxClient::new(client).mailbox(&self.mailbox)?)
    }
}

#[derive(clap::Args)]
pub struct SendArgs {
    #[command(flatten)]
    target: Target,
    /// The message.
    message: String,
    /// Return once a receiver has taken the message.
    #[arg(long, conflicts_with = "durable")]
    sync: bool,
    /// Return once the node has persisted the message (needs `courier serve --data`).
    #[arg(long)]
    durable: bool,
    /// The sender's name, which receivers may filter on.
    #[arg(long, default_value = "courier-send")]
    source: String,
    /// Seconds to wait for room in a full mailbox, and with --sync for a receiver.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
}

pub async fn send(args: SendArgs) -> anyhow::Result<ExitCode> {
    let wait = Duration::try_from_secs_f64(args.timeout).context("--timeout: not a duration")?;
    let mailbox = args.target.open().await?.with_wait(wait);
    let body = Bytes::from(args.message.into_bytes());
    let source = args.source.as_str();
    if args.sync {
        mailbox.send_sync(source, body).await?;
    } else if args.durable {
        mailbox.send_durable(source, body).await?;
    } else {
        mailbox.send(source, body).await?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub struct RecvArgs {
    #[command(flatten)]
    target: Target,
    /// Seconds to wait for a message (with --follow: for each next one); without it,
    /// wait as long as it takes.
    #[arg(long)]
    timeout: Option<f64>,
    /// Keep receiving and printing messages as they come.
    #[arg(long)]
    follow: bool,
    /// Only messages from this sender.
    #[arg(long)]
    source: Option<String>,
}

/// With `--follow`, the most messages taken in one call (and acknowledged with the next).
const FOLLOW_BATCH: u32 = 64;
/// Without `--timeout`, how long one receive waits before it asks again.
const FOREVER: Duration = Duration::from_secs(3600);

pub async fn recv(args: RecvArgs) -> anyhow::Result<ExitCode> {
    let mailbox = args.target.open().await?;
    let timeout = args.timeout.map(Duration::try_from_secs_f64).transpose().context("--timeout: not a duration")?;
    let source = args.source.as_deref();
    let wait = timeout.unwrap_or(FOREVER);
    let mut out = std::io::stdout().lock();
    // Following a busy mailbox, messages come by the batch: one call acknowledges the
    // batch printed last and takes those waiting.
    let mut printed = Vec::new();
    loop {
        let deliveries = match args.follow {
            true => mailbox.ack_and_receive_batch(&printed, source, FOLLOW_BATCH, wait).await?.1,
            false => mailbox.receive_batch(source, 1, wait).await?,
        };
        printed.clear();
        if deliveries.is_empty() {
            match timeout {
                Some(timeout) => {
                    eprintln!("courier recv: no message in `{}` within {timeout:?}", mailbox.name());
                    return Ok(ExitCode::FAILURE);
                }
                None => continue,
            }
        }
        for delivery in &deliveries {
            out.write_all(&delivery.message().body)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        // Printed: now they may go. If this acknowledgement is lost, they come again
        // after the mailbox's visibility timeout (at-least-once).
        printed = deliveries.iter().map(|delivery| delivery.receipt()).collect();
        if !args.follow {
            mailbox.ack_batch(&printed).await?;
            return Ok(ExitCode::SUCCESS);
        }
    }
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// The node: HOST or HOST:PORT (default 127.0.0.1:7111).
    #[arg(long, env = "COURIER_NODE")]
    node: Option<String>,
}

pub async fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let (addr, client) = crate::node::connect(args.node.as_deref()).await?;
    let all =
        MailboxClient::new(client).list().await.with_context(|| format!("{addr}: listing the mailboxes failed"))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<24} {:>8} {:>9} {:>9} {:>7} {:>9} {:>9} {:>10} {:>10}",
        "MAILBOX", "WAITING", "IN-FLIGHT", "CONSUMERS", "DURABLE", "SENT/S", "RECV/S", "SENT", "RECEIVED"
    )?;
    for MailboxInfo { name, stats: m } in all {
        writeln!(
            out,
            "{:<24} {:>8} {:>9} {:>9} {:>7} {:>9.1} {:>9.1} {:>10} {:>10}",
            name.as_str(),
            m.waiting,
            m.in_flight,
            m.consumers,
            if m.durable { "yes" } else { "no" },
            m.sent_rate,
            m.received_rate,
            m.sent,
            m.received
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
