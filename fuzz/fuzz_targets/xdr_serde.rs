//! The serde XDR format on a struct of every type: see `courier_xdr::fuzzing::serde_value`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| courier_xdr::fuzzing::serde_value(data));
