//! The binder: the port mapper and rpcbind (RFC 1833), which map a program and version to
//! the address where it is served.
//!
//! - [`uaddr`]: universal addresses (RFC 5665), the binder's text form of an address.
//! - [`protocol`]: the binder's program, versions, procedures and wire types.
//! - [`client`]: registering with a binder, and finding a program through one.
//! - [`registration`]: a server's registrations, announced at start, withdrawn at stop.
//! - [`table`]: the binder's registrations and rules, sans-IO.
//! - [`service`]: the binder served over RPC (`courier serve --rpcbind`).

pub mod client;
pub mod protocol;
pub mod registration;
pub mod service;
pub mod table;
pub mod uaddr;

pub use client::{BinderClient, LocateError, Transport};
pub use protocol::{Mapping, Rpcb};
pub use registration::Registration;
pub use service::Binder;
pub use table::Table;
