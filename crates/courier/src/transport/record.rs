//! Record marking (RFC 5531 §11): how RPC messages are delimited on a byte stream.
//!
//! A record is one or more fragments, each preceded by a four-byte header whose high bit
//! marks the last fragment and whose low 31 bits give the fragment's length. The decoder
//! is a sans-IO `tokio_util::codec::Decoder`: it checks every announced length against
//! the maximum record size *before* buffering (a peer announcing 4 GiB is refused at the
//! header, not after it sent 4 GiB), and it bounds the number of fragments per record so
//! that a flood of tiny or empty fragments cannot keep a connection busy forever. A
//! single-fragment record comes out as a zero-copy slice of the read buffer.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The default largest record accepted: 4 MiB.
pub const DEFAULT_MAX_RECORD: usize = 4 << 20;
/// The default most fragments in one record. libtirpc sends 65 532-byte fragments, so a
/// 4 MiB record from it has 65; 8 192 leaves room for small-fragment senders (a 4 MiB
/// record in 512-byte fragments) while a flood of empty fragments is cut off after
/// 32 KiB of headers.
pub const DEFAULT_MAX_FRAGMENTS: u32 = 8192;
/// The largest fragment the header can describe.
pub const MAX_FRAGMENT: usize = 0x7fff_ffff;
const LAST_FRAGMENT: u32 = 0x8000_0000;
/// The size of a fragment header.
pub const HEADER: usize = 4;

/// A stream that broke the record-marking rules; the connection cannot continue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The record would exceed the maximum size.
    #[error("record of at least {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// The size the record would reach.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The record has more fragments than allowed.
    #[error("record has more than {max} fragments")]
    TooManyFragments {
        /// The maximum.
        max: u32,
    },
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reassembles records from a byte stream.
#[derive(Debug)]
pub struct RecordDecoder {
    max_record: usize,
    max_fragments: u32,
    /// Fragments of the current record received so far (only for multi-fragment records).
    partial: BytesMut,
    /// Fragments counted in the current record.
    fragments: u32,
    /// The header of the fragment being received: its length and whether it is the last.
    current: Option<(usize, bool)>,
}

impl RecordDecoder {
    /// A decoder with the given limits.
    pub fn new(max_record: usize, max_fragments: u32) -> Self {
        RecordDecoder { max_record, max_fragments, partial: BytesMut::new(), fragments: 0, current: None }
    }

    /// Whether part of a record has been received (a header or fragments).
    pub fn in_record(&self) -> bool {
        self.current.is_some() || self.fragments > 0
    }
}

impl Default for RecordDecoder {
    fn default() -> Self {
        RecordDecoder::new(DEFAULT_MAX_RECORD, DEFAULT_MAX_FRAGMENTS)
    }
}

impl tokio_util::codec::Decoder for RecordDecoder {
    type Item = Bytes;
    type Error = RecordError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, RecordError> {
        loop {
            let (len, last) = match self.current {
                Some(header) => header,
                None => {
                    if src.len() < HEADER {
                        return Ok(None);
                    }
                    let header = src.get_u32();
                    let len = (header & !LAST_FRAGMENT) as usize;
                    let total = self.partial.len() + len;
                    if total > self.max_record {
                        return Err(RecordError::TooLarge { len: total, max: self.max_record });
                    }
                    self.fragments += 1;
                    if self.fragments > self.max_fragments {
                        return Err(RecordError::TooManyFragments { max: self.max_fragments });
                    }
                    let header = (len, header & LAST_FRAGMENT != 0);
                    self.current = Some(header);
                    header
                }
            };
            if src.len() < len {
                // The length was checked against the maximum above.
                src.reserve(len - src.len());
                return Ok(None);
            }
            let fragment = src.split_to(len);
            self.current = None;
            if !last {
                self.partial.extend_from_slice(&fragment);
                continue;
            }
            self.fragments = 0;
            if self.partial.is_empty() {
                return Ok(Some(fragment.freeze()));
            }
            self.partial.extend_from_slice(&fragment);
            return Ok(Some(self.partial.split().freeze()));
        }
    }
}

/// Reserves room for a record header at the end of `buf`; returns where the record
/// starts, to give to [`finish_record`] once the message is appended.
pub fn begin_record(buf: &mut BytesMut) -> usize {
    let start = buf.len();
    buf.put_u32(0);
    start
}

/// Completes the record begun at `start`: patches its header in place when the message
/// fits one fragment of at most `max_fragment` bytes, otherwise splits it into fragments.
pub fn finish_record(buf: &mut BytesMut, start: usize, max_fragment: usize) {
    let max_fragment = max_fragment.clamp(1, MAX_FRAGMENT);
    let len = buf.len() - start - HEADER;
    if len <= max_fragment {
        patch_header(buf, start, len);
        return;
    }
    let body = buf.split_off(start + HEADER);
    buf.truncate(start);
    let mut chunks = body.chunks(max_fragment).peekable();
    buf.reserve(body.len() + HEADER * body.len().div_ceil(max_fragment));
    while let Some(chunk) = chunks.next() {
        let last = if chunks.peek().is_none() { LAST_FRAGMENT } else { 0 };
        buf.put_u32(last | chunk.len() as u32);
        buf.put_slice(chunk);
    }
}

/// Writes the header of a single-fragment record of `len` bytes at `start`, where
/// [`begin_record`] reserved it (the body may follow in a separate buffer).
pub fn patch_header(buf: &mut BytesMut, start: usize, len: usize) {
    debug_assert!(len <= MAX_FRAGMENT);
    // Callers split anything longer than MAX_FRAGMENT (< 2^31), so the cast is exact.
    buf[start..start + HEADER].copy_from_slice(&(LAST_FRAGMENT | len as u32).to_be_bytes());
}

#[cfg(test)]
mod tests {
    use tokio_util::codec::Decoder;

    use super::*;

    fn record(payload: &[u8], max_fragment: usize) -> BytesMut {
        let mut buf = BytesMut::new();
        let start = begin_record(&mut buf);
        buf.extend_from_slice(payload);
        finish_record(&mut buf, start, max_fragment);
        buf
    }

    #[test]
    fn a_single_fragment_record_has_the_last_bit_set() {
        assert_eq!(&record(b"abcd", MAX_FRAGMENT)[..], b"\x80\0\0\x04abcd");
    }

    #[test]
    fn a_long_message_is_split_into_fragments_and_reassembled() {
        let payload: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let wire = record(&payload, 1000);
        assert_eq!(wire.len(), 10_000 + 4 * 10);
        assert_eq!(&wire[..4], &1000u32.to_be_bytes());
        let mut dec = RecordDecoder::default();
        let mut src = wire.clone();
        assert_eq!(dec.decode(&mut src).unwrap().unwrap(), payload);
        assert!(src.is_empty());
    }

    #[test]
    fn records_split_across_reads_at_every_byte_are_reassembled() {
        let mut wire = record(b"first record", 5);
        wire.extend_from_slice(&record(b"second", MAX_FRAGMENT));
        for cut in 0..wire.len() {
            let mut dec = RecordDecoder::default();
            let mut src = BytesMut::from(&wire[..cut]);
            let mut got = Vec::new();
            while let Some(r) = dec.decode(&mut src).unwrap() {
                got.push(r);
            }
            src.extend_from_slice(&wire[cut..]);
            while let Some(r) = dec.decode(&mut src).unwrap() {
                got.push(r);
            }
            assert_eq!(got, vec![Bytes::from_static(b"first record"), Bytes::from_static(b"second")], "cut at {cut}");
        }
    }

    #[test]
    fn a_header_announcing_4_gib_is_refused_before_buffering() {
        let mut dec = RecordDecoder::default();
        let mut src = BytesMut::from(&b"\xff\xff\xff\xff"[..]);
        assert!(matches!(dec.decode(&mut src), Err(RecordError::TooLarge { .. })));
        assert!(src.capacity() < 1 << 20, "buffer grew to {}", src.capacity());
        let mut dec = RecordDecoder::new(100, 10);
        let mut src = record(&[0; 60], 50);
        src.extend_from_slice(&[0; 0]);
        let mut two = src.clone();
        two.extend_from_slice(&record(&[0; 101], MAX_FRAGMENT));
        assert!(dec.decode(&mut two).unwrap().is_some());
        assert!(matches!(dec.decode(&mut two), Err(RecordError::TooLarge { len: 101, max: 100 })));
    }

    #[test]
    fn a_flood_of_empty_fragments_is_refused() {
        let mut dec = RecordDecoder::new(1 << 20, 16);
        let mut src = BytesMut::new();
        for _ in 0..17 {
            src.extend_from_slice(&0u32.to_be_bytes());
        }
        assert!(matches!(dec.decode(&mut src), Err(RecordError::TooManyFragments { max: 16 })));
    }
}
