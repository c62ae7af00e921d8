//! Remote objects (issue 7): the seeds' distributed object model on ONC RPC.
//!
//! - [`reference`]: the remote object reference, [`ObjectRef`].
//! - [`table`]: servants, the object table (the remote reference module) and its
//!   dispatchers, the object key every call carries, and [`Proxy`], a reference's
//!   client side.
//! - [`registry`]: the name registry (the RMI seed's binder), served by every node.
//! - [`lease`]: distributed garbage collection with leases.

pub mod lease;
pub mod reference;
pub mod registry;
pub mod table;

pub use lease::LeaseConfig;
pub use reference::{ObjectRef, ObjectRefError};
pub use registry::{Registry, RegistryClient};
pub use table::{ObjectDispatcher, ObjectError, ObjectKey, ObjectStatus, ObjectTable, Proxy};
