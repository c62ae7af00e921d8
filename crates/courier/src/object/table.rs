//! Servants, the object table and the remote reference module: how a call reaches one
//! object among many served under the same interface.
//!
//! An interface is an ONC RPC program version; many objects share it. A call names its
//! object the way an NFS call names its file: by a key, the first argument of every
//! procedure — [`ObjectKey`], the object's number and the incarnation of the table that
//! exported it. The [`ObjectTable`] (the seeds' remote reference module) exports
//! servants — a servant is any [`Service`]: generated dispatchers and [`Procedures`]
//! alike — and hands out their [`ObjectRef`]s; for each interface it serves, it gives the
//! server a dispatcher ([`ObjectTable::dispatcher`]) that strips the key, finds the
//! servant and calls it with the remaining arguments.
//!
//! Every reply starts with an [`ObjectStatus`], so a caller — a courier [`Proxy`] or a C
//! program — learns that the object is unknown (never exported, or unexported since) or
//! that its reference is stale (made by an earlier incarnation of the server), rather
//! than getting an error about something else:
//!
//! ```c
//! struct object_key { unsigned hyper incarnation; unsigned hyper object; };
//! enum object_status { OBJECT_OK = 0, OBJECT_UNKNOWN = 1, OBJECT_STALE = 2 };
//! union count_result switch (object_status status) {
//! case OBJECT_OK: unsigned int result;
//! default: void;
//! };
//! program COUNTER { version COUNTER_V1 { count_result ADD(object_key, unsigned int) = 1; } = 1; } = …;
//! ```
//!
//! [`Procedures`]: crate::rpc::Procedures

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{BufMut, Bytes, BytesMut};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::lease::{Holders, Lease, LeaseConfig};
use super::ObjectRef;
use crate::rpc::server::BoxFuture;
use crate::rpc::{Call, CallError, CallOptions, Client, Fault, Outcome, ProcId, Service};
use crate::sync::lock;

/// The length of an encoded [`ObjectKey`].
pub const OBJECT_KEY_LEN: usize = 16;

/// What names an object in a call: the first argument of every procedure of a remote
/// interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    /// The incarnation of the object table that exported the object.
    pub incarnation: u64,
    /// The object's number in that table.
    pub object: u64,
}

impl From<&ObjectRef> for ObjectKey {
    fn from(reference: &ObjectRef) -> Self {
        ObjectKey { incarnation: reference.incarnation, object: reference.object }
    }
}

impl courier_xdr::schema::XdrType for ObjectKey {
    fn xdr_declaration(name: &str, defs: &mut courier_xdr::schema::XdrDefinitions) -> String {
        defs.define("object_key", |_| {
            "struct object_key {\n    unsigned hyper incarnation;\n    unsigned hyper object;\n};".to_owned()
        });
        format!("object_key {name}")
    }
}

/// Defines, for the `.x` text of a remote interface, the reply union `name` of a
/// procedure whose results are of type `result` (`void` for none); returns `name`.
#[doc(hidden)]
pub fn idl_reply(defs: &mut courier_xdr::schema::XdrDefinitions, name: &str, result: &str) -> String {
    defs.define("object_status", |_| {
        "enum object_status {\n    OBJECT_OK = 0,\n    OBJECT_UNKNOWN = 1,\n    OBJECT_STALE = 2\n};".to_owned()
    });
    let ok = if result == "void" { "void".to_owned() } else { format!("{result} result") };
    defs.define(name, |_| {
        format!("union {name} switch (object_status status) {{\ncase OBJECT_OK:\n    {ok};\ndefault:\n    void;\n}};")
    });
    name.to_owned()
}

/// The first word of every reply of a remote interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ObjectStatus {
    /// The object ran the call; its results follow.
    Ok = 0,
    /// No such object: never exported here, or unexported since.
    Unknown = 1,
    /// The reference was made by an earlier incarnation of the server.
    Stale = 2,
}

/// A call to a remote object that did not return results.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectError {
    /// The call failed as any RPC can (transport, timeout, RPC error).
    #[error(transparent)]
    Call(#[from] CallError),
    /// The server holds no such object (never exported, or unexported since).
    #[error("{0}: no such object")]
    Unknown(ObjectRef),
    /// The reference was made by an earlier incarnation of the server, which has
    /// restarted since: its objects are gone.
    #[error("{0}: stale reference (the server has restarted since)")]
    Stale(ObjectRef),
}

/// One exported object.
struct Exported {
    interface: (u32, u32),
    /// The servant; `None` while an activatable object is inactive.
    servant: Option<Arc<dyn Service>>,
    /// Its lease holders, if it is collected when they are gone.
    holders: Option<Holders>,
    /// How to make its servant, if it is activatable.
    activation: Option<Activation>,
}

/// What makes an activatable object's servant, and when it is deactivated.
struct Activation {
    factory: Box<dyn Fn() -> Arc<dyn Service> + Send + Sync>,
    /// Deactivated after this long without a call.
    idle: std::time::Duration,
    last_call: std::time::Instant,
}

/// The object table and remote reference module of one server.
pub struct ObjectTable {
    incarnation: u64,
    address: Mutex<Option<SocketAddr>>,
    objects: Mutex<HashMap<u64, Exported>>,
    next: AtomicU64,
    leases: Mutex<LeaseConfig>,
    /// The task that collects objects whose leases ran out, once one is leased.
    collector: std::sync::OnceLock<tokio::task::JoinHandle<()>>,
    collected: AtomicU64,
    /// The shortest idle time of an activatable object, in milliseconds.
    shortest_idle: AtomicU64,
    /// DIRTY calls answered.
    dirty_calls: AtomicU64,
}

impl Drop for ObjectTable {
    fn drop(&mut self) {
        if let Some(collector) = self.collector.get() {
            collector.abort();
        }
    }
}

impl std::fmt::Debug for ObjectTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectTable").field("incarnation", &self.incarnation).field("objects", &self.len()).finish()
    }
}

impl ObjectTable {
    /// An empty table with a new incarnation (random: references it makes are stale to
    /// any other table, in particular to this server after a restart).
    pub fn new() -> Arc<ObjectTable> {
        Arc::new(ObjectTable {
            incarnation: crate::rpc::session::random_id(),
            address: Mutex::new(None),
            objects: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            leases: Mutex::new(LeaseConfig::default()),
            collector: std::sync::OnceLock::new(),
            collected: AtomicU64::new(0),
            shortest_idle: AtomicU64::new(u64::MAX),
            dirty_calls: AtomicU64::new(0),
        })
    }

    /// Sets how long leases last and how long new leased objects wait for their first.
    pub fn set_leases(&self, config: LeaseConfig) {
        *lock(&self.leases) = config;
    }

    /// The table's incarnation, the "time" of the references it makes.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// Where clients reach this table's server (its TCP/UDP port), for the references
    /// it makes; set it once the server listens.
    pub fn set_address(&self, addr: SocketAddr) {
        *lock(&self.address) = Some(addr);
    }

    /// How many objects are exported.
    pub fn len(&self) -> usize {
        lock(&self.objects).len()
    }

    /// Whether no object is exported.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Exports `servant` as an object of interface (`program`, `version`); returns its
    /// reference. Panics if [`ObjectTable::set_address`] was not called: a reference
    /// must say where the object is.
    pub fn export(&self, program: u32, version: u32, servant: impl Service) -> ObjectRef {
        self.insert(program, version, Some(Arc::new(servant)), None, None)
    }

    /// Registers an activatable object: no servant exists until the first call, which
    /// makes one with `factory` (activation); after `idle` without calls the servant is
    /// dropped (deactivation), and the next call makes a new one. The reference stays
    /// valid throughout, so servers of rarely used objects cost nothing until needed.
    /// A servant that must outlive deactivation keeps its state elsewhere (a file, a
    /// database) and the factory loads it. The factory runs while the table is locked:
    /// keep it quick (a servant can load its state on its first call). Call from within
    /// a tokio runtime: the table's collector deactivates idle servants.
    pub fn export_activatable<S, F>(
        self: &Arc<Self>,
        program: u32,
        version: u32,
        idle: std::time::Duration,
        factory: F,
    ) -> ObjectRef
    where
        S: Service,
        F: Fn() -> S + Send + Sync + 'static,
    {
        self.collector.get_or_init(|| tokio::spawn(collect_loop(Arc::downgrade(self))));
        self.shortest_idle.fetch_min(idle.as_millis().min(u64::MAX.into()) as u64, Ordering::Relaxed);
        let factory: Box<dyn Fn() -> Arc<dyn Service> + Send + Sync> = Box::new(move || Arc::new(factory()));
        let activation = Activation { factory, idle, last_call: std::time::Instant::now() };
        self.insert(program, version, None, None, Some(activation))
    }

    /// How many activatable objects have a servant now.
    pub fn active(&self) -> usize {
        lock(&self.objects).values().filter(|e| e.activation.is_some() && e.servant.is_some()).count()
    }

    /// Exports `servant` like [`ObjectTable::export`], to be collected — unexported and
    /// dropped — once no client holds a lease on it (see [`super::lease`]); it waits the
    /// grace period for its first lease. Call from within a tokio runtime: the first
    /// leased export starts the table's collector there.
    pub fn export_leased(self: &Arc<Self>, program: u32, version: u32, servant: impl Service) -> ObjectRef {
        self.collector.get_or_init(|| tokio::spawn(collect_loop(Arc::downgrade(self))));
        let grace = lock(&self.leases).grace;
        let holders = Holders::new(std::time::Instant::now(), grace);
        self.insert(program, version, Some(Arc::new(servant)), Some(holders), None)
    }

    fn insert(
        &self,
        program: u32,
        version: u32,
        servant: Option<Arc<dyn Service>>,
        holders: Option<Holders>,
        activation: Option<Activation>,
    ) -> ObjectRef {
        let addr = lock(&self.address).expect("ObjectTable::set_address before export");
        let object = self.next.fetch_add(1, Ordering::Relaxed);
        let exported = Exported { interface: (program, version), servant, holders, activation };
        lock(&self.objects).insert(object, exported);
        ObjectRef { addr, incarnation: self.incarnation, object, program, version }
    }

    /// DIRTY: leases the objects of `keys` to `client` for at most `wanted`; returns the
    /// duration granted. Keys of other incarnations and unknown objects are ignored.
    pub fn dirty(&self, client: u64, keys: &[ObjectKey], wanted: std::time::Duration) -> std::time::Duration {
        self.dirty_calls.fetch_add(1, Ordering::Relaxed);
        let granted = wanted.min(lock(&self.leases).duration);
        let until = std::time::Instant::now() + granted;
        let mut objects = lock(&self.objects);
        for key in keys.iter().filter(|k| k.incarnation == self.incarnation) {
            if let Some(holders) = objects.get_mut(&key.object).and_then(|e| e.holders.as_mut()) {
                holders.grant(client, until);
            }
        }
        granted
    }

    /// CLEAN: `client` gives its leases on the objects of `keys` back.
    pub fn clean(&self, client: u64, keys: &[ObjectKey]) {
        let mut objects = lock(&self.objects);
        for key in keys.iter().filter(|k| k.incarnation == self.incarnation) {
            if let Some(holders) = objects.get_mut(&key.object).and_then(|e| e.holders.as_mut()) {
                holders.release(client);
            }
        }
        drop(objects);
        self.collect();
    }

    /// Unexports the leased objects nobody holds a lease on any more (past their grace)
    /// and deactivates idle activatable ones; returns how many objects it unexported.
    /// The table's collector calls it regularly.
    pub fn collect(&self) -> usize {
        let now = std::time::Instant::now();
        // The servants are dropped after the lock is released.
        let mut idle = Vec::new();
        let gone: Vec<Exported> = {
            let mut objects = lock(&self.objects);
            for exported in objects.values_mut() {
                let Some(activation) = &exported.activation else { continue };
                // A servant a call still uses is not idle, however old its last call.
                let in_use = exported.servant.as_ref().is_some_and(|s| Arc::strong_count(s) > 1);
                if !in_use && now.duration_since(activation.last_call) >= activation.idle {
                    idle.extend(exported.servant.take());
                }
            }
            let dead: Vec<u64> = objects
                .iter_mut()
                .filter_map(|(n, e)| e.holders.as_mut().is_some_and(|h| !h.alive(now)).then_some(*n))
                .collect();
            dead.iter().filter_map(|n| objects.remove(n)).collect()
        };
        drop(idle);
        self.collected.fetch_add(gone.len() as u64, Ordering::Relaxed);
        gone.len()
    }

    /// How many DIRTY calls (lease requests and renewals) the table has answered.
    pub fn dirty_calls(&self) -> u64 {
        self.dirty_calls.load(Ordering::Relaxed)
    }

    /// How many leased objects have been collected so far.
    pub fn collected(&self) -> u64 {
        self.collected.load(Ordering::Relaxed)
    }

    /// The lease program of this table, to register with the server as
    /// [`super::lease::PROGRAM`], [`super::lease::VERSION`].
    pub fn lease_service(self: &Arc<Self>) -> crate::rpc::Procedures {
        super::lease::service(self)
    }

    /// Withdraws an object: later calls to it get [`ObjectStatus::Unknown`]. Returns
    /// whether it was exported.
    pub fn unexport(&self, reference: &ObjectRef) -> bool {
        reference.incarnation == self.incarnation && lock(&self.objects).remove(&reference.object).is_some()
    }

    /// The dispatcher of interface (`program`, `version`), to register with the server
    /// under that program and version.
    pub fn dispatcher(self: &Arc<Self>, program: u32, version: u32) -> ObjectDispatcher {
        ObjectDispatcher { table: self.clone(), interface: (program, version) }
    }

    /// The servant a call is for, or the status that says why there is none.
    fn find(&self, key: ObjectKey, interface: (u32, u32)) -> Result<Arc<dyn Service>, ObjectStatus> {
        if key.incarnation != self.incarnation {
            return Err(ObjectStatus::Stale);
        }
        let mut objects = lock(&self.objects);
        let Some(exported) = objects.get_mut(&key.object).filter(|e| e.interface == interface) else {
            return Err(ObjectStatus::Unknown);
        };
        if let Some(activation) = &mut exported.activation {
            activation.last_call = std::time::Instant::now();
            if exported.servant.is_none() {
                exported.servant = Some((activation.factory)());
            }
        }
        exported.servant.clone().ok_or(ObjectStatus::Unknown)
    }
}

/// Serves one interface of an [`ObjectTable`]: register it with the server under the
/// interface's program and version.
#[derive(Debug)]
pub struct ObjectDispatcher {
    table: Arc<ObjectTable>,
    interface: (u32, u32),
}

impl Service for ObjectDispatcher {
    fn call(&self, mut call: Call) -> BoxFuture<Outcome> {
        if call.args.len() < OBJECT_KEY_LEN {
            return Box::pin(async { Err(Fault::GarbageArgs) });
        }
        let key = call.args.split_to(OBJECT_KEY_LEN);
        let key: ObjectKey = match courier_xdr::from_bytes(key) {
            Ok(key) => key,
            Err(_) => return Box::pin(async { Err(Fault::GarbageArgs) }),
        };
        let servant = match self.table.find(key, self.interface) {
            Ok(servant) => servant,
            Err(status) => return Box::pin(async move { Ok(status_only(status)) }),
        };
        let running = servant.call(call);
        Box::pin(async move {
            let results = running.await?;
            let mut reply = BytesMut::with_capacity(4 + results.len());
            reply.put_u32(ObjectStatus::Ok as u32);
            reply.extend_from_slice(&results);
            Ok(reply.freeze())
        })
    }
}

/// Collects a table's dead objects a few times per lease period, until the table is
/// dropped.
async fn collect_loop(table: std::sync::Weak<ObjectTable>) {
    loop {
        let period = {
            let Some(table) = table.upgrade() else { return };
            table.collect();
            let config = *lock(&table.leases);
            let idle = std::time::Duration::from_millis(table.shortest_idle.load(Ordering::Relaxed));
            (config.duration.min(config.grace).min(idle) / 8).max(std::time::Duration::from_millis(5))
        };
        tokio::time::sleep(period).await;
    }
}

fn status_only(status: ObjectStatus) -> Bytes {
    Bytes::copy_from_slice(&(status as u32).to_be_bytes())
}

/// A reply of a remote interface, as decoded: an XDR union on [`ObjectStatus`] (a
/// derived enum is a union discriminated by variant index).
#[derive(Deserialize)]
enum ObjectReply<R> {
    Ok(R),
    Unknown,
    Stale,
}

/// The client side of a remote object: its reference and a client connected to its
/// server. Typed proxies wrap one.
#[derive(Debug, Clone)]
pub struct Proxy {
    client: Client,
    reference: ObjectRef,
    /// The lease this proxy (and its clones) hold on the object, if leased.
    lease: Option<Arc<Lease>>,
}

impl Proxy {
    /// A proxy for `reference` that calls through `client` (connected to the
    /// reference's server).
    pub fn new(client: Client, reference: ObjectRef) -> Self {
        Proxy { client, reference, lease: None }
    }

    /// A proxy for `reference` that holds a lease on the object (for at most `wanted`;
    /// the server may grant less), renewed while the proxy or a clone of it lives and
    /// given back when the last one is dropped.
    pub async fn leased(client: Client, reference: ObjectRef, wanted: std::time::Duration) -> Result<Self, CallError> {
        let lease = Lease::take(client.clone(), ObjectKey::from(&reference), wanted).await?;
        Ok(Proxy { client, reference, lease: Some(Arc::new(lease)) })
    }

    /// Whether this proxy holds a lease on its object.
    pub fn is_leased(&self) -> bool {
        self.lease.is_some()
    }

    /// The object's reference.
    pub fn reference(&self) -> &ObjectRef {
        &self.reference
    }

    /// Calls procedure `proc` of the object's interface with `args` (after the key).
    pub async fn invoke<A, R>(&self, proc: u32, args: &A, opts: &CallOptions) -> Result<R, ObjectError>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let call = ProcId { prog: self.reference.program, vers: self.reference.version, proc };
        let key = ObjectKey::from(&self.reference);
        match self.client.call_with::<_, ObjectReply<R>>(call, &(key, args), opts).await? {
            ObjectReply::Ok(results) => Ok(results),
            ObjectReply::Unknown => Err(ObjectError::Unknown(self.reference)),
            ObjectReply::Stale => Err(ObjectError::Stale(self.reference)),
        }
    }
}
