//! Errors a caller of a remote procedure can see, each with the peer and the call.
//!
//! The RPC statuses of RFC 5531 (PROG_UNAVAIL, PROG_MISMATCH, AUTH_ERROR …) become
//! variants of [`CallError`] carrying what a person needs to act on them.

use std::fmt;
use std::io;
use std::time::Duration;

use super::msg::{AuthStat, MessageError};

/// Which procedure a call was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcId {
    /// Program number.
    pub prog: u32,
    /// Program version.
    pub vers: u32,
    /// Procedure number.
    pub proc: u32,
}

impl fmt::Display for ProcId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "program {} version {} procedure {}", self.prog, self.vers, self.proc)
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The transport failed.
    #[error("{peer}: {call}: I/O error: {source}")]
    Io {
        /// The server.
        peer: String,
        /// The call.
        call: ProcId,
        /// The failure.
        source: io::Error,
    },
    /// The connection closed before the reply came.
    #[error("{peer}: {call}: connection closed before the reply")]
    Closed {
        /// The server.
        peer: String,
        /// The call.
        call: ProcId,
    },
    /// The server restarted while the call was in flight: the previous incarnation may
    /// or may not have executed it, and the new one refused to execute it again.
    #[error("{peer}: {call}: the server restarted; the call may or may not have run")]
    ServerRestarted {
        /// The server.
        peer: String,
        /// The call.
        call: ProcId,
    },
    /// No reply came in time (after retransmissions, on UDP).
    #[error("{peer}: {call}: no reply within {timeout:?}")]
    Timeout {
        /// The server.
        peer: String,
        /// The call.
        call: ProcId,
        /// How long the caller waited.
        timeout: Duration,
    },
    /// PROG_UNAVAIL: the server does not offer the program.
    #[error("{peer}: program {} is not available", call.prog)]
    ProgUnavail {
        /// The server.
        peer: String,
        /// The call.
        call: ProcId,
    },
    /// PROG_MISMATCH: the program is offered, but not in this version.
    #[error("{peer}: program {} version {} is not available (versions {low}-{high} are)", call.prog, call.vers)]
    ProgMismatch {
        /// The server.
        peer: String,
        /// The call.
        call: ProcId,
        /// The lowest version offered.
        low: u32,
        /// The highest version offered.
        high: u32,
    },
    /// PROC_UNAVAIL: the program has no such procedure.
    #[error("{peer}: {call}: procedure unavailable")]
    ProcUnavail {
        /// The server.
        peer: String,
        /// The call.
        call: ProcId,
    },
    /// GARBAGE_ARGS: the server could not decode the arguments.
    #[error("{peer}: {call}: the server could not decode the arguments")]
    GarbageArgs {
        /// The server.
        peer: String,
        /// The call.
        call: ProcId,
    },
    /// SYSTEM_ERR: the server failed.
    #[error("{peer}: {call}: system error at the server")]
    SystemErr {
        /// The server.
        peer: String,
        /// The call.
        call: ProcId,
    },
    /// RPC_MISMATCH: the server does not speak RPC version 2.
    #[error("{peer}: RPC version mismatch (server speaks {low}-{high})")]
    RpcMismatch {
        /// The server.
        peer: String,
        /// The lowest RPC version it speaks.
        low: u32,
        /// The highest.
        high: u32,
    },
    /// AUTH_ERROR: the credentials were refused.
    #[error("{peer}: {call}: authentication error {stat:?}")]
    Auth {
        /// The server.
        peer: String,
        /// The call.
        call: ProcId,
        /// Why.
        stat: AuthStat,
    },
    /// The arguments could not be encoded (a value over its declared bound, say).
    #[error("{call}: cannot encode the arguments: {source}")]
    Encode {
        /// The call.
        call: ProcId,
        /// What was wrong.
        source: courier_xdr::Error,
    },
    /// The results could not be decoded as the expected type.
    #[error("{peer}: {call}: cannot decode the results: {source}")]
    Decode {
        /// The server.
        peer: String,
        /// The call.
        call: ProcId,
        /// What was wrong.
        source: courier_xdr::Error,
    },
    /// The reply was not a valid RPC reply.
    #[error("{peer}: {call}: malformed reply: {source}")]
    BadReply {
        /// The server.
        peer: String,
        /// The call.
        call: ProcId,
        /// What was wrong.
        source: MessageError,
    },
    /// The message is larger than the transport allows.
    #[error("{call}: message of {len} bytes exceeds the transport's maximum of {max}")]
    TooLarge {
        /// The call.
        call: ProcId,
        /// The message size.
        len: usize,
        /// The maximum.
        max: usize,
    },
}

impl CallError {
    /// Whether the error means no reply was received (so the call may or may not have
    /// executed), as opposed to a reply that reported a failure.
    pub fn is_no_reply(&self) -> bool {
        matches!(self, CallError::Io { .. } | CallError::Closed { .. } | CallError::Timeout { .. })
    }
}
