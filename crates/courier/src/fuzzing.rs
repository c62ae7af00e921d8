//! Harnesses for the cargo-fuzz targets in `fuzz/` that cover this crate's decoders,
//! kept here so that the committed seed corpus is replayed by an ordinary test. Not
//! part of the API.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

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
