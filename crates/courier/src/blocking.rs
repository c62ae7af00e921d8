//! The blocking face of the client: the seeds' synchronous `doOperation` for programs
//! that do not use async. Each method is one `block_on` of the async [`rpc::Client`]
//! on a private current-thread runtime; no logic is repeated here.
//!
//! ```no_run
//! let client = courier::blocking::Client::connect(&"udp://127.0.0.1:7111".parse().unwrap(), Default::default()).unwrap();
//! client.null(courier::diag::PROGRAM, courier::diag::VERSION).unwrap();
//! ```
//!
//! Do not call it from inside an async runtime; use [`rpc::Client`] there.

use std::io;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::rpc::{self, CallError, CallOptions, ClientConfig, ProcId};
use crate::transport::Endpoint;

/// A blocking RPC client.
#[derive(Debug)]
pub struct Client {
    inner: rpc::Client,
    runtime: Runtime,
}

impl Client {
    /// Connects to `endpoint`.
    pub fn connect(endpoint: &Endpoint, config: ClientConfig) -> io::Result<Client> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let inner = runtime.block_on(rpc::Client::connect(endpoint, config))?;
        Ok(Client { inner, runtime })
    }

    /// The seeds' `doOperation`: sends encoded arguments, waits, returns encoded results.
    pub fn do_operation(&self, call: ProcId, args: Bytes, opts: &CallOptions) -> Result<Bytes, CallError> {
        self.runtime.block_on(self.inner.do_operation(call, args, opts))
    }

    /// Calls a procedure with typed arguments and results.
    pub fn call<A: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        prog: u32,
        vers: u32,
        proc: u32,
        args: &A,
    ) -> Result<R, CallError> {
        self.runtime.block_on(self.inner.call(prog, vers, proc, args))
    }

    /// Calls NULL.
    pub fn null(&self, prog: u32, vers: u32) -> Result<(), CallError> {
        self.runtime.block_on(self.inner.null(prog, vers))
    }
}
