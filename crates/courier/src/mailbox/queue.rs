//! The queue of one mailbox, sans-IO: messages waiting, messages delivered but not yet
//! acknowledged (in flight, each until its visibility deadline), bounded; what happens
//! at each step is decided here, with the time passed in, so it is tested without
//! waiting.
//!
//! A received message stays in flight until it is acknowledged; if its deadline passes
//! first, it is delivered again (at-least-once delivery), its delivery count one higher,
//! or — past the configured number of deliveries — handed back as a dead letter.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// A message in a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its id in the mailbox, increasing in the order messages were sent.
    pub id: u64,
    /// Who sent it (a name the sender gives; receivers can filter by it).
    pub source: String,
    /// Its body.
    pub body: Bytes,
    /// How many times it has been delivered, this delivery included.
    pub deliveries: u32,
    /// It is persisted in the mailbox's store (sent with a durable send).
    pub durable: bool,
}

/// What a full mailbox does to a sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// The sender waits for room (back-pressure).
    Wait,
    /// The send fails at once.
    Reject,
}

/// How much a batch of deliveries ([`Queue::take_more`]) holds, and may hold: at most
/// `max` messages and, beyond the first, at most `max_bytes` of bodies and source names.
#[derive(Debug, Clone, Copy)]
pub struct Batch {
    max: usize,
    max_bytes: usize,
    count: usize,
    bytes: usize,
    /// A message waiting did not fit in its bytes.
    overflowed: bool,
}

impl Batch {
    /// An empty batch with these limits.
    pub fn new(max: usize, max_bytes: usize) -> Batch {
        Batch { max, max_bytes, count: 0, bytes: 0, overflowed: false }
    }

    /// Whether it takes nothing more: it holds `max` messages, or a message waiting
    /// did not fit in its bytes.
    pub fn is_full(&self) -> bool {
        self.count >= self.max || self.overflowed
    }
}

/// The limits and timeouts of a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// The most messages held, waiting and in flight together.
    pub capacity: usize,
    /// What a send does when the mailbox is full.
    pub when_full: WhenFull,
    /// How long a delivered message waits for its acknowledgement before it is
    /// delivered again.
    pub visibility: Duration,
    /// After this many deliveries without an acknowledgement a message becomes a dead
    /// letter instead of being delivered again; `None`: delivered again forever.
    pub max_deliveries: Option<u32>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            when_full: WhenFull::Wait,
            visibility: Duration::from_secs(30),
            max_deliveries: None,
        }
    }
}

/// What acknowledging one delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acked {
    /// The message was in flight on that delivery: it is removed.
    Removed(Message),
    /// No message with that id is held (acknowledged before, a dead letter, or lost with
    /// a restart if it was not durable): it will not come again either.
    Gone,
    /// The message is held but that delivery is over: it waits for, or went to, another
    /// delivery.
    Stale,
}

/// The sender's message did not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// One mailbox's messages.
#[derive(Debug)]
pub struct Queue {
    config: QueueConfig,
    next_id: u64,
    /// Room and ids set aside for messages being persisted, not yet receivable.
    reserved: usize,
    waiting: VecDeque<Message>,
    in_flight: BTreeMap<u64, (Message, Instant)>,
    /// The in-flight messages by deadline: what is due is found without looking at the
    /// rest (every send and receive asks).
    deadlines: BTreeSet<(Instant, u64)>,
}

impl Queue {
    /// An empty queue.
    pub fn new(config: QueueConfig) -> Self {
        Queue::restore(config, Vec::new(), 1)
    }

    /// A queue holding `messages` again (as reloaded from a store), oldest first; new
    /// messages get ids after theirs and from `first_id` on. Capacity does not apply to
    /// them: they were accepted before.
    pub fn restore(config: QueueConfig, messages: Vec<Message>, first_id: u64) -> Self {
        let next_id = messages.iter().map(|m| m.id + 1).max().unwrap_or(1).max(first_id);
        Queue {
            config,
            next_id,
            reserved: 0,
            waiting: messages.into(),
            in_flight: BTreeMap::new(),
            deadlines: BTreeSet::new(),
        }
    }

    /// The queue's configuration.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// Messages waiting to be received.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Messages delivered and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Adds a message; its id, or [`Full`].
    pub fn offer(&mut self, source: &str, body: Bytes) -> Result<u64, Full> {
        let id = self.reserve()?;
        self.admit(Message { id, source: source.to_owned(), body, deliveries: 0, durable: false });
        Ok(id)
    }

    /// Sets room and an id aside for a message that becomes receivable only later, with
    /// [`Queue::admit`] (once it is persisted), or never, with [`Queue::cancel`].
    pub fn reserve(&mut self) -> Result<u64, Full> {
        if self.waiting.len() + self.in_flight.len() + self.reserved >= self.config.capacity {
            return Err(Full);
        }
        self.reserved += 1;
        let id = self.next_id;
        self.next_id += 1;
        Ok(id)
    }

    /// Makes a reserved message receivable (its id is the reserved one).
    pub fn admit(&mut self, message: Message) {
        self.reserved = self.reserved.saturating_sub(1);
        self.waiting.push_back(message);
    }

    /// Gives a reservation's room back; its message never comes.
    pub fn cancel(&mut self) {
        self.reserved = self.reserved.saturating_sub(1);
    }

    /// Delivers the oldest waiting message (from `source`, if given) at `now`: it goes
    /// in flight until `now` + the visibility timeout.
    pub fn take(&mut self, now: Instant, source: Option<&str>) -> Option<Message> {
        self.take_many(now, source, 1, usize::MAX).pop()
    }

    /// Delivers the oldest waiting messages (from `source`, if given) at `now`, as
    /// [`Queue::take`] does one: at most `max` of them, and beyond the first only while
    /// their bodies and source names come to at most `max_bytes` in all.
    pub fn take_many(&mut self, now: Instant, source: Option<&str>, max: usize, max_bytes: usize) -> Vec<Message> {
        self.take_more(now, source, &mut Batch::new(max, max_bytes))
    }

    /// Adds to `batch` the oldest waiting messages (from `source`, if given) that fit in
    /// it, delivered at `now` as [`Queue::take_many`] does.
    pub fn take_more(&mut self, now: Instant, source: Option<&str>, batch: &mut Batch) -> Vec<Message> {
        let mut taken = Vec::new();
        let mut from = 0;
        while !batch.is_full() {
            let Some(offset) = self.waiting.range(from..).position(|m| source.is_none_or(|s| m.source == s)) else {
                break;
            };
            let at = from + offset;
            let next = &self.waiting[at];
            let bytes = batch.bytes.saturating_add(next.body.len() + next.source.len());
            if batch.count > 0 && bytes > batch.max_bytes {
                batch.overflowed = true;
                break;
            }
            taken.extend(self.deliver(at, now));
            (batch.count, batch.bytes) = (batch.count + 1, bytes);
            from = at;
        }
        taken
    }

    /// Delivers the waiting message at `at`: in flight until `now` + the visibility
    /// timeout.
    fn deliver(&mut self, at: usize, now: Instant) -> Option<Message> {
        let mut message = self.waiting.remove(at)?;
        message.deliveries += 1;
        let due = now + self.config.visibility;
        self.deadlines.insert((due, message.id));
        self.in_flight.insert(message.id, (message.clone(), due));
        Some(message)
    }

    /// Acknowledges delivery number `delivery` of message `id`.
    pub fn ack(&mut self, id: u64, delivery: u32) -> Acked {
        match self.settle(id, delivery) {
            Some(message) => Acked::Removed(message),
            None if self.in_flight.contains_key(&id) || self.waiting.iter().any(|m| m.id == id) => Acked::Stale,
            None => Acked::Gone,
        }
    }

    /// Gives delivery number `delivery` of message `id` back unprocessed: it waits again,
    /// first in line. False if that delivery is not in flight.
    pub fn release(&mut self, id: u64, delivery: u32) -> bool {
        match self.settle(id, delivery) {
            Some(message) => {
                self.waiting.push_front(message);
                true
            }
            None => false,
        }
    }

    /// Takes delivery `delivery` of message `id` out of flight, if it is the one there.
    fn settle(&mut self, id: u64, delivery: u32) -> Option<Message> {
        match self.in_flight.get(&id) {
            Some((message, _)) if message.deliveries == delivery => {
                let (message, due) = self.in_flight.remove(&id)?;
                self.deadlines.remove(&(due, id));
                Some(message)
            }
            _ => None,
        }
    }

    /// Puts the messages whose deadline has passed back in line (first, oldest first);
    /// returns those past their last delivery: the dead letters.
    pub fn expire(&mut self, now: Instant) -> Vec<Message> {
        let mut expired = Vec::new();
        while let Some(&(due, id)) = self.deadlines.first() {
            if due > now {
                break;
            }
            self.deadlines.pop_first();
            expired.push(id);
        }
        expired.sort_unstable();
        let mut dead = Vec::new();
        for id in expired.into_iter().rev() {
            let Some((message, _)) = self.in_flight.remove(&id) else { continue };
            if self.config.max_deliveries.is_some_and(|max| message.deliveries >= max) {
                dead.push(message);
            } else {
                self.waiting.push_front(message);
            }
        }
        dead.reverse();
        dead
    }

    /// When the next in-flight message's deadline passes.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(due, _)| due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(capacity: usize, max_deliveries: Option<u32>) -> Queue {
        Queue::new(QueueConfig {
            capacity,
            when_full: WhenFull::Reject,
            visibility: Duration::from_secs(10),
            max_deliveries,
        })
    }

    fn body(text: &'static str) -> Bytes {
        Bytes::from_static(text.as_bytes())
    }

    #[test]
    fn messages_come_out_in_order_and_can_be_filtered_by_source() {
        let now = Instant::now();
        let mut q = queue(10, None);
        q.offer("a", body("1")).unwrap();
        q.offer("b", body("2")).unwrap();
        q.offer("a", body("3")).unwrap();
        assert_eq!(q.take(now, Some("b")).unwrap().body, body("2"));
        assert_eq!(q.take(now, None).unwrap().body, body("1"));
        assert_eq!(q.take(now, Some("a")).unwrap().body, body("3"));
        assert_eq!(q.take(now, None), None);
        assert_eq!(q.in_flight(), 3);
    }

    #[test]
    fn a_batch_takes_the_oldest_messages_up_to_a_count_and_a_size() {
        let now = Instant::now();
        let mut q = queue(10, None);
        for (source, text) in [("a", "11"), ("b", "22"), ("a", "33"), ("a", "44"), ("b", "55"), ("a", "66")] {
            q.offer(source, body(text)).unwrap();
        }
        let bodies = |batch: Vec<Message>| batch.into_iter().map(|m| m.body).collect::<Vec<_>>();
        assert_eq!(bodies(q.take_many(now, Some("a"), 2, usize::MAX)), [body("11"), body("33")]);
        assert_eq!(bodies(q.take_many(now, None, 10, 6)), [body("22"), body("44")], "6 bytes: two bodies and sources");
        assert_eq!(bodies(q.take_many(now, None, 10, 1)), [body("55")], "the first is taken whatever its size");
        assert_eq!(q.in_flight(), 5);
        let last = q.take_many(now, None, 10, usize::MAX);
        assert_eq!((last.len(), last[0].deliveries), (1, 1));
        assert!(q.take_many(now, None, 10, usize::MAX).is_empty());
        assert!(q.release(last[0].id, 1));
        assert_eq!(q.take_many(now, Some("b"), 10, usize::MAX), [], "the source filter holds");
        assert_eq!(q.take_many(now, Some("a"), 10, usize::MAX)[0].deliveries, 2);
    }

    #[test]
    fn a_batch_filled_in_steps_keeps_its_count_and_size() {
        let now = Instant::now();
        let mut q = queue(10, None);
        let bodies = |batch: Vec<Message>| batch.into_iter().map(|m| m.body).collect::<Vec<_>>();
        let mut batch = Batch::new(3, 8);
        q.offer("a", body("11")).unwrap();
        assert_eq!(bodies(q.take_more(now, None, &mut batch)), [body("11")]);
        assert!(!batch.is_full(), "room for more");
        for text in ["22", "33", "44"] {
            q.offer("a", body(text)).unwrap();
        }
        assert_eq!(bodies(q.take_more(now, None, &mut batch)), [body("22")]);
        assert!(batch.is_full(), "8 bytes: the third does not fit");
        let mut batch = Batch::new(2, usize::MAX);
        assert_eq!(bodies(q.take_more(now, None, &mut batch)), [body("33"), body("44")]);
        assert!(batch.is_full());
        assert!(q.take_more(now, None, &mut batch).is_empty(), "a full batch takes nothing more");
    }

    #[test]
    fn an_unacknowledged_message_comes_back_after_its_deadline() {
        let now = Instant::now();
        let mut q = queue(10, None);
        let id = q.offer("a", body("x")).unwrap();
        let first = q.take(now, None).unwrap();
        assert_eq!((first.id, first.deliveries), (id, 1));
        assert!(q.expire(now + Duration::from_secs(9)).is_empty());
        assert_eq!(q.take(now, None), None, "still in flight");
        assert!(q.expire(now + Duration::from_secs(10)).is_empty());
        let again = q.take(now + Duration::from_secs(10), None).unwrap();
        assert_eq!((again.id, again.deliveries), (id, 2));
        assert_eq!(q.ack(id, 1), Acked::Stale, "the first delivery's receipt is stale");
        assert!(matches!(q.ack(id, 2), Acked::Removed(m) if m.id == id));
        assert_eq!(q.ack(id, 2), Acked::Gone, "acknowledged once; acknowledging again finds it gone");
        assert!(q.expire(now + Duration::from_secs(100)).is_empty());
        assert_eq!((q.waiting(), q.in_flight()), (0, 0));
    }

    #[test]
    fn deadlines_pass_in_the_order_of_delivery_and_settled_messages_have_none() {
        let now = Instant::now();
        let s = Duration::from_secs;
        let mut q = queue(10, None);
        for text in ["1", "2", "3"] {
            q.offer("a", body(text)).unwrap();
        }
        let first = q.take(now, None).unwrap();
        let second = q.take(now + s(1), None).unwrap();
        let third = q.take(now + s(2), None).unwrap();
        assert_eq!(q.next_deadline(), Some(now + s(10)));
        assert!(matches!(q.ack(first.id, 1), Acked::Removed(_)));
        assert_eq!(q.next_deadline(), Some(now + s(11)), "an acknowledged message has no deadline");
        assert!(q.expire(now + s(11)).is_empty());
        assert_eq!((q.waiting(), q.in_flight()), (1, 1), "the second came back");
        assert_eq!(q.next_deadline(), Some(now + s(12)));
        assert!(q.release(third.id, 1));
        assert_eq!(q.next_deadline(), None, "a released message has none");
        let again: Vec<u64> = q.take_many(now + s(20), None, 10, usize::MAX).iter().map(|m| m.id).collect();
        assert_eq!(again, [third.id, second.id]);
    }

    #[test]
    fn past_its_last_delivery_a_message_is_a_dead_letter() {
        let now = Instant::now();
        let mut q = queue(10, Some(2));
        q.offer("a", body("x")).unwrap();
        q.take(now, None).unwrap();
        assert!(q.expire(now + Duration::from_secs(10)).is_empty());
        q.take(now + Duration::from_secs(10), None).unwrap();
        let dead = q.expire(now + Duration::from_secs(20));
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].deliveries, 2);
        assert_eq!((q.waiting(), q.in_flight()), (0, 0));
    }

    #[test]
    fn the_queue_is_bounded_and_released_messages_go_first() {
        let now = Instant::now();
        let mut q = queue(2, None);
        q.offer("a", body("1")).unwrap();
        q.offer("a", body("2")).unwrap();
        assert_eq!(q.offer("a", body("3")), Err(Full));
        let one = q.take(now, None).unwrap();
        assert_eq!(q.offer("a", body("3")), Err(Full), "in flight still counts");
        assert!(q.release(one.id, 1));
        let again = q.take(now, None).unwrap();
        assert_eq!((again.id, again.deliveries), (one.id, 2), "a released message goes first");
        assert!(matches!(q.ack(one.id, 2), Acked::Removed(_)));
        assert!(q.offer("a", body("3")).is_ok());
    }

    #[test]
    fn a_reserved_message_takes_room_and_is_receivable_only_once_admitted() {
        let now = Instant::now();
        let mut q = queue(2, None);
        let first = q.reserve().unwrap();
        let second = q.reserve().unwrap();
        assert_eq!(q.offer("a", body("3")), Err(Full), "reservations count");
        assert_eq!(q.take(now, None), None, "nothing admitted yet");
        q.admit(Message { id: second, source: "a".into(), body: body("2"), deliveries: 0, durable: true });
        q.cancel();
        assert_eq!(q.take(now, None).unwrap().id, second);
        assert!(q.offer("a", body("3")).unwrap() > first, "ids keep increasing");
    }
}
