//! The primitive XDR `Decoder`: see `courier_xdr::fuzzing::decoder`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| courier_xdr::fuzzing::decoder(data));
