//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the harnesses of
//! `courier_xdr::fuzzing`, so that every input the fuzzers ever kept is checked by an
//! ordinary `cargo test` (STYLE habit 10). A crash the fuzzer found is fixed by adding
//! its input to the corpus, where this test keeps it fixed.
//!
//! The seeds themselves come from `courier_xdr::fuzzing::seed_corpus`; after changing the
//! harnesses' types, rewrite them with
//! `cargo test -p courier-xdr --test fuzz_corpus -- --ignored`.

use std::fs;
use std::path::{Path, PathBuf};

use courier_xdr::fuzzing;

/// A harness of `courier_xdr::fuzzing`.
type Harness = fn(&[u8]);

/// Each fuzz target with the harness it calls.
const TARGETS: [(&str, Harness); 2] = [("xdr_decoder", fuzzing::decoder), ("xdr_serde", fuzzing::serde_value)];

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target)
}

/// The regular files of a target's corpus, hidden ones (libFuzzer's scratch) excepted.
fn corpus_files(target: &str) -> Vec<PathBuf> {
    let dir = corpus_dir(target);
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    files.sort();
    files
}

fn seed_name(index: usize) -> String {
    format!("seed-{index:02}")
}

#[test]
fn every_corpus_file_replays_through_its_harness_without_panicking() {
    for (target, harness) in TARGETS {
        let files = corpus_files(target);
        assert!(!files.is_empty(), "the corpus of {target} is empty");
        for path in files {
            let data = fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            let outcome = std::panic::catch_unwind(|| harness(&data));
            assert!(outcome.is_ok(), "{target} panicked on {}", path.display());
        }
    }
}

#[test]
fn the_committed_corpus_holds_the_current_seeds() {
    let seeds = fuzzing::seed_corpus();
    for (target, _) in TARGETS {
        for (i, (_, data)) in seeds.iter().filter(|(t, _)| *t == target).enumerate() {
            let path = corpus_dir(target).join(seed_name(i));
            let committed = fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            assert!(
                committed == *data,
                "{} is out of date: rewrite the seeds with `cargo test -p courier-xdr --test fuzz_corpus -- --ignored`",
                path.display()
            );
        }
    }
}

#[test]
#[ignore = "rewrites fuzz/corpus/*/seed-* in the source tree"]
fn write_the_seed_corpus() {
    let seeds = fuzzing::seed_corpus();
    for (target, _) in TARGETS {
        let dir = corpus_dir(target);
        fs::create_dir_all(&dir).expect("creating the corpus directory");
        for (i, (_, data)) in seeds.iter().filter(|(t, _)| *t == target).enumerate() {
            fs::write(dir.join(seed_name(i)), data).expect("writing a seed");
        }
    }
}
