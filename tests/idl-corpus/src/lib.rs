//! The Rust that courier-idl generates for every `.x` file Debian installs
//! (`/usr/include/rpcsvc`, `/usr/include/tirpc`), for courier's interop interface and
//! for a remote object interface (`x/accounts.x`), one module per file. That this crate builds, and passes clippy, is the test.

include!(concat!(env!("OUT_DIR"), "/corpus.rs"));
