//! courier's diagnostic program: NULL and ECHO, served by every node so that a client
//! can check that a node is up and measure the round trip.
//!
//! Program [`PROGRAM`] (in the user-defined range of RFC 5531 §7.3), version [`VERSION`]:
//! procedure 0 is NULL, procedure [`ECHO`] returns its `opaque<>` argument unchanged.

use bytes::Bytes;

use crate::rpc::{Call, Outcome, Procedures};

/// The diagnostic program's number: 0x20435201 ("C R" in the user-defined range).
pub const PROGRAM: u32 = 0x2043_5201;
/// Its version.
pub const VERSION: u32 = 1;
/// ECHO(opaque<>) returns opaque<>: the argument, unchanged.
pub const ECHO: u32 = 1;

/// The diagnostic service, to register as [`PROGRAM`] version [`VERSION`].
pub fn service() -> Procedures {
    Procedures::new().raw(ECHO, echo)
}

/// Returns the arguments as the results, without decoding or copying them: the
/// encoding of an `opaque<>` is the same on both sides.
async fn echo(call: Call) -> Outcome {
    call.args::<courier_xdr::Opaque>()?;
    Ok(Bytes::clone(&call.args))
}
