//! The mailbox program's arguments, replies and references: see `courier::fuzzing::mailbox_args`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| courier::fuzzing::mailbox_args(data));
