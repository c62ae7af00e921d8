//! courier: interprocess communication middleware that speaks ONC RPC.
//!
//! The lecture stack of distributed systems, built for real: external data
//! representation ([`courier_xdr`]), transports, and the request-reply protocol of
//! RFC 5531, so that every courier call is an ONC RPC message that `rpcinfo`, Wireshark
//! and C programs built with `rpcgen` understand.
//!
//! # Layout
//! - [`transport`]: endpoints, record marking, the stream writer.
//! - [`rpc`]: the RPC message, authentication, client (`do_operation`, `call`) and
//!   server (`get_request`, `send_reply`, dispatch).
//! - [`binder`]: rpcbind and the port mapper: registering, locating programs.
//! - [`chaos`]: fault-injecting relays (UDP datagrams, TCP records: loss, duplication,
//!   delay, partitions) for tests and `courier chaos`.
//! - [`mailbox`]: message passing — mailboxes with every mode of send and receive.
//! - [`object`]: remote objects — references, the object table and servants, proxies,
//!   the name registry, leases, activation.
//! - [`blocking`]: the blocking face of the client, a thin layer over the async one.
//! - [`diag`]: courier's diagnostic program (NULL and echo), served by every node.
//!
//! ```no_run
//! use courier::rpc::{Client, ClientConfig, Procedures, Server};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::builder().register(0x2000_0001, 1, Procedures::new().typed(1, |s: String| async move { s })).build();
//! let listening = server.listen(&"tcp://127.0.0.1:0".parse()?).await?;
//! let client = Client::connect(listening.endpoint(), ClientConfig::default()).await?;
//! let reply: String = client.call(0x2000_0001, 1, 1, "hi").await?;
//! assert_eq!(reply, "hi");
//! # Ok(()) }
//! ```

pub mod binder;
pub mod blocking;
pub mod chaos;
pub mod diag;
pub mod mailbox;
pub mod object;
pub mod rpc;
mod sync;
pub mod transport;

#[cfg(test)]
mod documented;

#[doc(hidden)]
pub mod fuzzing;

pub use courier_xdr as xdr;

/// Turns a Rust trait into an ONC RPC interface: see the `courier-macros` crate.
pub use courier_macros::interface;
/// Describes a struct or enum in the RPC language (`courier::xdr::XdrType`), so that an
/// interface using it can be printed as a `.x` file.
pub use courier_macros::XdrType;
