//! FILEREADWRITE, the lectures' Sun RPC example, with courier: `filerw.x` is compiled
//! by `build.rs` (with `courier_idl::compile`, as rpcgen would compile it for C) into
//! the types, the client and the service trait included below; [`FileStore`] implements
//! the service.
//!
//! ```text
//! cargo run -p filerw --bin filerw-server -- 127.0.0.1:7400
//! cargo run -p filerw --bin filerw-client -- tcp://127.0.0.1:7400 write 3 0 "hello, world"
//! cargo run -p filerw --bin filerw-client -- tcp://127.0.0.1:7400 read 3 0 100
//! ```

use std::collections::HashMap;
use std::sync::Mutex;

use courier::rpc::{Call, Fault};
use courier::xdr::FixedOpaque;

include!(concat!(env!("OUT_DIR"), "/filerw.rs"));

/// How many files the store holds (identifiers 0 to 15), as the C server of the
/// interop tests does.
pub const FILES: i32 = 16;
/// The largest file, in bytes.
pub const FILE_LIMIT: usize = 64 * 1024;

/// Files kept in memory: the server side of FILEREADWRITE.
#[derive(Debug, Default)]
pub struct FileStore {
    files: Mutex<HashMap<FileIdentifier, Vec<u8>>>,
}

impl FileStore {
    /// An empty store.
    pub fn new() -> Self {
        FileStore::default()
    }
}

impl version::Service for FileStore {
    /// Writes `data.length` bytes at `position`, growing the file as needed. Writes to an
    /// unknown file, or past the file size limit, are ignored: WRITE returns nothing.
    async fn write(&self, _call: &Call, arg: Writeargs) -> Result<(), Fault> {
        let (Ok(position), Ok(length)) = (usize::try_from(arg.position), usize::try_from(arg.data.length)) else {
            return Ok(());
        };
        let length = length.min(MAX_DATA as usize);
        if !(0..FILES).contains(&arg.f) || position + length > FILE_LIMIT {
            return Ok(());
        }
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        let file = files.entry(arg.f).or_default();
        if file.len() < position + length {
            file.resize(position + length, 0);
        }
        file[position..position + length].copy_from_slice(&arg.data.buffer[..length]);
        Ok(())
    }

    /// Reads at most `length` bytes (and at most one buffer) from `position`.
    async fn read(&self, _call: &Call, arg: Readargs) -> Result<Data, Fault> {
        let files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        let mut buffer = [0u8; MAX_DATA as usize];
        let available = match (files.get(&arg.f), usize::try_from(arg.position), usize::try_from(arg.length)) {
            (Some(file), Ok(position), Ok(length)) if position < file.len() => {
                let n = length.min(file.len() - position).min(buffer.len());
                buffer[..n].copy_from_slice(&file[position..position + n]);
                n
            }
            _ => 0,
        };
        // `available` is at most MAX_DATA, so it fits an int.
        Ok(Data { length: available as i32, buffer: FixedOpaque(buffer) })
    }
}

/// Builds the `Data` for a WRITE of `bytes` (at most one buffer).
pub fn data(bytes: &[u8]) -> Data {
    let mut buffer = [0u8; MAX_DATA as usize];
    let n = bytes.len().min(buffer.len());
    buffer[..n].copy_from_slice(&bytes[..n]);
    Data { length: n as i32, buffer: FixedOpaque(buffer) }
}
