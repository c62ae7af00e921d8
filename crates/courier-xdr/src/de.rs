//! The serde `Deserializer` that reads XDR through a [`Decoder`].
//!
//! It mirrors `ser`: structs and tuples are their fields in order, sequences read a
//! length first (checked before anything is reserved), `Option` is optional-data.
//! Every compound value counts against [`Limits::max_depth`](crate::Limits::max_depth),
//! so a recursive type cannot overflow the stack; errors inside a field are wrapped with
//! the field's name.
//!
//! Zero-copy opaque data: the decoder hands an [`Opaque`](crate::Opaque) a `&[u8]` through
//! serde's visitor, and leaves the `Bytes` slice behind that same memory in a thread-local
//! slot so that the visitor can take the slice instead of copying.

use std::cell::RefCell;

use bytes::Bytes;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use crate::types::{ARRAY, FIXED_OPAQUE, OPAQUE, STRING};
use crate::{Decoder, Error, Limits, Result};

/// Decodes a whole value from `buf`; bytes left over are an error.
pub fn from_bytes<T: DeserializeOwned>(buf: Bytes) -> Result<T> {
    from_bytes_with_limits(buf, Limits::DEFAULT)
}

/// Decodes a whole value from `buf` under the given limits; bytes left over are an error.
pub fn from_bytes_with_limits<T: DeserializeOwned>(buf: Bytes, limits: Limits) -> Result<T> {
    let mut dec = Decoder::with_limits(buf, limits);
    let value = from_decoder(&mut dec)?;
    dec.finish()?;
    Ok(value)
}

/// Decodes a whole value from a slice (copied once into a `Bytes`, so opaque data can
/// still be sliced from it).
pub fn from_slice<T: DeserializeOwned>(buf: &[u8]) -> Result<T> {
    from_bytes(Bytes::copy_from_slice(buf))
}

/// Decodes one value from the decoder's current position, leaving what follows.
pub fn from_decoder<T: DeserializeOwned>(dec: &mut Decoder) -> Result<T> {
    T::deserialize(&mut Deserializer { dec })
}

thread_local! {
    static OPAQUE_SLOT: RefCell<Option<Bytes>> = const { RefCell::new(None) };
}

/// Offers `bytes` to the visitor as `&[u8]`, leaving the owned slice in the slot.
fn visit_opaque<'de, V: Visitor<'de>>(bytes: Bytes, visitor: V) -> Result<V::Value> {
    OPAQUE_SLOT.with(|slot| *slot.borrow_mut() = Some(bytes.clone()));
    let result = visitor.visit_bytes(&bytes);
    OPAQUE_SLOT.with(|slot| slot.borrow_mut().take());
    result
}

/// The `Bytes` the deserializer left for `seen`, when `seen` is exactly its memory.
pub(crate) fn take_opaque(seen: &[u8]) -> Option<Bytes> {
    OPAQUE_SLOT.with(|slot| {
        let mut slot = slot.borrow_mut();
        match slot.as_ref() {
            Some(b) if b.as_ptr() == seen.as_ptr() && b.len() == seen.len() => slot.take(),
            _ => None,
        }
    })
}

struct Deserializer<'d> {
    dec: &'d mut Decoder,
}

impl Deserializer<'_> {
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.dec.enter()?;
        let result = f(self);
        self.dec.leave();
        result
    }

    fn narrow<T: TryFrom<i64>>(&mut self, wide: i64, expected: &str) -> Result<T> {
        T::try_from(wide).map_err(|_| Error::InvalidValue { found: wide.to_string(), expected: expected.into() })
    }
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, _v: V) -> Result<V::Value> {
        Err(Error::Unsupported("XDR is not self-describing; the type must be known"))
    }
    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_bool(self.dec.get_bool()?)
    }
    fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        let x = self.dec.get_i32()?;
        v.visit_i8(self.narrow(x.into(), "an int in the range of i8")?)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        let x = self.dec.get_i32()?;
        v.visit_i16(self.narrow(x.into(), "an int in the range of i16")?)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_i32(self.dec.get_i32()?)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_i64(self.dec.get_i64()?)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        let x = self.dec.get_u32()?;
        v.visit_u8(self.narrow(x.into(), "an unsigned int in the range of u8")?)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        let x = self.dec.get_u32()?;
        v.visit_u16(self.narrow(x.into(), "an unsigned int in the range of u16")?)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_u32(self.dec.get_u32()?)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_u64(self.dec.get_u64()?)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_f32(self.dec.get_f32()?)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_f64(self.dec.get_f64()?)
    }
    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        let x = self.dec.get_u32()?;
        let c = char::from_u32(x)
            .ok_or_else(|| Error::InvalidValue { found: x.to_string(), expected: "a Unicode scalar value".into() })?;
        v.visit_char(c)
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_string(self.dec.get_string(u32::MAX)?)
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        self.deserialize_str(v)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        visit_opaque(self.dec.get_opaque(u32::MAX)?, v)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_byte_buf(self.dec.get_opaque(u32::MAX)?.to_vec())
    }
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        if self.dec.get_bool()? {
            self.nested(|de| v.visit_some(de))
        } else {
            v.visit_none()
        }
    }
    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        v.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, v: V) -> Result<V::Value> {
        v.visit_unit()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, v: V) -> Result<V::Value> {
        v.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value> {
        let len = self.dec.get_array_len(u32::MAX)?;
        self.nested(|de| v.visit_seq(Elements { de, index: 0, len }))
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value> {
        self.nested(|de| v.visit_seq(Elements { de, index: 0, len }))
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(self, name: &'static str, len: usize, v: V) -> Result<V::Value> {
        // The wrappers of `crate::types` pass their bound (or fixed size) as `len`.
        let bound = u32::try_from(len).unwrap_or(u32::MAX);
        match name {
            FIXED_OPAQUE => visit_opaque(self.dec.get_fixed_opaque(len)?, v),
            OPAQUE => visit_opaque(self.dec.get_opaque(bound)?, v),
            STRING => v.visit_string(self.dec.get_string(bound)?),
            ARRAY => {
                let len = self.dec.get_array_len(bound)?;
                self.nested(|de| v.visit_seq(Elements { de, index: 0, len }))
            }
            _ => self.deserialize_tuple(len, v),
        }
    }
    fn deserialize_map<V: Visitor<'de>>(self, _v: V) -> Result<V::Value> {
        Err(Error::Unsupported("maps"))
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value> {
        self.nested(|de| v.visit_seq(Fields { de, fields, index: 0 }))
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value> {
        let index = self.dec.get_u32()?;
        if index as usize >= variants.len() {
            return Err(Error::InvalidValue {
                found: index.to_string(),
                expected: format!("a variant index of {name} below {}", variants.len()),
            });
        }
        self.nested(|de| v.visit_enum(Enum { de, index }))
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, _v: V) -> Result<V::Value> {
        Err(Error::Unsupported("identifiers"))
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, _v: V) -> Result<V::Value> {
        Err(Error::Unsupported("skipping a value of unknown type"))
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

/// The elements of a tuple, fixed array or variable-length array.
struct Elements<'a, 'd> {
    de: &'a mut Deserializer<'d>,
    index: usize,
    len: usize,
}

impl<'de> de::SeqAccess<'de> for Elements<'_, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.index == self.len {
            return Ok(None);
        }
        let i = self.index;
        self.index += 1;
        seed.deserialize(&mut *self.de).map(Some).map_err(|e| e.within(&format!("[{i}]")))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.len - self.index)
    }
}

/// The fields of a struct, in declaration order.
struct Fields<'a, 'd> {
    de: &'a mut Deserializer<'d>,
    fields: &'static [&'static str],
    index: usize,
}

impl<'de> de::SeqAccess<'de> for Fields<'_, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        let Some(&field) = self.fields.get(self.index) else { return Ok(None) };
        self.index += 1;
        seed.deserialize(&mut *self.de).map(Some).map_err(|e| e.within(field))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.fields.len() - self.index)
    }
}

/// A serde-derived enum: the discriminant is the variant index, then the arm.
struct Enum<'a, 'd> {
    de: &'a mut Deserializer<'d>,
    index: u32,
}

impl<'de, 'a, 'd> de::EnumAccess<'de> for Enum<'a, 'd> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let de: de::value::U32Deserializer<Error> = self.index.into_deserializer();
        Ok((seed.deserialize(de)?, self))
    }
}

impl<'de> de::VariantAccess<'de> for Enum<'_, '_> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(&mut *self.de)
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value> {
        de::Deserializer::deserialize_tuple(&mut *self.de, len, v)
    }
    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], v: V) -> Result<V::Value> {
        de::Deserializer::deserialize_struct(&mut *self.de, "", fields, v)
    }
}
