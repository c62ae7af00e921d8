//! The server's history of replies (the seeds' duplicate filter), sans-IO: a call seen
//! again — a retransmission with the same xid from the same client — is answered from
//! the history instead of being executed again, which gives at-most-once execution.
//!
//! Entries are keyed by the classic ONC RPC duplicate-request-cache key (client address,
//! xid, program, version, procedure), bounded in number, and forgotten after a time to
//! live. A duplicate that arrives while the first is still executing is dropped: the
//! reply to the first goes to the same client address, which is the reply it waits for.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::server::Outcome;

/// What identifies a call for duplicate filtering.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallKey {
    /// The client's address.
    pub peer: SocketAddr,
    /// The transaction id.
    pub xid: u32,
    /// Program, version and procedure.
    pub proc: (u32, u32, u32),
}

/// What to do with a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// Not seen before: execute it, then [`ReplyCache::complete`] it.
    New,
    /// Being executed: drop this duplicate.
    InProgress,
    /// Executed already: send this outcome again.
    Replay(Outcome),
}

#[derive(Debug)]
enum State {
    InProgress,
    Done(Outcome),
}

/// A bounded history of replies.
#[derive(Debug)]
pub struct ReplyCache {
    capacity: usize,
    ttl: Duration,
    entries: HashMap<CallKey, (State, Instant)>,
    /// Keys in the order they were first seen, for eviction.
    order: VecDeque<CallKey>,
}

impl ReplyCache {
    /// A history of at most `capacity` calls, each kept `ttl` after it was first seen.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        ReplyCache { capacity: capacity.max(1), ttl, entries: HashMap::new(), order: VecDeque::new() }
    }

    /// How many calls are remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Looks a call up at time `now`; a new call is remembered as in progress.
    pub fn begin(&mut self, key: CallKey, now: Instant) -> Lookup {
        self.expire(now);
        match self.entries.get(&key) {
            Some((State::InProgress, _)) => Lookup::InProgress,
            Some((State::Done(outcome), _)) => Lookup::Replay(outcome.clone()),
            None => {
                while self.entries.len() >= self.capacity {
                    match self.order.pop_front() {
                        Some(oldest) => {
                            self.entries.remove(&oldest);
                        }
                        None => break,
                    }
                }
                self.order.push_back(key.clone());
                self.entries.insert(key, (State::InProgress, now));
                Lookup::New
            }
        }
    }

    /// Records the outcome of a call begun with [`ReplyCache::begin`].
    pub fn complete(&mut self, key: &CallKey, outcome: Outcome) {
        if let Some((state, _)) = self.entries.get_mut(key) {
            *state = State::Done(outcome);
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(oldest) = self.order.front() {
            let fresh = self.entries.get(oldest).is_some_and(|(_, seen)| now.duration_since(*seen) < self.ttl);
            if fresh {
                break;
            }
            if let Some(oldest) = self.order.pop_front() {
                self.entries.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn key(xid: u32) -> CallKey {
        CallKey { peer: "127.0.0.1:999".parse().unwrap(), xid, proc: (1, 1, 1) }
    }

    #[test]
    fn a_duplicate_is_dropped_while_running_and_replayed_when_done() {
        let now = Instant::now();
        let mut cache = ReplyCache::new(10, Duration::from_secs(60));
        assert_eq!(cache.begin(key(1), now), Lookup::New);
        assert_eq!(cache.begin(key(1), now), Lookup::InProgress);
        cache.complete(&key(1), Ok(Bytes::from_static(b"r")));
        assert_eq!(cache.begin(key(1), now), Lookup::Replay(Ok(Bytes::from_static(b"r"))));
        let other_peer = CallKey { peer: "127.0.0.1:1000".parse().unwrap(), ..key(1) };
        assert_eq!(cache.begin(other_peer, now), Lookup::New, "the same xid from another client is another call");
    }

    #[test]
    fn the_history_is_bounded_in_size_and_time() {
        let now = Instant::now();
        let mut cache = ReplyCache::new(2, Duration::from_secs(10));
        for xid in 0..5 {
            assert_eq!(cache.begin(key(xid), now), Lookup::New);
            cache.complete(&key(xid), Ok(Bytes::new()));
        }
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.begin(key(0), now), Lookup::New, "the oldest was forgotten");
        assert!(matches!(cache.begin(key(4), now), Lookup::Replay(_)));
        assert_eq!(cache.begin(key(4), now + Duration::from_secs(11)), Lookup::New, "and so is an expired one");
    }
}
