//! Wrappers for XDR types that serde's data model has no word for.
//!
//! - [`Opaque<MAX>`]: variable-length opaque data (`opaque x<MAX>`), decoded zero-copy as
//!   a `Bytes` slice of the received buffer. `Opaque` alone is `opaque x<>`.
//! - [`FixedOpaque<N>`]: fixed-length opaque data (`opaque x[N]`).
//! - [`BoundedString<MAX>`]: `string s<MAX>` (a plain `String` is `string s<>`).
//! - [`BoundedVec<T, MAX>`]: `T x<MAX>` (a plain `Vec<T>` is `T x<>`).
//! - [`OptionalList<T>`]: the linked list `struct node { T v; node *next; }`, decoded
//!   iteratively into a `Vec`, however long.
//!
//! The bounds are part of the type: constructors refuse a value over the bound, so an
//! encoded value always respects it, and the decoder checks the bound *before* it
//! allocates. The XDR (de)serializer recognises these types by reserved names; in
//! human-readable formats they are plain values.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;
use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeTuple, Serializer};

use crate::{Error, Result};

pub(crate) const FIXED_OPAQUE: &str = "$courier_xdr::FixedOpaque";
pub(crate) const OPAQUE: &str = "$courier_xdr::Opaque";
pub(crate) const STRING: &str = "$courier_xdr::BoundedString";
pub(crate) const ARRAY: &str = "$courier_xdr::BoundedVec";

fn check_len(what: &'static str, len: usize, max: u32) -> Result<()> {
    if len > max as usize {
        return Err(Error::TooLong { what, len: len as u64, limit: u64::from(max) });
    }
    Ok(())
}

/// Variable-length opaque data of at most `MAX` bytes (`opaque x<MAX>`), held as
/// [`Bytes`]: decoding slices the received buffer instead of copying.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Opaque<const MAX: u32 = { u32::MAX }>(Bytes);

impl<const MAX: u32> Opaque<MAX> {
    /// Wraps `data`, or fails if it is longer than `MAX`.
    pub fn new(data: impl Into<Bytes>) -> Result<Self> {
        let data = data.into();
        check_len("opaque length", data.len(), MAX)?;
        Ok(Opaque(data))
    }

    /// The bytes, without copying.
    pub fn bytes(&self) -> &Bytes {
        &self.0
    }

    /// Unwraps into the bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl From<Bytes> for Opaque {
    fn from(b: Bytes) -> Self {
        Opaque(b)
    }
}

impl From<Vec<u8>> for Opaque {
    fn from(v: Vec<u8>) -> Self {
        Opaque(v.into())
    }
}

impl From<&'static [u8]> for Opaque {
    fn from(v: &'static [u8]) -> Self {
        Opaque(Bytes::from_static(v))
    }
}

impl<const MAX: u32> From<Opaque<MAX>> for Bytes {
    fn from(o: Opaque<MAX>) -> Self {
        o.0
    }
}

impl<const MAX: u32> Deref for Opaque<MAX> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl<const MAX: u32> AsRef<[u8]> for Opaque<MAX> {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl<const MAX: u32> fmt::Debug for Opaque<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Opaque({:?})", self.0)
    }
}

impl<const MAX: u32> Serialize for Opaque<MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de, const MAX: u32> Deserialize<'de> for Opaque<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const MAX: u32>;
        impl<const MAX: u32> Visitor<'_> for V<MAX> {
            type Value = Opaque<MAX>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "opaque data of at most {MAX} bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                let bytes = crate::de::take_opaque(v).unwrap_or_else(|| Bytes::copy_from_slice(v));
                Opaque::new(bytes).map_err(E::custom)
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
                Opaque::new(v).map_err(E::custom)
            }
        }
        if d.is_human_readable() {
            d.deserialize_byte_buf(V::<MAX>)
        } else {
            d.deserialize_tuple_struct(OPAQUE, MAX as usize, V::<MAX>)
        }
    }
}

/// Fixed-length opaque data of exactly `N` bytes (`opaque x[N]`), padded on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct FixedOpaque<const N: usize>(pub [u8; N]);

impl<const N: usize> Default for FixedOpaque<N> {
    fn default() -> Self {
        FixedOpaque([0; N])
    }
}

impl<const N: usize> Deref for FixedOpaque<N> {
    type Target = [u8; N];
    fn deref(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> Serialize for FixedOpaque<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Raw<'a>(&'a [u8]);
        impl Serialize for Raw<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        s.serialize_newtype_struct(FIXED_OPAQUE, &Raw(&self.0))
    }
}

impl<'de, const N: usize> Deserialize<'de> for FixedOpaque<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const N: usize>;
        impl<const N: usize> Visitor<'_> for V<N> {
            type Value = FixedOpaque<N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "exactly {N} bytes of opaque data")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                <[u8; N]>::try_from(v).map(FixedOpaque).map_err(|_| E::invalid_length(v.len(), &self))
            }
        }
        if d.is_human_readable() {
            d.deserialize_bytes(V::<N>)
        } else {
            d.deserialize_tuple_struct(FIXED_OPAQUE, N, V::<N>)
        }
    }
}

/// A string of at most `MAX` bytes (`string s<MAX>`).
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BoundedString<const MAX: u32>(String);

impl<const MAX: u32> BoundedString<MAX> {
    /// Wraps `s`, or fails if it is longer than `MAX` bytes.
    pub fn new(s: impl Into<String>) -> Result<Self> {
        let s = s.into();
        check_len("string length", s.len(), MAX)?;
        Ok(BoundedString(s))
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Unwraps into the string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl<const MAX: u32> Deref for BoundedString<MAX> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: u32> fmt::Debug for BoundedString<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<const MAX: u32> fmt::Display for BoundedString<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl<const MAX: u32> Serialize for BoundedString<MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de, const MAX: u32> Deserialize<'de> for BoundedString<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const MAX: u32>;
        impl<const MAX: u32> Visitor<'_> for V<MAX> {
            type Value = BoundedString<MAX>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a string of at most {MAX} bytes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                BoundedString::new(v).map_err(E::custom)
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                BoundedString::new(v).map_err(E::custom)
            }
        }
        if d.is_human_readable() {
            d.deserialize_string(V::<MAX>)
        } else {
            d.deserialize_tuple_struct(STRING, MAX as usize, V::<MAX>)
        }
    }
}

/// A variable-length array of at most `MAX` elements (`T x<MAX>`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BoundedVec<T, const MAX: u32>(Vec<T>);

impl<T, const MAX: u32> BoundedVec<T, MAX> {
    /// Wraps `v`, or fails if it has more than `MAX` elements.
    pub fn new(v: Vec<T>) -> Result<Self> {
        check_len("array length", v.len(), MAX)?;
        Ok(BoundedVec(v))
    }

    /// Unwraps into the vector.
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<T, const MAX: u32> Default for BoundedVec<T, MAX> {
    fn default() -> Self {
        BoundedVec(Vec::new())
    }
}

impl<T, const MAX: u32> Deref for BoundedVec<T, MAX> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: fmt::Debug, const MAX: u32> fmt::Debug for BoundedVec<T, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<T: Serialize, const MAX: u32> Serialize for BoundedVec<T, MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>, const MAX: u32> Deserialize<'de> for BoundedVec<T, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T, const MAX: u32>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const MAX: u32> Visitor<'de> for V<T, MAX> {
            type Value = BoundedVec<T, MAX>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "an array of at most {MAX} elements")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let hint = seq.size_hint().unwrap_or(0).min(MAX as usize).min(4096);
                let mut v = Vec::with_capacity(hint);
                while let Some(item) = seq.next_element()? {
                    if v.len() == MAX as usize {
                        return Err(de::Error::invalid_length(v.len() + 1, &self));
                    }
                    v.push(item);
                }
                Ok(BoundedVec(v))
            }
        }
        let visitor = V::<T, MAX>(std::marker::PhantomData);
        if d.is_human_readable() {
            d.deserialize_seq(visitor)
        } else {
            d.deserialize_tuple_struct(ARRAY, MAX as usize, visitor)
        }
    }
}

/// A linked list of optional-data (RFC 4506 §4.19), the XDR idiom
/// `struct node { T value; node *next; }`, held as a `Vec<T>`.
///
/// On the wire each element is preceded by TRUE and the list ends with FALSE. Decoding
/// is a loop, not a recursion, so a list of any length decodes without growing the stack
/// (and drops without recursion too); each element costs at least eight input bytes, so
/// the input bounds the memory.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct OptionalList<T>(pub Vec<T>);

impl<T> Default for OptionalList<T> {
    fn default() -> Self {
        OptionalList(Vec::new())
    }
}

impl<T> Deref for OptionalList<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T> From<Vec<T>> for OptionalList<T> {
    fn from(v: Vec<T>) -> Self {
        OptionalList(v)
    }
}

impl<T: Serialize> Serialize for OptionalList<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(self.0.len() * 2 + 1)?;
        for item in &self.0 {
            t.serialize_element(&true)?;
            t.serialize_element(item)?;
        }
        t.serialize_element(&false)?;
        t.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OptionalList<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OptionalList<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a linked list of optional-data")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while seq.next_element::<bool>()?.ok_or_else(|| de::Error::invalid_length(v.len(), &self))? {
                    v.push(seq.next_element()?.ok_or_else(|| de::Error::invalid_length(v.len(), &self))?);
                }
                Ok(OptionalList(v))
            }
        }
        d.deserialize_tuple(usize::MAX, V(std::marker::PhantomData))
    }
}

/// A fixed-length array of exactly `N` elements (`T x[N]`), for any `N`: serde's own
/// arrays stop at 32 elements. On the wire it is the `N` elements, with no length.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct FixedArray<T, const N: usize>(pub [T; N]);

impl<T, const N: usize> Deref for FixedArray<T, N> {
    type Target = [T; N];
    fn deref(&self) -> &[T; N] {
        &self.0
    }
}

impl<T: Serialize, const N: usize> Serialize for FixedArray<T, N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(N)?;
        for item in &self.0 {
            t.serialize_element(item)?;
        }
        t.end()
    }
}

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for FixedArray<T, N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T, const N: usize>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for V<T, N> {
            type Value = FixedArray<T, N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "an array of exactly {N} elements")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(N.min(4096));
                for i in 0..N {
                    items.push(seq.next_element()?.ok_or_else(|| de::Error::invalid_length(i, &self))?);
                }
                // Exactly N were pushed, so the conversion cannot fail.
                items.try_into().map(FixedArray).map_err(|_| de::Error::invalid_length(N, &self))
            }
        }
        d.deserialize_tuple(N, V(std::marker::PhantomData))
    }
}
