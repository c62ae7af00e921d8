//! Replays the committed fuzz corpus of the RPC decoders (`fuzz/corpus/rpc_*`) through
//! the harnesses of `courier::fuzzing`, so every input the fuzzers kept is checked by an
//! ordinary test run.

use std::fs;
use std::path::Path;

/// A harness of `courier::fuzzing`.
type Harness = fn(&[u8]);

#[test]
fn every_rpc_corpus_file_replays_without_panicking() {
    let targets: [(&str, Harness); 2] =
        [("rpc_message", courier::fuzzing::message), ("rpc_record", courier::fuzzing::record_and_message)];
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
