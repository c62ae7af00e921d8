//! An RPC message as a datagram: see `courier::fuzzing::message`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| courier::fuzzing::message(data));
