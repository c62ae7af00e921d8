//! Distributed garbage collection with leases (the RMI seed's DGC, its `dirty` and
//! `clean` calls).
//!
//! An object exported with [`ObjectTable::export_leased`] lives while someone holds a
//! lease on it. A client holding a proxy ([`Proxy::leased`]) asks for a lease (DIRTY),
//! renews it at half its duration — all the leases of one client connection in one
//! DIRTY — and gives it back (CLEAN) when its last copy of the proxy is dropped; a client that dies simply stops renewing, and its lease runs out.
//! When no lease is left the table unexports the object and drops its servant.
//!
//! A freshly exported object has no lease yet — it may be on its way to its first
//! caller in a reply. It is kept for a grace period after export (the race Java RMI
//! guards against by holding new exports strongly until the first `dirty`), so that a
//! slow client has time to take its lease.
//!
//! The leases are ONC RPC program [`PROGRAM`] version [`VERSION`], served next to the
//! objects:
//!
//! ```c
//! typedef object_key object_keys<>;
//! program COURIER_DGC {
//!     version COURIER_DGC_V1 {
//!         /* Leases the objects to the client for (at most) ms milliseconds; answers
//!            the milliseconds granted. */
//!         unsigned int DIRTY(unsigned hyper, object_keys, unsigned int) = 1;
//!         void CLEAN(unsigned hyper, object_keys) = 2;
//!     } = 1;
//! } = 0x20435203;
//! ```
//!
//! [`ObjectTable::export_leased`]: super::ObjectTable::export_leased
//! [`Proxy::leased`]: super::Proxy::leased

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

use super::{ObjectKey, ObjectTable};
use crate::rpc::{CallError, CallOptions, Client, ProcId, Procedures};
use crate::sync::lock;

/// The lease program's number.
pub const PROGRAM: u32 = 0x2043_5203;
/// Its version.
pub const VERSION: u32 = 1;
/// DIRTY(client, keys, ms) → granted ms.
pub const DIRTY: u32 = 1;
/// CLEAN(client, keys).
pub const CLEAN: u32 = 2;

/// How long leases last and how long a new export waits for its first one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseConfig {
    /// The longest lease granted (clients renew at half of it).
    pub duration: Duration,
    /// How long a new leased object lives without a lease.
    pub grace: Duration,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig { duration: Duration::from_secs(10), grace: Duration::from_secs(10) }
    }
}

/// Who holds leases on one object, and until when.
#[derive(Debug)]
pub(crate) struct Holders {
    by_client: HashMap<u64, Instant>,
    grace_until: Instant,
}

impl Holders {
    pub(crate) fn new(now: Instant, grace: Duration) -> Self {
        Holders { by_client: HashMap::new(), grace_until: now + grace }
    }

    pub(crate) fn grant(&mut self, client: u64, until: Instant) {
        self.by_client.insert(client, until);
    }

    pub(crate) fn release(&mut self, client: u64) {
        self.by_client.remove(&client);
        // Once its holders are done with it, the object need not wait out the grace.
        if self.by_client.is_empty() {
            self.grace_until = Instant::now().min(self.grace_until);
        }
    }

    /// Whether the object must live on at `now`.
    pub(crate) fn alive(&mut self, now: Instant) -> bool {
        self.by_client.retain(|_, until| *until > now);
        now < self.grace_until || !self.by_client.is_empty()
    }
}

/// The lease program of a table, to register as [`PROGRAM`] [`VERSION`].
pub fn service(table: &Arc<ObjectTable>) -> Procedures {
    let (dirty, clean) = (table.clone(), table.clone());
    Procedures::new()
        .typed(DIRTY, move |(client, keys, ms): (u64, Vec<ObjectKey>, u32)| {
            let granted = dirty.dirty(client, &keys, Duration::from_millis(ms.into()));
            async move { granted.as_millis().min(u32::MAX.into()) as u32 }
        })
        .typed(CLEAN, move |(client, keys): (u64, Vec<ObjectKey>)| {
            clean.clean(client, &keys);
            async {}
        })
}

/// A lease a client holds on one object: renewed in the background with the client's
/// other leases, given back when dropped.
#[derive(Debug)]
pub(crate) struct Lease {
    renewer: Arc<Renewer>,
    key: ObjectKey,
}

/// The leases one client (one connection, one session id) holds, renewed together: one
/// DIRTY for all of them per period, as RMI's DGC client renews per virtual machine.
#[derive(Debug)]
struct Renewer {
    client: Client,
    /// The keys leased, with how many leases (proxies) hold each.
    keys: Mutex<HashMap<ObjectKey, usize>>,
    /// The duration asked for, in milliseconds.
    ms: AtomicU32,
    /// The renewal period: half the shortest duration granted.
    period: Mutex<Duration>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The renewers of the clients that hold leases, by session id.
static RENEWERS: LazyLock<Mutex<HashMap<u64, Weak<Renewer>>>> = LazyLock::new(Mutex::default);

/// Asks the objects' server for leases; returns the milliseconds granted.
async fn dirty(client: &Client, keys: &[ObjectKey], ms: u32) -> Result<u32, CallError> {
    let call = ProcId { prog: PROGRAM, vers: VERSION, proc: DIRTY };
    // Renewing is idempotent: a repeated DIRTY only sets the same expiry again.
    client.call_with(call, &(client.session_id(), keys, ms), &CallOptions::idempotent(true)).await
}

fn half(granted_ms: u32) -> Duration {
    Duration::from_millis((granted_ms / 2).max(1).into())
}

impl Renewer {
    /// The renewer of `client`'s leases, made (and its task started) on first use; it
    /// renews at least every `period`.
    fn of(client: &Client, period: Duration) -> Arc<Renewer> {
        let mut renewers = lock(&RENEWERS);
        if let Some(renewer) = renewers.get(&client.session_id()).and_then(Weak::upgrade) {
            let mut current = lock(&renewer.period);
            *current = (*current).min(period);
            drop(current);
            return renewer;
        }
        renewers.retain(|_, renewer| renewer.strong_count() > 0);
        let renewer = Arc::new(Renewer {
            client: client.clone(),
            keys: Mutex::default(),
            ms: AtomicU32::new(0),
            period: Mutex::new(period),
            task: Mutex::default(),
        });
        *lock(&renewer.task) = Some(tokio::spawn(renew(Arc::downgrade(&renewer))));
        renewers.insert(client.session_id(), Arc::downgrade(&renewer));
        renewer
    }
}

impl Drop for Renewer {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}

/// Renews every lease of a renewer at its period, while it lives.
async fn renew(renewer: Weak<Renewer>) {
    let mut retry = None;
    loop {
        let period = match (retry.take(), renewer.upgrade()) {
            (_, None) => return,
            (Some(sooner), _) => sooner,
            (None, Some(renewer)) => *lock(&renewer.period),
        };
        tokio::time::sleep(period).await;
        let Some(renewer) = renewer.upgrade() else { return };
        let keys: Vec<ObjectKey> = lock(&renewer.keys).keys().copied().collect();
        if keys.is_empty() {
            continue;
        }
        match dirty(&renewer.client, &keys, renewer.ms.load(Ordering::Relaxed)).await {
            Ok(granted) => *lock(&renewer.period) = half(granted),
            // Try again sooner: the leases have half their time left.
            Err(e) => {
                tracing::debug!(error = %e, "lease renewal failed");
                retry = Some(period / 2);
            }
        }
    }
}

impl Lease {
    /// Takes a lease on `key` through `client` and keeps it renewed with the client's
    /// other leases.
    pub(crate) async fn take(client: Client, key: ObjectKey, wanted: Duration) -> Result<Lease, CallError> {
        let ms = wanted.as_millis().min(u32::MAX.into()) as u32;
        let granted = dirty(&client, &[key], ms).await?;
        let renewer = Renewer::of(&client, half(granted));
        renewer.ms.fetch_max(ms, Ordering::Relaxed);
        *lock(&renewer.keys).entry(key).or_default() += 1;
        Ok(Lease { renewer, key })
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let last = {
            let mut keys = lock(&self.renewer.keys);
            let count = keys.entry(self.key).or_default();
            *count = count.saturating_sub(1);
            let last = *count == 0;
            if last {
                keys.remove(&self.key);
            }
            last
        };
        // Give the lease back, if there is a runtime to send the CLEAN from; otherwise
        // it runs out by itself.
        if let (true, Ok(runtime)) = (last, tokio::runtime::Handle::try_current()) {
            let (client, key) = (self.renewer.client.clone(), self.key);
            runtime.spawn(async move {
                let call = ProcId { prog: PROGRAM, vers: VERSION, proc: CLEAN };
                let _ =
                    client.call_with::<_, ()>(call, &(client.session_id(), &[key][..]), &CallOptions::default()).await;
            });
        }
    }
}
