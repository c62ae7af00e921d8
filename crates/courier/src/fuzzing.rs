//! Harnesses for the cargo-fuzz targets in `fuzz/` that cover this crate's decoders,
//! kept here so that the committed seed corpus is replayed by an ordinary test. Not
//! part of the API.

use bytes::{Bytes, BytesMut};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_util::codec::Decoder;

use crate::binder::uaddr;
use crate::mailbox::protocol::{
    AckBatchArgs, AckBatchReply, AckReceiveBatchArgs, AckReceiveBatchReply, Delivered, MailboxInfo, MailboxRef, Name,
    ReceiveArgs, ReceiveBatchArgs, ReceiveBatchReply, ReceiveReply, SendArgs, SendReply, SettleArgs, SettleReply,
    MAX_BATCH, MAX_BODY, MAX_NAME,
};
use crate::mailbox::MailboxStats;
use crate::rpc::msg::{Message, ReplyBody};
use crate::rpc::session::{CallStamp, ReplyStamp};
use crate::rpc::AuthSys;
use crate::transport::record::RecordDecoder;

/// Feeds bytes to the record-marking decoder in two reads split where the first byte
/// says, then decodes every record as an RPC message and every AUTH_SYS credential in
/// it: nothing may panic, and a record is never larger than the limit.
pub fn record_and_message(data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else { return };
    let split = usize::from(split).min(rest.len());
    let mut decoder = RecordDecoder::new(4096, 64);
    let mut buf = BytesMut::from(&rest[..split]);
    for more in [&rest[split..], &[][..]] {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(record)) => {
                    assert!(record.len() <= 4096);
                    message(&record);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        buf.extend_from_slice(more);
    }
}

/// Decodes bytes as one RPC message (a UDP datagram); a call's AUTH_SYS credential and
/// session stamp, and a reply's session stamp, are decoded too. A decoded header must
/// re-encode to the bytes it came from, and so must a decoded session stamp.
pub fn message(data: &[u8]) {
    let input = Bytes::copy_from_slice(data);
    match Message::decode(input.clone()) {
        Ok(Message::Call { header, args }) => {
            if header.cred.flavor == crate::rpc::auth::flavor::AUTH_SYS {
                let _ = AuthSys::from_body(&header.cred.body);
            }
            if let Ok(Some(stamp)) = CallStamp::from_verifier(&header.verf) {
                assert_eq!(stamp.to_verifier(), header.verf, "a session stamp did not re-encode to its input");
            }
            let mut again = BytesMut::new();
            header.encode(&mut again);
            again.extend_from_slice(&args);
            assert_eq!(again.freeze(), input, "a call header did not re-encode to its input");
        }
        Ok(Message::Reply { header, results }) => {
            if let ReplyBody::Accepted { verf, .. } = &header.body {
                let _ = ReplyStamp::from_verifier(verf);
            }
            let mut again = BytesMut::new();
            header.encode(&mut again);
            again.extend_from_slice(&results);
            assert_eq!(again.freeze(), input, "a reply header did not re-encode to its input");
        }
        Err(_) => {}
    }
}

/// Decodes the rest of the input as one of the mailbox program's types
/// ([`crate::mailbox::protocol`]), picked by the first byte modulo 14: `SendArgs`,
/// `ReceiveArgs`, `SettleArgs`, `SendReply`, `ReceiveReply`, `SettleReply`,
/// `Vec<MailboxInfo>` (LIST's reply), `MailboxRef`, `ReceiveBatchArgs`,
/// `ReceiveBatchReply`, `AckBatchArgs`, `AckBatchReply`, `AckReceiveBatchArgs`,
/// `AckReceiveBatchReply`. Nothing may panic; a decoded
/// value must keep its bounds (names of at most 255 bytes, bodies of at most 1 MiB,
/// batches of at most 256), and since
/// `from_bytes` refuses bytes left over, it consumed the whole input and must re-encode
/// to exactly it; the re-encoding must decode to an equal value (for the types without
/// `PartialEq`: one that re-encodes to the same bytes again).
///
/// The one exception is a reference's universal address, text that parses to a socket
/// address: another spelling of the same address (`::0:1` for `::1`, a port byte `01`
/// or `+1`) is accepted and re-encodes in its canonical form. Everything else of a
/// reference (the name, the layout) must still come back byte for byte.
pub fn mailbox_args(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    let input = Bytes::copy_from_slice(rest);
    match pick % 14 {
        0 => {
            round_trip(&input, |args: &SendArgs| {
                bounded_names([&args.mailbox, &args.source]);
                bounded_body(&args.body);
            });
        }
        1 => {
            round_trip(&input, |args: &ReceiveArgs| {
                bounded_names([Some(&args.mailbox), args.source.as_ref()].into_iter().flatten())
            });
        }
        2 => {
            round_trip(&input, |args: &SettleArgs| bounded_names([&args.mailbox]));
        }
        3 => {
            round_trip(&input, |_: &SendReply| {});
        }
        4 => {
            round_trip(&input, |reply: &ReceiveReply| reply.message.iter().for_each(bounded_delivery));
        }
        5 => {
            round_trip(&input, |_: &SettleReply| {});
        }
        6 => {
            let check = |infos: &Vec<MailboxInfo>| bounded_names(infos.iter().map(|info| &info.name));
            if let Some((first, again)) = round_trip(&input, check) {
                assert_eq!(first.len(), again.len(), "LIST's reply changed length");
                for (a, b) in first.iter().zip(&again) {
                    // NaN is not equal to itself: the rates are compared bit for bit.
                    let rates = |i: &MailboxInfo| (i.stats.sent_rate.to_bits(), i.stats.received_rate.to_bits());
                    let rest = |i: &MailboxInfo| {
                        let stats = MailboxStats { sent_rate: 0.0, received_rate: 0.0, ..i.stats.clone() };
                        MailboxInfo { stats, ..i.clone() }
                    };
                    assert_eq!((rates(a), rest(a)), (rates(b), rest(b)), "a mailbox_info decoded differently");
                }
            }
        }
        8 => {
            round_trip(&input, |args: &ReceiveBatchArgs| {
                bounded_names([Some(&args.mailbox), args.source.as_ref()].into_iter().flatten())
            });
        }
        9 => {
            round_trip(&input, |reply: &ReceiveBatchReply| {
                bounded_batch(reply.messages.len());
                reply.messages.iter().for_each(bounded_delivery);
            });
        }
        10 => {
            round_trip(&input, |args: &AckBatchArgs| {
                bounded_names([&args.mailbox]);
                bounded_batch(args.receipts.len());
            });
        }
        11 => {
            round_trip(&input, |reply: &AckBatchReply| bounded_batch(reply.settled.len()));
        }
        12 => {
            round_trip(&input, |args: &AckReceiveBatchArgs| {
                bounded_names([Some(&args.mailbox), args.source.as_ref()].into_iter().flatten());
                bounded_batch(args.receipts.len());
            });
        }
        13 => {
            round_trip(&input, |reply: &AckReceiveBatchReply| {
                bounded_batch(reply.settled.len());
                bounded_batch(reply.messages.len());
                reply.messages.iter().for_each(bounded_delivery);
            });
        }
        _ => {
            let Ok(reference) = courier_xdr::from_bytes::<MailboxRef>(input.clone()) else { return };
            assert!(reference.name.len() <= MAX_NAME as usize, "a name of {} bytes", reference.name.len());
            let again = courier_xdr::to_bytes(&reference).expect("a decoded reference re-encodes");
            let decoded_again: MailboxRef =
                courier_xdr::from_bytes(again.clone()).expect("a re-encoded reference decodes");
            assert_eq!(decoded_again, reference, "a re-encoded reference decoded differently");
            let (address, name): (String, String) =
                courier_xdr::from_bytes(input.clone()).expect("a decoded reference is two strings on the wire");
            assert_eq!(name, reference.name, "a reference's name changed");
            assert_eq!(uaddr::from_uaddr(&address), Ok(reference.node), "a reference's address changed");
            if address == uaddr::to_uaddr(reference.node) {
                assert_eq!(again, input, "a reference did not re-encode to its input");
            }
        }
    }
}

/// Decodes `input` as a `T`, if it is one: the value must pass `check`, re-encode to
/// exactly `input`, and decode from that again to a value that passes `check` and
/// re-encodes the same. Returns both values.
fn round_trip<T: Serialize + DeserializeOwned>(input: &Bytes, check: impl Fn(&T)) -> Option<(T, T)> {
    let what = std::any::type_name::<T>();
    let value: T = courier_xdr::from_bytes(input.clone()).ok()?;
    check(&value);
    let again = courier_xdr::to_bytes(&value).unwrap_or_else(|e| panic!("a decoded {what} does not re-encode: {e}"));
    assert_eq!(again, *input, "a {what} did not re-encode to its input");
    let value_again: T =
        courier_xdr::from_bytes(again.clone()).unwrap_or_else(|e| panic!("a re-encoded {what} does not decode: {e}"));
    check(&value_again);
    let twice = courier_xdr::to_bytes(&value_again).unwrap_or_else(|e| panic!("a {what} re-encodes once only: {e}"));
    assert_eq!(twice, again, "a re-encoded {what} decoded differently");
    Some((value, value_again))
}

fn bounded_names<'a>(names: impl IntoIterator<Item = &'a Name>) {
    for name in names {
        assert!(name.len() <= MAX_NAME as usize, "a name of {} bytes", name.len());
    }
}

fn bounded_body(body: &[u8]) {
    assert!(body.len() <= MAX_BODY as usize, "a body of {} bytes", body.len());
}

fn bounded_delivery(message: &Delivered) {
    bounded_names([&message.source]);
    bounded_body(&message.body);
}

fn bounded_batch(len: usize) {
    assert!(len <= MAX_BATCH as usize, "a batch of {len}");
}
