//! Sessions: courier's convention, carried in the ONC RPC verifier, that gives a call an
//! identity beyond its xid and connection, tells the server the caller's deadline, and
//! tells the client which incarnation of the server answered.
//!
//! A courier client stamps each call's *verifier* with [`AUTH_COURIER_SESSION`] and a
//! [`CallStamp`]: a random client id, a slot and a sequence number (in the spirit of
//! NFSv4.1 session slots, RFC 8881 §2.10.6), the server incarnation the client expects,
//! and the milliseconds left before the caller gives up. A courier server answers with
//! a [`ReplyStamp`] naming its incarnation. The credential is untouched, so AUTH_SYS and
//! a session go together; servers that do not know the convention ignore the verifier
//! of an AUTH_NONE or AUTH_SYS call (libtirpc does) or refuse it with AUTH_BADVERF
//! (Linux's kernel servers do). The client learns which with one NULL call before its
//! first call, and speaks plain ONC RPC to servers without sessions.
//!
//! What the stamp buys:
//! - **At-most-once without a per-xid history (RRA).** A call occupies a slot; its
//!   retransmissions, on any connection, carry the same slot and sequence number and
//!   are answered from the slot's cached reply. The client's next call on the slot
//!   (sequence + 1) acknowledges that reply and releases it. See
//!   [`reply_cache::SlotTable`](super::reply_cache::SlotTable).
//! - **Deadlines.** The server knows when the caller stops waiting
//!   ([`Call::deadline`](super::Call::deadline)) and cancels the procedure then.
//! - **Restarts are detected.** A server that restarted has lost its history; a
//!   retransmission stamped with its previous incarnation is refused with
//!   AUTH_REJECTEDVERF instead of being executed a second time, and the caller gets
//!   [`CallError::ServerRestarted`](super::CallError::ServerRestarted).

use std::sync::Mutex;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use courier_xdr::{Decoder, Encoder};

use super::auth::OpaqueAuth;
use crate::sync::lock;

/// The verifier flavor of courier's session stamps. Not registered with IANA: it is an
/// unassigned number next to courier's program numbers (0x2043_52xx).
pub const AUTH_COURIER_SESSION: u32 = 0x2043_5301;

/// The slot number of a call that takes no slot: it is not filtered for duplicates
/// (at-least-once and maybe calls, the session probe).
pub const NO_SLOT: u32 = u32::MAX;

/// What a courier client says about a call, in the call's verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallStamp {
    /// The client's session id, random per client.
    pub client: u64,
    /// The slot the call occupies, or [`NO_SLOT`].
    pub slot: u32,
    /// The call's sequence number on its slot.
    pub seq: u32,
    /// The server incarnation the client last heard of; 0 when it has heard of none.
    pub incarnation: u64,
    /// How many milliseconds the caller waits for the reply, counted from when the call
    /// was sent; 0 for no deadline.
    pub deadline_ms: u32,
}

/// What a courier server says in its reply's verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyStamp {
    /// The server's incarnation: random, fixed for the life of the server process.
    pub incarnation: u64,
}

impl CallStamp {
    /// The length of an encoded stamp.
    pub(crate) const LEN: usize = 28;

    /// The verifier carrying this stamp.
    pub fn to_verifier(&self) -> OpaqueAuth {
        let mut buf = BytesMut::with_capacity(Self::LEN);
        let mut enc = Encoder::new(&mut buf);
        enc.put_u64(self.client);
        enc.put_u32(self.slot);
        enc.put_u32(self.seq);
        enc.put_u64(self.incarnation);
        enc.put_u32(self.deadline_ms);
        OpaqueAuth { flavor: AUTH_COURIER_SESSION, body: buf.freeze() }
    }

    /// The stamp in a call's verifier: `Ok(None)` for any other flavor, an error for a
    /// session verifier that does not decode.
    pub fn from_verifier(verf: &OpaqueAuth) -> Result<Option<Self>, courier_xdr::Error> {
        if verf.flavor != AUTH_COURIER_SESSION {
            return Ok(None);
        }
        let mut dec = Decoder::new(verf.body.clone());
        let stamp = CallStamp {
            client: dec.get_u64()?,
            slot: dec.get_u32()?,
            seq: dec.get_u32()?,
            incarnation: dec.get_u64()?,
            deadline_ms: dec.get_u32()?,
        };
        dec.finish()?;
        Ok(Some(stamp))
    }

    /// The caller's remaining time, if it gave one.
    pub fn deadline(&self) -> Option<Duration> {
        (self.deadline_ms > 0).then(|| Duration::from_millis(self.deadline_ms.into()))
    }
}

impl ReplyStamp {
    /// The verifier carrying this stamp.
    pub fn to_verifier(&self) -> OpaqueAuth {
        OpaqueAuth { flavor: AUTH_COURIER_SESSION, body: Bytes::copy_from_slice(&self.incarnation.to_be_bytes()) }
    }

    /// The stamp in a reply's verifier, if it carries one.
    pub fn from_verifier(verf: &OpaqueAuth) -> Option<Self> {
        if verf.flavor != AUTH_COURIER_SESSION {
            return None;
        }
        let mut dec = Decoder::new(verf.body.clone());
        let incarnation = dec.get_u64().ok()?;
        dec.finish().ok()?;
        Some(ReplyStamp { incarnation })
    }
}

/// A random nonzero 64-bit id (a client id or a server incarnation).
pub(crate) fn random_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // std seeds every RandomState from the OS's randomness; hashing the time as well
    // separates ids made in the same instant.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.finish().max(1)
}

/// The client's slots: a slot is lent to a call and returned when the call ends, with
/// the sequence number its next call will use.
#[derive(Debug)]
pub(crate) struct Slots {
    max: u32,
    state: Mutex<SlotState>,
}

#[derive(Debug, Default)]
struct SlotState {
    /// Returned slots with their next sequence numbers, reused last-in first-out so a
    /// client with few calls in flight keeps using the same few slots.
    free: Vec<(u32, u32)>,
    /// Slots handed out so far.
    made: u32,
}

/// A slot lent to one call; it goes back to the client's slots when dropped.
#[derive(Debug)]
pub(crate) struct SlotLease<'a> {
    slots: &'a Slots,
    /// The slot number.
    pub(crate) slot: u32,
    /// The call's sequence number.
    pub(crate) seq: u32,
}

impl Slots {
    /// At most `max` slots.
    pub(crate) fn new(max: u32) -> Self {
        // Slot numbers run from 0 to max - 1, so never reach NO_SLOT.
        Slots { max, state: Mutex::default() }
    }

    /// A slot for a call, or `None` when all `max` are in use.
    pub(crate) fn lease(&self) -> Option<SlotLease<'_>> {
        let mut state = lock(&self.state);
        let (slot, seq) = match state.free.pop() {
            Some(free) => free,
            None if state.made < self.max => {
                state.made += 1;
                (state.made - 1, 1)
            }
            None => return None,
        };
        Some(SlotLease { slots: self, slot, seq })
    }
}

impl Drop for SlotLease<'_> {
    fn drop(&mut self) {
        let mut state = lock(&self.slots.state);
        state.free.push((self.slot, self.seq.wrapping_add(1)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_bad_ones_are_refused() {
        let stamp = CallStamp { client: 42, slot: 3, seq: 9, incarnation: 77, deadline_ms: 1500 };
        let verf = stamp.to_verifier();
        assert_eq!(CallStamp::from_verifier(&verf).unwrap(), Some(stamp));
        assert_eq!(stamp.deadline(), Some(Duration::from_millis(1500)));
        assert_eq!(CallStamp::from_verifier(&OpaqueAuth::NONE).unwrap(), None);
        let short = OpaqueAuth { flavor: AUTH_COURIER_SESSION, body: verf.body.slice(..20) };
        assert!(CallStamp::from_verifier(&short).is_err());
        let reply = ReplyStamp { incarnation: 5 };
        assert_eq!(ReplyStamp::from_verifier(&reply.to_verifier()), Some(reply));
        assert_eq!(ReplyStamp::from_verifier(&OpaqueAuth::NONE), None);
    }

    #[test]
    fn slots_are_reused_with_the_next_sequence_number() {
        let slots = Slots::new(2);
        let a = slots.lease().unwrap();
        let b = slots.lease().unwrap();
        assert_eq!((a.slot, a.seq, b.slot, b.seq), (0, 1, 1, 1));
        assert!(slots.lease().is_none(), "only two slots");
        drop(b);
        let c = slots.lease().unwrap();
        assert_eq!((c.slot, c.seq), (1, 2));
    }
}
