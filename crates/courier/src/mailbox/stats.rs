//! How busy a mailbox is: totals and rates of messages sent and received, as
//! `courier mailboxes` shows them (and LIST carries them: the fields are in the order of
//! the mailbox program's `mailbox_info`). A [`Meter`] counts events in one-second
//! buckets over the last [`WINDOW`] seconds, with the time passed in.

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The seconds a rate is averaged over.
pub const WINDOW: usize = 10;

/// A mailbox's depth and traffic at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailboxStats {
    /// Messages waiting to be received.
    pub waiting: u64,
    /// Messages delivered and not yet acknowledged.
    pub in_flight: u64,
    /// Receivers waiting for a message now (not those filling a batch they have begun,
    /// [`Mailbox::receive_batch_lingering`](super::Mailbox::receive_batch_lingering)).
    pub consumers: u32,
    /// Whether durable sends persist messages.
    pub durable: bool,
    /// Messages sent since the mailbox was opened.
    pub sent: u64,
    /// Deliveries since the mailbox was opened (redeliveries included).
    pub received: u64,
    /// Deliveries acknowledged since the mailbox was opened.
    pub acknowledged: u64,
    /// Messages sent per second over the last [`WINDOW`] seconds.
    pub sent_rate: f64,
    /// Deliveries per second over the last [`WINDOW`] seconds.
    pub received_rate: f64,
}

/// Counts events: a total and a sliding window of per-second counts.
#[derive(Debug, Clone)]
pub(super) struct Meter {
    origin: Instant,
    total: u64,
    /// Counts of the seconds `second - WINDOW + 1 ..= second`, by `second % WINDOW`.
    buckets: [u64; WINDOW],
    /// The second (since `origin`) of the newest bucket.
    second: u64,
}

impl Meter {
    pub(super) fn new(origin: Instant) -> Self {
        Meter { origin, total: 0, buckets: [0; WINDOW], second: 0 }
    }

    /// Moves the window on to `now`'s second, emptying the buckets it passed.
    fn advance(&mut self, now: Instant) -> u64 {
        let second = now.saturating_duration_since(self.origin).as_secs();
        let passed = second.saturating_sub(self.second).min(WINDOW as u64);
        for s in 1..=passed {
            self.buckets[((self.second + s) % WINDOW as u64) as usize] = 0;
        }
        self.second = self.second.max(second);
        second
    }

    pub(super) fn record(&mut self, now: Instant) {
        let second = self.advance(now);
        self.buckets[(second % WINDOW as u64) as usize] += 1;
        self.total += 1;
    }

    pub(super) fn total(&self) -> u64 {
        self.total
    }

    /// Events per second over the last [`WINDOW`] seconds (or since the origin, when it
    /// is younger).
    pub(super) fn rate(&self, now: Instant) -> f64 {
        let mut meter = self.clone();
        meter.advance(now);
        let elapsed = now.saturating_duration_since(self.origin).as_secs_f64().clamp(1.0, WINDOW as f64);
        meter.buckets.iter().sum::<u64>() as f64 / elapsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_rate_covers_the_last_window_only() {
        let origin = Instant::now();
        let mut meter = Meter::new(origin);
        for i in 0..100 {
            meter.record(origin + Duration::from_millis(i * 10));
        }
        assert_eq!(meter.total(), 100);
        assert_eq!(meter.rate(origin + Duration::from_millis(999)), 100.0, "100 in the first second");
        assert_eq!(meter.rate(origin + Duration::from_secs(5)), 20.0, "100 in 5 s");
        assert_eq!(meter.rate(origin + Duration::from_secs(10)), 0.0, "the first second left the window");
        meter.record(origin + Duration::from_secs(30));
        assert_eq!(meter.rate(origin + Duration::from_secs(30)), 0.1);
        assert_eq!(meter.total(), 101);
    }
}
