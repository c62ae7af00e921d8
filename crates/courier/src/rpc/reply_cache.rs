//! The server's history of replies (the seeds' duplicate filter), sans-IO: a call seen
//! again is answered from the history instead of being executed again, which gives
//! at-most-once execution.
//!
//! Two histories share one bounded store:
//!
//! - [`ReplyCache`], for plain ONC RPC clients: entries keyed by the classic duplicate
//!   request cache key (client address, xid, program, version, procedure), forgotten by
//!   age or when the store is full. Only UDP needs it.
//! - [`SlotTable`], for courier clients that open a session ([`super::session`]): one
//!   entry per (client, slot), holding the reply to the slot's latest call. The next
//!   call on the same slot (sequence number + 1) acknowledges that reply — the seeds'
//!   RRA pattern — and releases it at once, so the history holds at most one reply per
//!   call in flight instead of every reply of the last minutes. Because the key names
//!   the client, not its address, a call retransmitted on a new connection is still
//!   recognised.
//!
//! A duplicate that arrives while the first is still executing waits for that result:
//! the caller hands in a waiter (whatever it needs to send a reply) and gets it back
//! from [`complete`](SlotTable::complete) along with the outcome.
//!
//! Both are bounded in entries, in bytes of cached replies and in age.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::server::Outcome;

/// A duplicate waits for the first call's result with at most this many others; past it
/// the oldest waiter is dropped (it gets no reply, as if its datagram were lost).
const MAX_WAITERS: usize = 8;

/// The limits of a history.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most entries.
    pub entries: usize,
    /// The most bytes of cached replies.
    pub bytes: usize,
    /// How long an entry is kept after it was last used.
    pub ttl: Duration,
}

/// What to do with a call.
#[derive(Debug, PartialEq)]
pub enum Lookup<W> {
    /// Not seen before: execute it, then `complete` it. The waiter comes back.
    New(W),
    /// Being executed: the waiter is kept and gets the result when it is complete.
    InProgress,
    /// Executed already: send this outcome to the waiter, which comes back.
    Replay(Outcome, W),
    /// Older than a call the client has since made on the same slot: the client has its
    /// reply already, so the message is a stray duplicate to drop.
    Stale,
}

#[derive(Debug)]
enum State<W> {
    InProgress(Vec<W>),
    Done(Outcome),
}

impl<W> State<W> {
    fn weight(&self) -> usize {
        match self {
            State::Done(Ok(results)) => results.len(),
            _ => 0,
        }
    }

    /// Adds a waiter for the result, or returns the result.
    fn lookup(&mut self, waiter: W) -> Lookup<W> {
        match self {
            State::InProgress(waiters) => {
                if waiters.len() >= MAX_WAITERS {
                    waiters.remove(0);
                }
                waiters.push(waiter);
                Lookup::InProgress
            }
            State::Done(outcome) => Lookup::Replay(outcome.clone(), waiter),
        }
    }
}

/// A bounded map whose entries leave in least-recently-used order: when it holds too
/// many entries or too many bytes, or when they are too old.
#[derive(Debug)]
struct Store<K, V> {
    limits: Limits,
    entries: HashMap<K, Slot<V>>,
    /// Keys in the order they were last used, with the stamp of that use; records whose
    /// stamp no longer matches the entry's are skipped (and compacted away).
    order: VecDeque<(K, u64)>,
    bytes: usize,
    next_stamp: u64,
}

#[derive(Debug)]
struct Slot<V> {
    value: V,
    weight: usize,
    stamp: u64,
    used: Instant,
}

impl<K: Hash + Eq + Clone, V> Store<K, V> {
    fn new(limits: Limits) -> Self {
        let limits = Limits { entries: limits.entries.max(1), ..limits };
        Store { limits, entries: HashMap::new(), order: VecDeque::new(), bytes: 0, next_stamp: 0 }
    }

    /// The entry for `key`, marked as used now.
    fn touch(&mut self, key: &K, now: Instant) -> Option<&mut V> {
        let slot = self.entries.get_mut(key)?;
        slot.stamp = self.next_stamp;
        slot.used = now;
        self.order.push_back((key.clone(), self.next_stamp));
        self.next_stamp += 1;
        self.compact();
        Some(&mut self.entries.get_mut(key)?.value)
    }

    fn insert(&mut self, key: K, value: V, now: Instant) {
        self.remove(&key);
        while self.entries.len() >= self.limits.entries && self.evict_oldest() {}
        self.order.push_back((key.clone(), self.next_stamp));
        self.entries.insert(key, Slot { value, weight: 0, stamp: self.next_stamp, used: now });
        self.next_stamp += 1;
    }

    /// Records how many bytes an entry now holds, evicting others past the byte limit.
    fn reweigh(&mut self, key: &K, weight: usize) {
        let Some(slot) = self.entries.get_mut(key) else { return };
        self.bytes = self.bytes - slot.weight + weight;
        slot.weight = weight;
        while self.bytes > self.limits.bytes && self.evict_oldest() {}
    }

    fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.entries.get_mut(key).map(|slot| &mut slot.value)
    }

    fn remove(&mut self, key: &K) -> Option<V> {
        let slot = self.entries.remove(key)?;
        self.bytes -= slot.weight;
        Some(slot.value)
    }

    /// Forgets entries unused for longer than the time to live.
    fn expire(&mut self, now: Instant) {
        while let Some((key, stamp)) = self.order.front() {
            match self.entries.get(key) {
                Some(slot) if slot.stamp == *stamp => {
                    if now.duration_since(slot.used) < self.limits.ttl {
                        break;
                    }
                    let key = key.clone();
                    self.remove(&key);
                }
                _ => {}
            }
            self.order.pop_front();
        }
    }

    /// Removes the least recently used entry; false if there is none.
    fn evict_oldest(&mut self) -> bool {
        while let Some((key, stamp)) = self.order.pop_front() {
            if self.entries.get(&key).is_some_and(|slot| slot.stamp == stamp) {
                self.remove(&key);
                return true;
            }
        }
        false
    }

    /// Drops outdated order records once they outnumber the live ones, so the order
    /// queue stays proportional to the entries however often they are used.
    fn compact(&mut self) {
        if self.order.len() > 2 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.order.retain(|(key, stamp)| entries.get(key).is_some_and(|slot| slot.stamp == *stamp));
        }
    }
}

/// What identifies a plain ONC RPC call for duplicate filtering.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallKey {
    /// The client's address.
    pub peer: SocketAddr,
    /// The transaction id.
    pub xid: u32,
    /// Program, version and procedure.
    pub proc: (u32, u32, u32),
}

/// The classic history of replies, keyed by client address and xid.
#[derive(Debug)]
pub struct ReplyCache<W> {
    store: Store<CallKey, State<W>>,
}

impl<W> ReplyCache<W> {
    /// An empty history with these limits.
    pub fn new(limits: Limits) -> Self {
        ReplyCache { store: Store::new(limits) }
    }

    /// How many calls are remembered.
    pub fn len(&self) -> usize {
        self.store.entries.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.store.entries.is_empty()
    }

    /// Looks a call up at time `now`; a new call is remembered as in progress.
    pub fn begin(&mut self, key: CallKey, now: Instant, waiter: W) -> Lookup<W> {
        self.store.expire(now);
        match self.store.touch(&key, now) {
            Some(state) => state.lookup(waiter),
            None => {
                self.store.insert(key, State::InProgress(Vec::new()), now);
                Lookup::New(waiter)
            }
        }
    }

    /// Records the outcome of a call begun with [`ReplyCache::begin`]; returns the
    /// duplicates that wait for it.
    pub fn complete(&mut self, key: &CallKey, outcome: Outcome) -> Vec<W> {
        let Some(state) = self.store.get_mut(key) else { return Vec::new() };
        let done = State::Done(outcome);
        let weight = done.weight();
        let State::InProgress(waiters) = std::mem::replace(state, done) else { return Vec::new() };
        self.store.reweigh(key, weight);
        waiters
    }
}

/// One slot of one client's session: the slot's latest call and its reply.
#[derive(Debug)]
struct SlotEntry<W> {
    seq: u32,
    state: State<W>,
}

/// The session history: one reply per (client, slot), released by the next call.
#[derive(Debug)]
pub struct SlotTable<W> {
    store: Store<(u64, u32), SlotEntry<W>>,
    released: u64,
}

/// Whether sequence number `a` comes after `b`, with wrap-around (serial arithmetic).
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl<W> SlotTable<W> {
    /// An empty table with these limits.
    pub fn new(limits: Limits) -> Self {
        SlotTable { store: Store::new(limits), released: 0 }
    }

    /// How many slots hold a call or a reply.
    pub fn len(&self) -> usize {
        self.store.entries.len()
    }

    /// Whether no slot holds anything.
    pub fn is_empty(&self) -> bool {
        self.store.entries.is_empty()
    }

    /// How many replies the clients' next calls have acknowledged (RRA) so far.
    pub fn released(&self) -> u64 {
        self.released
    }

    /// Looks up call `seq` on `slot` of `client`. A call newer than the slot's latest
    /// acknowledges the latest's reply, which is released, and becomes the slot's call.
    pub fn begin(&mut self, client: u64, slot: u32, seq: u32, now: Instant, waiter: W) -> Lookup<W> {
        self.store.expire(now);
        let key = (client, slot);
        match self.store.touch(&key, now) {
            Some(entry) if entry.seq == seq => entry.state.lookup(waiter),
            Some(entry) if !after(seq, entry.seq) => Lookup::Stale,
            found => {
                if found.is_some() {
                    self.released += 1;
                }
                self.store.insert(key, SlotEntry { seq, state: State::InProgress(Vec::new()) }, now);
                Lookup::New(waiter)
            }
        }
    }

    /// Records the outcome of call `seq` on `slot` of `client`, unless the slot has
    /// moved on; returns the duplicates that wait for it.
    pub fn complete(&mut self, client: u64, slot: u32, seq: u32, outcome: Outcome) -> Vec<W> {
        let key = (client, slot);
        let Some(entry) = self.store.get_mut(&key) else { return Vec::new() };
        if entry.seq != seq {
            return Vec::new();
        }
        let done = State::Done(outcome);
        let weight = done.weight();
        let State::InProgress(waiters) = std::mem::replace(&mut entry.state, done) else { return Vec::new() };
        self.store.reweigh(&key, weight);
        waiters
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn limits(entries: usize) -> Limits {
        Limits { entries, bytes: 1 << 20, ttl: Duration::from_secs(10) }
    }

    fn key(xid: u32) -> CallKey {
        CallKey { peer: "127.0.0.1:999".parse().unwrap(), xid, proc: (1, 1, 1) }
    }

    #[test]
    fn a_duplicate_waits_while_running_and_is_replayed_when_done() {
        let now = Instant::now();
        let mut cache = ReplyCache::new(limits(10));
        assert_eq!(cache.begin(key(1), now, "first"), Lookup::New("first"));
        assert_eq!(cache.begin(key(1), now, "dup"), Lookup::InProgress);
        assert_eq!(cache.complete(&key(1), Ok(Bytes::from_static(b"r"))), vec!["dup"]);
        assert_eq!(cache.begin(key(1), now, "again"), Lookup::Replay(Ok(Bytes::from_static(b"r")), "again"));
        let other_peer = CallKey { peer: "127.0.0.1:1000".parse().unwrap(), ..key(1) };
        assert_eq!(cache.begin(other_peer, now, ""), Lookup::New(""), "the same xid from another client is new");
    }

    #[test]
    fn waiters_are_bounded() {
        let now = Instant::now();
        let mut cache = ReplyCache::new(limits(10));
        cache.begin(key(1), now, 0);
        for i in 1..=20 {
            assert_eq!(cache.begin(key(1), now, i), Lookup::InProgress);
        }
        assert_eq!(cache.complete(&key(1), Ok(Bytes::new())), (13..=20).collect::<Vec<_>>());
    }

    #[test]
    fn the_history_is_bounded_in_entries_bytes_and_time() {
        let now = Instant::now();
        let mut cache = ReplyCache::new(limits(2));
        for xid in 0..5 {
            assert_eq!(cache.begin(key(xid), now, ()), Lookup::New(()));
            cache.complete(&key(xid), Ok(Bytes::new()));
        }
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.begin(key(0), now, ()), Lookup::New(()), "the oldest was forgotten");
        assert!(matches!(cache.begin(key(4), now, ()), Lookup::Replay(..)));
        assert_eq!(cache.begin(key(4), now + Duration::from_secs(11), ()), Lookup::New(()), "and an expired one");

        let mut cache = ReplyCache::new(Limits { entries: 100, bytes: 10, ttl: Duration::from_secs(10) });
        for xid in 0..3 {
            cache.begin(key(xid), now, ());
            cache.complete(&key(xid), Ok(Bytes::from(vec![0; 4])));
        }
        assert_eq!(cache.len(), 2, "12 bytes of replies do not fit in 10");
        assert_eq!(cache.begin(key(0), now, ()), Lookup::New(()));
    }

    #[test]
    fn reuse_keeps_an_entry_and_the_order_queue_stays_small() {
        let now = Instant::now();
        let mut cache = ReplyCache::new(limits(2));
        cache.begin(key(1), now, ());
        cache.complete(&key(1), Ok(Bytes::new()));
        for _ in 0..10_000 {
            assert!(matches!(cache.begin(key(1), now, ()), Lookup::Replay(..)));
        }
        assert!(cache.store.order.len() <= 2 * cache.len() + 65);
        cache.begin(key(2), now, ());
        cache.begin(key(3), now, ());
        assert_eq!(cache.begin(key(2), now, ()), Lookup::InProgress, "key 1 was the least recently used");
    }

    #[test]
    fn the_next_call_on_a_slot_releases_the_previous_reply() {
        let now = Instant::now();
        let mut slots = SlotTable::new(limits(100));
        assert_eq!(slots.begin(7, 0, 1, now, 'a'), Lookup::New('a'));
        assert_eq!(slots.begin(7, 0, 1, now, 'b'), Lookup::InProgress, "a retransmission waits");
        assert_eq!(slots.complete(7, 0, 1, Ok(Bytes::from_static(b"one"))), vec!['b']);
        assert_eq!(slots.begin(7, 0, 1, now, 'c'), Lookup::Replay(Ok(Bytes::from_static(b"one")), 'c'));
        assert_eq!(slots.released(), 0);
        assert_eq!(slots.begin(7, 0, 2, now, 'd'), Lookup::New('d'), "seq 2 acknowledges seq 1");
        assert_eq!(slots.released(), 1);
        assert_eq!(slots.begin(7, 0, 1, now, 'e'), Lookup::Stale, "a stray copy of seq 1 is dropped");
        assert_eq!(slots.complete(7, 0, 1, Ok(Bytes::new())), Vec::<char>::new(), "the slot moved on");
        assert_eq!(slots.begin(8, 0, 1, now, 'f'), Lookup::New('f'), "another client's slot 0");
        assert_eq!(slots.len(), 2);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let now = Instant::now();
        let mut slots = SlotTable::new(limits(100));
        slots.begin(1, 3, u32::MAX, now, ());
        slots.complete(1, 3, u32::MAX, Ok(Bytes::new()));
        assert_eq!(slots.begin(1, 3, 0, now, ()), Lookup::New(()));
        assert_eq!(slots.begin(1, 3, u32::MAX, now, ()), Lookup::Stale);
    }
}
