//! A record-marked byte stream of RPC messages: see `courier::fuzzing::record_and_message`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| courier::fuzzing::record_and_message(data));
