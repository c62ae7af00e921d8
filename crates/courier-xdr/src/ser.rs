//! The serde `Serializer` that writes XDR through an [`Encoder`].
//!
//! Structs, tuples and fixed arrays are their fields in order; sequences carry a length
//! first; `Option` is optional-data; enums derived by serde are unions whose discriminant
//! is the variant index. The wrappers in [`crate::types`] reach the forms serde has no
//! word for through reserved newtype names.

use bytes::{Bytes, BytesMut};
use serde::ser::{self, Serialize};

use crate::types::FIXED_OPAQUE;
use crate::{Encoder, Error, Result};

/// Encodes `value` as XDR into a new buffer.
pub fn to_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Bytes> {
    let mut buf = BytesMut::new();
    serialize_into(&mut buf, value)?;
    Ok(buf.freeze())
}

/// Encodes `value` as XDR, appending to `buf`. On error, `buf` may hold part of the value.
pub fn serialize_into<T: Serialize + ?Sized>(buf: &mut BytesMut, value: &T) -> Result<()> {
    let mut ser = Serializer { enc: Encoder::new(buf), fixed_next: false };
    value.serialize(&mut ser)
}

struct Serializer<'a> {
    enc: Encoder<'a>,
    /// Set by the fixed-opaque newtype: the next `serialize_bytes` has no length.
    fixed_next: bool,
}

impl<'a> Serializer<'a> {
    fn len(&mut self, len: Option<usize>) -> Result<()> {
        let len = len.ok_or(Error::Unsupported("a sequence of unknown length"))?;
        self.enc.put_array_len(len, u32::MAX)
    }
}

impl<'s, 'a> ser::Serializer for &'s mut Serializer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> Result<()> {
        self.enc.put_bool(v);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<()> {
        self.serialize_i32(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<()> {
        self.serialize_i32(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<()> {
        self.enc.put_i32(v);
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result<()> {
        self.enc.put_i64(v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<()> {
        self.serialize_u32(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<()> {
        self.serialize_u32(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<()> {
        self.enc.put_u32(v);
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result<()> {
        self.enc.put_u64(v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<()> {
        self.enc.put_f32(v);
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<()> {
        self.enc.put_f64(v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<()> {
        self.serialize_u32(v.into())
    }
    fn serialize_str(self, v: &str) -> Result<()> {
        self.enc.put_string(v, u32::MAX)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        if std::mem::take(&mut self.fixed_next) {
            self.enc.put_fixed_opaque(v);
            Ok(())
        } else {
            self.enc.put_opaque(v, u32::MAX)
        }
    }
    fn serialize_none(self) -> Result<()> {
        self.enc.put_bool(false);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        self.enc.put_bool(true);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        Ok(())
    }
    fn serialize_unit_variant(self, _name: &'static str, index: u32, _variant: &'static str) -> Result<()> {
        self.serialize_u32(index)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, value: &T) -> Result<()> {
        self.fixed_next = name == FIXED_OPAQUE;
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        value: &T,
    ) -> Result<()> {
        self.enc.put_u32(index);
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self> {
        self.len(len)?;
        Ok(self)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self> {
        self.enc.put_u32(index);
        Ok(self)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
        Err(Error::Unsupported("maps"))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self> {
        self.enc.put_u32(index);
        Ok(self)
    }
    fn serialize_i128(self, _v: i128) -> Result<()> {
        Err(Error::Unsupported("128-bit integers"))
    }
    fn serialize_u128(self, _v: u128) -> Result<()> {
        Err(Error::Unsupported("128-bit integers"))
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

/// Compound values are their elements in order, so every compound form shares one body.
macro_rules! elements {
    ($($trait:ident :: $method:ident),*) => {$(
        impl<'s, 'a> ser::$trait for &'s mut Serializer<'a> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
                value.serialize(&mut **self)
            }
            fn end(self) -> Result<()> {
                Ok(())
            }
        }
    )*};
}
elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

macro_rules! fields {
    ($($trait:ident),*) => {$(
        impl<'s, 'a> ser::$trait for &'s mut Serializer<'a> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<()> {
                value.serialize(&mut **self).map_err(|e| e.within(key))
            }
            fn end(self) -> Result<()> {
                Ok(())
            }
        }
    )*};
}
fields!(SerializeStruct, SerializeStructVariant);
