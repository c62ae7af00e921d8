//! Replays the committed fuzz corpus of the RPC decoders (`fuzz/corpus/rpc_*`) and of the
//! mailbox program's types (`fuzz/corpus/mailbox_args`) through the harnesses of
//! `courier::fuzzing`, so every input the fuzzers kept is checked by an ordinary test run.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use courier::mailbox::protocol::{
    AckBatchArgs, AckBatchReply, AckReceiveBatchArgs, AckReceiveBatchReply, MailboxInfo, MailboxRef, ReceiveArgs,
    ReceiveBatchArgs, ReceiveBatchReply, ReceiveReply, SendArgs, SendReply, SettleArgs, SettleReply, MAX_BODY,
    MAX_NAME,
};

/// A harness of `courier::fuzzing`.
type Harness = fn(&[u8]);

#[test]
fn every_corpus_file_replays_without_panicking() {
    let targets: [(&str, Harness); 3] = [
        ("rpc_message", courier::fuzzing::message),
        ("rpc_record", courier::fuzzing::record_and_message),
        ("mailbox_args", courier::fuzzing::mailbox_args),
    ];
    for (target, harness) in targets {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
        let mut replayed = 0;
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_file() && !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                harness(&fs::read(&path).unwrap());
                replayed += 1;
            }
        }
        assert!(replayed > 0, "the corpus of {target} is empty");
    }
}

#[test]
fn the_seed_messages_decode() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/rpc_message");
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("seed-")) {
            let data = bytes::Bytes::from(fs::read(&path).unwrap());
            assert!(courier::rpc::msg::Message::decode(data).is_ok(), "{} does not decode", path.display());
        }
    }
}

/// The files of `fuzz/corpus/mailbox_args` whose names start with `prefix`.
fn mailbox_corpus(prefix: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/mailbox_args");
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
        .collect();
    files.sort();
    files
}

/// Decodes the rest of a `mailbox_args` input as the type its first byte picks (as
/// `courier::fuzzing::mailbox_args` does).
fn decode_mailbox_input(data: &[u8]) -> Result<(), courier_xdr::Error> {
    let (pick, rest) = data.split_first().expect("an input has a selector byte");
    let rest = Bytes::copy_from_slice(rest);
    match pick % 14 {
        0 => courier_xdr::from_bytes::<SendArgs>(rest).map(drop),
        1 => courier_xdr::from_bytes::<ReceiveArgs>(rest).map(drop),
        2 => courier_xdr::from_bytes::<SettleArgs>(rest).map(drop),
        3 => courier_xdr::from_bytes::<SendReply>(rest).map(drop),
        4 => courier_xdr::from_bytes::<ReceiveReply>(rest).map(drop),
        5 => courier_xdr::from_bytes::<SettleReply>(rest).map(drop),
        6 => courier_xdr::from_bytes::<Vec<MailboxInfo>>(rest).map(drop),
        8 => courier_xdr::from_bytes::<ReceiveBatchArgs>(rest).map(drop),
        9 => courier_xdr::from_bytes::<ReceiveBatchReply>(rest).map(drop),
        10 => courier_xdr::from_bytes::<AckBatchArgs>(rest).map(drop),
        11 => courier_xdr::from_bytes::<AckBatchReply>(rest).map(drop),
        12 => courier_xdr::from_bytes::<AckReceiveBatchArgs>(rest).map(drop),
        13 => courier_xdr::from_bytes::<AckReceiveBatchReply>(rest).map(drop),
        _ => courier_xdr::from_bytes::<MailboxRef>(rest).map(drop),
    }
}

#[test]
fn the_mailbox_seeds_decode_and_the_hostile_inputs_do_not() {
    let (seeds, hostile) = (mailbox_corpus("seed-"), mailbox_corpus("hostile-"));
    assert!(seeds.len() >= 6 && hostile.len() >= 3, "{} seeds, {} hostile inputs", seeds.len(), hostile.len());
    let mut picked = [false; 14];
    for path in seeds {
        let data = fs::read(&path).unwrap();
        decode_mailbox_input(&data).unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
        picked[usize::from(data[0] % 14)] = true;
    }
    assert_eq!(picked, [true; 14], "a seed for each of the fourteen types");
    for path in hostile {
        let data = fs::read(&path).unwrap();
        assert!(decode_mailbox_input(&data).is_err(), "{} decodes", path.display());
    }
}

#[test]
fn a_body_over_1_mib_or_a_name_over_255_bytes_is_an_error_even_with_every_byte_present() {
    let args = |mailbox: &str, body_len: u32| {
        let mut out = Vec::new();
        for name in [mailbox, "alice"] {
            out.extend_from_slice(&(name.len() as u32).to_be_bytes());
            out.extend_from_slice(name.as_bytes());
            out.resize(out.len().next_multiple_of(4), 0);
        }
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]); // SEND_ASYNC, wait_ms 0
        out.extend_from_slice(&body_len.to_be_bytes());
        out.resize(out.len() + (body_len as usize).next_multiple_of(4), 0);
        Bytes::from(out)
    };
    let longest = "n".repeat(MAX_NAME as usize);
    let largest = courier_xdr::from_bytes::<SendArgs>(args(&longest, MAX_BODY)).expect("the largest send decodes");
    assert_eq!((largest.mailbox.len(), largest.body.len()), (255, 1 << 20));

    let too_large = courier_xdr::from_bytes::<SendArgs>(args("orders", MAX_BODY + 1));
    assert!(too_large.is_err(), "a body of 1 MiB + 1 decoded");
    let too_long = courier_xdr::from_bytes::<SendArgs>(args(&format!("{longest}n"), 0));
    assert!(too_long.is_err(), "a name of 256 bytes decoded");
    // The same announcements with nothing behind them.
    for announced in [MAX_BODY + 1, u32::MAX] {
        let mut cut = args("orders", 0).to_vec();
        let at = cut.len() - 4;
        cut[at..].copy_from_slice(&announced.to_be_bytes());
        assert!(courier_xdr::from_bytes::<SendArgs>(Bytes::from(cut)).is_err(), "a body of {announced} announced");
    }
}
