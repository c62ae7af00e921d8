//! The request-reply protocol of RFC 5531 (ONC RPC version 2).
//!
//! - [`msg`]: the message format — call and reply headers, every status.
//! - [`auth`]: credentials and verifiers — AUTH_NONE and AUTH_SYS.
//! - [`client`]: `do_operation` and typed calls over TCP, UDP and Unix sockets.
//! - [`server`]: `get_request`, `send_reply`, services and the dispatcher.
//! - [`reply_cache`]: the history of replies that filters retransmitted calls.
//! - [`session`]: courier's session stamp — slots for at-most-once (RRA), deadlines,
//!   server incarnations.
//! - [`error`]: what a caller sees when a call fails.

pub mod auth;
pub mod client;
mod connection;
pub mod error;
pub mod msg;
pub mod reply_cache;
pub mod server;
pub mod session;

pub use auth::{AuthSys, Credentials, OpaqueAuth};
pub use client::{CallOptions, Client, ClientConfig, Semantics};
pub use error::{CallError, ProcId};
pub use server::{
    encode_results, Call, DatagramEndpoint, Fault, Listening, Outcome, Procedures, ProgramVersion, Request, Responder,
    Server, ServerBuilder, ServerConfig, ServerModel, Service, StreamEndpoint,
};
