//! Remote objects (issue 7): the seeds' distributed object model on ONC RPC.
//!
//! - [`reference`]: the remote object reference, [`ObjectRef`].

pub mod reference;

pub use reference::{ObjectRef, ObjectRefError};
