//! The Rust that courier-idl generates for every `.x` file Debian installs
//! (`/usr/include/rpcsvc`, `/usr/include/tirpc`) and for courier's interop interface,
//! one module per file. That this crate builds, and passes clippy, is the test.

include!(concat!(env!("OUT_DIR"), "/corpus.rs"));
