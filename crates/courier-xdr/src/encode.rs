//! The primitive XDR encoder: appends items to a `BytesMut`.
//!
//! The encoder writes straight into the caller's buffer, so a message can be encoded once
//! into the buffer that goes to the socket. Encoding cannot fail except where a value
//! breaks a declared maximum (`opaque<64>` given 65 bytes) or cannot be expressed on the
//! wire (a length over `u32::MAX`).

use bytes::{BufMut, BytesMut};

use crate::{padding, Error, Result};

/// Appends XDR items to a buffer.
///
/// ```
/// use bytes::BytesMut;
/// let mut buf = BytesMut::new();
/// let mut enc = courier_xdr::Encoder::new(&mut buf);
/// enc.put_u32(7);
/// enc.put_string("hi", u32::MAX).unwrap();
/// assert_eq!(&buf[..], b"\0\0\0\x07\0\0\0\x02hi\0\0");
/// ```
#[derive(Debug)]
pub struct Encoder<'a> {
    buf: &'a mut BytesMut,
}

impl<'a> Encoder<'a> {
    /// An encoder that appends to `buf`.
    pub fn new(buf: &'a mut BytesMut) -> Self {
        Encoder { buf }
    }

    /// The buffer written so far.
    pub fn buffer(&mut self) -> &mut BytesMut {
        self.buf
    }

    /// `int` (RFC 4506 §4.1).
    pub fn put_i32(&mut self, v: i32) {
        self.buf.put_i32(v);
    }

    /// `unsigned int` (§4.2).
    pub fn put_u32(&mut self, v: u32) {
        self.buf.put_u32(v);
    }

    /// `hyper` (§4.5).
    pub fn put_i64(&mut self, v: i64) {
        self.buf.put_i64(v);
    }

    /// `unsigned hyper` (§4.5).
    pub fn put_u64(&mut self, v: u64) {
        self.buf.put_u64(v);
    }

    /// `float` (§4.6), bit pattern preserved.
    pub fn put_f32(&mut self, v: f32) {
        self.buf.put_u32(v.to_bits());
    }

    /// `double` (§4.7), bit pattern preserved.
    pub fn put_f64(&mut self, v: f64) {
        self.buf.put_u64(v.to_bits());
    }

    /// `bool` (§4.4): 1 for TRUE, 0 for FALSE. Also the "value follows" flag of
    /// optional-data (§4.19).
    pub fn put_bool(&mut self, v: bool) {
        self.buf.put_u32(u32::from(v));
    }

    /// Fixed-length opaque data (§4.9): the bytes, then zero padding.
    pub fn put_fixed_opaque(&mut self, data: &[u8]) {
        self.buf.reserve(data.len() + padding(data.len()));
        self.buf.put_slice(data);
        self.buf.put_bytes(0, padding(data.len()));
    }

    /// Variable-length opaque data (§4.10) of at most `max` bytes.
    pub fn put_opaque(&mut self, data: &[u8], max: u32) -> Result<()> {
        self.put_len("opaque length", data.len(), max)?;
        self.put_fixed_opaque(data);
        Ok(())
    }

    /// A string (§4.11) of at most `max` bytes.
    pub fn put_string(&mut self, s: &str, max: u32) -> Result<()> {
        self.put_len("string length", s.len(), max)?;
        self.put_fixed_opaque(s.as_bytes());
        Ok(())
    }

    /// The element count of a variable-length array (§4.13) of at most `max` elements;
    /// the caller then encodes each element.
    pub fn put_array_len(&mut self, len: usize, max: u32) -> Result<()> {
        self.put_len("array length", len, max)
    }

    fn put_len(&mut self, what: &'static str, len: usize, max: u32) -> Result<()> {
        match u32::try_from(len) {
            Ok(n) if n <= max => {
                self.buf.put_u32(n);
                Ok(())
            }
            _ => Err(Error::TooLong { what, len: len as u64, limit: u64::from(max) }),
        }
    }
}
