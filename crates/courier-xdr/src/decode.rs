//! The primitive XDR decoder: reads items from a `Bytes` buffer without copying.
//!
//! Opaque data comes back as `Bytes` slices of the input (zero-copy). Every length is
//! checked against the bytes present and the [`Limits`] before anything is allocated,
//! padding must be zero and booleans must be 0 or 1 (RFC 4506 §4.4, §4.9–4.11). No input
//! makes it panic.

use bytes::Bytes;

use crate::{padding, Error, Limits, Result, UNIT};

/// Reads XDR items from a buffer.
///
/// ```
/// use bytes::Bytes;
/// let mut dec = courier_xdr::Decoder::new(Bytes::from_static(b"\0\0\0\x02hi\0\0"));
/// assert_eq!(dec.get_string(16).unwrap(), "hi");
/// dec.finish().unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Decoder {
    buf: Bytes,
    pos: usize,
    limits: Limits,
    depth: u32,
}

impl Decoder {
    /// A decoder over `buf` with the default [`Limits`].
    pub fn new(buf: Bytes) -> Self {
        Decoder::with_limits(buf, Limits::DEFAULT)
    }

    /// A decoder over `buf` with the given limits.
    pub fn with_limits(buf: Bytes, limits: Limits) -> Self {
        Decoder { buf, pos: 0, limits, depth: 0 }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Ends decoding: an error if any bytes are left.
    pub fn finish(self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(Error::TrailingBytes(n)),
        }
    }

    /// Takes every byte not yet read, as a zero-copy slice (for example the procedure
    /// arguments that follow an RPC call header).
    pub fn take_rest(&mut self) -> Bytes {
        let rest = self.buf.slice(self.pos..);
        self.pos = self.buf.len();
        rest
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if n > self.remaining() {
            return Err(Error::UnexpectedEnd { needed: n, remaining: self.remaining() });
        }
        let start = self.pos;
        self.pos += n;
        Ok(&self.buf[start..self.pos])
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// `unsigned int`.
    pub fn get_u32(&mut self) -> Result<u32> {
        self.take_array().map(u32::from_be_bytes)
    }

    /// `int`.
    pub fn get_i32(&mut self) -> Result<i32> {
        self.take_array().map(i32::from_be_bytes)
    }

    /// `unsigned hyper`.
    pub fn get_u64(&mut self) -> Result<u64> {
        self.take_array().map(u64::from_be_bytes)
    }

    /// `hyper`.
    pub fn get_i64(&mut self) -> Result<i64> {
        self.take_array().map(i64::from_be_bytes)
    }

    /// `float`, bit pattern preserved.
    pub fn get_f32(&mut self) -> Result<f32> {
        self.get_u32().map(f32::from_bits)
    }

    /// `double`, bit pattern preserved.
    pub fn get_f64(&mut self) -> Result<f64> {
        self.get_u64().map(f64::from_bits)
    }

    /// `bool`: 0 or 1, anything else is [`Error::InvalidBool`] (RFC 4506 §4.4).
    pub fn get_bool(&mut self) -> Result<bool> {
        match self.get_u32()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(Error::InvalidBool(v)),
        }
    }

    /// Fixed-length opaque data of `len` bytes, as a zero-copy slice; the padding that
    /// follows must be zero.
    pub fn get_fixed_opaque(&mut self, len: usize) -> Result<Bytes> {
        let pad = padding(len);
        let total = len.checked_add(pad).ok_or(Error::TooLong {
            what: "opaque length",
            len: len as u64,
            limit: u64::from(u32::MAX),
        })?;
        let start = self.pos;
        let bytes = self.take(total)?;
        if bytes[len..].iter().any(|&b| b != 0) {
            self.pos = start;
            return Err(Error::NonZeroPadding);
        }
        Ok(self.buf.slice(start..start + len))
    }

    /// Variable-length opaque data of at most `max` bytes, as a zero-copy slice.
    pub fn get_opaque(&mut self, max: u32) -> Result<Bytes> {
        let len = self.get_len("opaque length", max.min(self.limits.max_len), 1)?;
        self.get_fixed_opaque(len)
    }

    /// A string of at most `max` bytes; it must be valid UTF-8.
    pub fn get_string(&mut self, max: u32) -> Result<String> {
        let bytes = self.get_opaque(max)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::InvalidUtf8)
    }

    /// The element count of a variable-length array of at most `max` elements. Since
    /// every XDR item takes at least four bytes, a count larger than a quarter of the
    /// remaining input is rejected here, before the caller reserves room for it.
    pub fn get_array_len(&mut self, max: u32) -> Result<usize> {
        self.get_len("array length", max.min(self.limits.max_elements), UNIT)
    }

    fn get_len(&mut self, what: &'static str, limit: u32, min_item: usize) -> Result<usize> {
        let len = self.get_u32()?;
        if len > limit {
            return Err(Error::TooLong { what, len: u64::from(len), limit: u64::from(limit) });
        }
        let len = len as usize;
        let needed = len.saturating_mul(min_item);
        if needed > self.remaining() {
            return Err(Error::UnexpectedEnd { needed, remaining: self.remaining() });
        }
        Ok(len)
    }

    /// Enters one level of nesting; fails with [`Error::TooDeep`] past
    /// [`Limits::max_depth`]. Pair with [`Decoder::leave`].
    pub fn enter(&mut self) -> Result<()> {
        if self.depth >= self.limits.max_depth {
            return Err(Error::TooDeep(self.limits.max_depth));
        }
        self.depth += 1;
        Ok(())
    }

    /// Leaves a level of nesting entered with [`Decoder::enter`].
    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
}
