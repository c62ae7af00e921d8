//! The tarpc peer: a `#[tarpc::service]` with one method, `echo(data) -> data`, over TCP
//! with tarpc's serde transport (tokio-util's length-delimited frames) and bincode.
//!
//! Two choices differ from tarpc's examples, both in tarpc's favour: the payload is a
//! `serde_bytes::ByteBuf` (a `Vec<u8>` that serde encodes as one byte string; a plain
//! `Vec<u8>` makes bincode encode and decode it one element at a time), and both sides set
//! TCP_NODELAY (tarpc's own `tcp::connect`/`tcp::listen` leave Nagle's algorithm on).
//! The client makes `in_flight` concurrent calls through one client, that is one
//! connection; the server spawns a task per request, as tarpc's examples do.

use std::net::SocketAddr;

use anyhow::Context;
use futures::{future, StreamExt};
use serde_bytes::ByteBuf;
use tarpc::server::{BaseChannel, Channel};
use tarpc::tokio_serde::formats::Bincode;
use tarpc::tokio_util::codec::LengthDelimitedCodec;
use tarpc::{client, context};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{self, ClientArgs, CpuClock};

/// The largest frame either side accepts (tokio-util's default is 8 MiB).
const MAX_FRAME: usize = 16 * 1024 * 1024;

/// The service: echo returns its argument.
#[tarpc::service]
pub trait EchoPeer {
    async fn echo(data: ByteBuf) -> ByteBuf;
}

#[derive(Clone)]
struct EchoServer;

impl EchoPeer for EchoServer {
    async fn echo(self, _: context::Context, data: ByteBuf) -> ByteBuf {
        data
    }
}

/// A tarpc transport over `socket`: length-delimited frames of bincode.
fn transport<Item, SinkItem>(
    socket: TcpStream,
) -> tarpc::serde_transport::Transport<TcpStream, Item, SinkItem, Bincode<Item, SinkItem>>
where
    Item: for<'de> serde::Deserialize<'de>,
    SinkItem: serde::Serialize,
{
    let framed = LengthDelimitedCodec::builder().max_frame_length(MAX_FRAME).new_framed(socket);
    tarpc::serde_transport::new(framed, Bincode::default())
}

/// Serves echo on `listen` until killed.
pub async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    harness::announce(listener.local_addr()?);
    loop {
        let (socket, _) = listener.accept().await?;
        socket.set_nodelay(true)?;
        let channel = BaseChannel::with_defaults(transport(socket));
        tokio::spawn(channel.execute(EchoServer.serve()).for_each(|request| {
            tokio::spawn(request);
            future::ready(())
        }));
    }
}

/// Runs the client's measurements against a server at `args.target`.
pub async fn client(args: ClientArgs) -> anyhow::Result<()> {
    let cpu = CpuClock::new(args.server_pid);
    let target = args.target;
    harness::run(&args, "tarpc", async |size, in_flight, length| {
        let socket = TcpStream::connect(target).await.with_context(|| format!("cannot connect to {target}"))?;
        socket.set_nodelay(true)?;
        let client = EchoPeerClient::new(client::Config::default(), transport(socket)).spawn();
        harness::closed_loop(cpu, size, in_flight, length, |data| {
            let client = &client;
            async move {
                let back = client.echo(context::current(), ByteBuf::from(Vec::from(data))).await?;
                Ok(back.len())
            }
        })
        .await
    })
    .await
}
