//! The blocking faces of courier, for programs that do not use async: the client (the
//! seeds' synchronous `doOperation`) and mailboxes (blocking send and receive). Each
//! method is one `block_on` of the async original; no logic is repeated here. A client
//! has a private current-thread runtime; mailboxes, which threads share, run on one
//! small runtime of the process (its worker also redelivers unacknowledged messages).
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

use crate::mailbox::{self, Delivery, SendError};
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

/// The runtime of the blocking mailboxes: one worker thread, made on first use.
fn mailbox_runtime() -> &'static Runtime {
    static RUNTIME: std::sync::OnceLock<Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("courier-mailboxes")
            .enable_all()
            .build()
            .expect("cannot start the mailboxes' runtime")
    })
}

/// A mailbox with blocking send and receive; clones are handles on the same mailbox,
/// to share between threads. [`blocking::Mailbox::from`](From) wraps an async one.
#[derive(Debug, Clone)]
pub struct Mailbox {
    inner: mailbox::Mailbox,
}

impl From<mailbox::Mailbox> for Mailbox {
    fn from(inner: mailbox::Mailbox) -> Self {
        Mailbox { inner }
    }
}

impl Mailbox {
    /// A new mailbox.
    pub fn new(name: &str, config: mailbox::QueueConfig) -> Mailbox {
        Mailbox { inner: mailbox::Mailbox::new(name, config) }
    }

    /// The async face of the same mailbox.
    pub fn as_async(&self) -> &mailbox::Mailbox {
        &self.inner
    }

    /// Asynchronous send (returns once queued), blocking while the mailbox is full if
    /// so configured.
    pub fn send(&self, source: &str, body: Bytes) -> Result<u64, SendError> {
        mailbox_runtime().block_on(self.inner.send(source, body))
    }

    /// Synchronous send: blocks until a receiver has taken the message.
    pub fn send_sync(&self, source: &str, body: Bytes) -> Result<u64, SendError> {
        mailbox_runtime().block_on(self.inner.send_sync(source, body))
    }

    /// Non-blocking receive.
    pub fn try_receive(&self, source: Option<&str>) -> Option<Delivery> {
        let _runtime = mailbox_runtime().enter();
        self.inner.try_receive(source)
    }

    /// Blocking receive.
    pub fn receive(&self, source: Option<&str>) -> Delivery {
        mailbox_runtime().block_on(self.inner.receive(source))
    }

    /// Blocking receive, for at most `timeout`.
    pub fn receive_timeout(&self, source: Option<&str>, timeout: std::time::Duration) -> Option<Delivery> {
        mailbox_runtime().block_on(self.inner.receive_timeout(source, timeout))
    }

    /// Blocking receive of a batch: waits at most `timeout` for a message, then takes it
    /// and those waiting behind it, at most `max` in all.
    pub fn receive_batch(&self, source: Option<&str>, max: usize, timeout: std::time::Duration) -> Vec<Delivery> {
        mailbox_runtime().block_on(self.inner.receive_batch(source, max, timeout))
    }
}
