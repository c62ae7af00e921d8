//! A durable mailbox outlives its producer, its consumer and its node: a producer sends
//! messages durably (each answered once it is on the node's disk) and goes away; the
//! node stops and starts again on the same data directory; a fresh consumer receives
//! every message, in order, and acknowledges it; after one more restart the mailbox is
//! empty.
//!
//! As separate processes (stop the node with Ctrl-C and start it again in between):
//!
//! ```text
//! cargo run --example durable_mailbox -- node /tmp/courier-data 7400
//! cargo run --example durable_mailbox -- produce 7400 5
//! cargo run --example durable_mailbox -- consume 7400
//! cargo run --example durable_mailbox                  # all of it in one process
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use courier::mailbox::post_office::{PostOffice, PostOfficeConfig};
use courier::mailbox::protocol;
use courier::mailbox::remote::MailboxClient;
use courier::mailbox::store::{FjallStore, Store};
use courier::rpc::{Listening, Server};
use courier::transport::Endpoint;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The mailbox the producer and the consumer share.
const MAILBOX: &str = "orders";
/// How long the consumer waits for one more message before it decides there is none.
const IDLE: Duration = Duration::from_millis(500);

/// A node serving durable mailboxes, their messages in `dir`, on a loopback port.
struct Node {
    listening: Listening,
    office: Arc<PostOffice>,
}

impl Node {
    /// Starts a node on `dir` and `port` (0: any free one). A node stopped just before
    /// lets go of its store and its port asynchronously: it tries again for up to 10 s.
    async fn start(dir: &Path, port: u16) -> Result<Node, Error> {
        std::fs::create_dir_all(dir)?;
        let limit = Instant::now() + Duration::from_secs(10);
        loop {
            match Node::try_start(dir, port).await {
                Err(_) if Instant::now() < limit => tokio::time::sleep(Duration::from_millis(20)).await,
                started => return started,
            }
        }
    }

    async fn try_start(dir: &Path, port: u16) -> Result<Node, Error> {
        let store: Arc<dyn Store> = Arc::new(FjallStore::open(&dir.join("mailboxes"))?);
        let office = PostOffice::open(PostOfficeConfig::default(), Some(store))?;
        let server = Server::builder().register(protocol::PROGRAM, protocol::VERSION, office.service()).build();
        let listening = server.listen(&Endpoint::Tcp(loopback(port))).await?;
        let node = Node { listening, office };
        println!("node: listening on {}, {} messages waiting", node.listening.endpoint(), node.waiting()?);
        Ok(node)
    }

    fn port(&self) -> u16 {
        match self.listening.endpoint() {
            Endpoint::Tcp(addr) => addr.port(),
            _ => unreachable!("a TCP listener"),
        }
    }

    /// How many messages wait in the mailbox.
    fn waiting(&self) -> Result<usize, Error> {
        Ok(self.office.mailbox(MAILBOX)?.depth().0)
    }
}

fn loopback(port: u16) -> SocketAddr {
    (Ipv4Addr::LOCALHOST, port).into()
}

/// Sends `n` messages durably, then goes away.
async fn produce(port: u16, n: usize) -> Result<(), Error> {
    let orders = MailboxClient::connect(loopback(port)).await?.mailbox(MAILBOX)?;
    for i in 1..=n {
        let id = orders.send_durable("producer", format!("order {i}").into()).await?;
        println!("producer: order {i} is on the node's disk (id {id})");
    }
    Ok(())
}

/// Receives and acknowledges messages until none comes for a while; returns them.
async fn consume(port: u16) -> Result<Vec<String>, Error> {
    let orders = MailboxClient::connect(loopback(port)).await?.mailbox(MAILBOX)?;
    let mut got = Vec::new();
    while let Some(delivery) = orders.receive_timeout(None, IDLE).await? {
        let body = String::from_utf8_lossy(&delivery.message().body).into_owned();
        if !delivery.ack().await? {
            return Err(format!("{body}: acknowledged too late").into());
        }
        println!("consumer: got {body}, acknowledged");
        got.push(body);
    }
    println!("consumer: nothing more within {} ms", IDLE.as_millis());
    Ok(got)
}

/// What the demo's consumer got after the first restart, and after the second.
async fn demo(n: usize) -> Result<(Vec<String>, Vec<String>), Error> {
    let dir = std::env::temp_dir().join(format!("courier-durable-mailbox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let node = Node::start(&dir, 0).await?;
    let port = node.port();
    produce(port, n).await?;
    println!("producer: gone; node: stopping");
    drop(node);
    let node = Node::start(&dir, port).await?;
    let first = consume(port).await?;
    println!("consumer: gone; node: stopping");
    drop(node);
    let node = Node::start(&dir, port).await?;
    let second = consume(port).await?;
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
    Ok((first, second))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => {
            demo(5).await?;
        }
        ["node", dir, port] => {
            let _node = Node::start(Path::new(dir), port.parse()?).await?;
            tokio::signal::ctrl_c().await?;
        }
        ["produce", port, n] => produce(port.parse()?, n.parse()?).await?,
        ["consume", port] => {
            consume(port.parse()?).await?;
        }
        _ => return Err("usage: durable_mailbox [node DIR PORT | produce PORT N | consume PORT]".into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_messages_survive_both_ends_and_a_restart_and_acknowledged_ones_stay_gone() {
        let demo = tokio::time::timeout(std::time::Duration::from_secs(60), super::demo(5));
        let (first, second) = demo.await.expect("the demo ends within a minute").unwrap();
        assert_eq!(first, ["order 1", "order 2", "order 3", "order 4", "order 5"]);
        assert!(second.is_empty(), "acknowledged messages came back: {second:?}");
    }
}
