//! XDR, the External Data Representation of RFC 4506, for Rust.
//!
//! XDR is the wire format of ONC RPC: every item is a multiple of four bytes, big-endian,
//! and nothing on the wire says what type comes next — both sides know the type from
//! the interface. This crate gives two ways to read and write it:
//!
//! - a small, allocation-conscious [`Encoder`]/[`Decoder`] API for hand-written codecs
//!   (the RPC message layer uses it), usable without serde and without tokio;
//! - a serde data format ([`to_bytes`], [`from_bytes`]) so that ordinary Rust types with
//!   `#[derive(Serialize, Deserialize)]` are XDR types (feature `serde`, on by default).
//!
//! Decoding is strict and hostile-input safe: padding must be zero, a bool must be 0 or 1,
//! an enum must be a declared value, and every length is checked against the bytes present
//! and the configured [`Limits`] *before* anything is allocated. Errors name the field.
//!
//! # Layout
//! - [`error`]: the [`Error`] type, with the path of the field that failed.
//! - [`limits`]: [`Limits`] on lengths, element counts and nesting depth.
//! - [`encode`] / [`decode`]: the primitive [`Encoder`] and [`Decoder`].
//! - `ser` / `de`: the serde `Serializer` and `Deserializer` built on them.
//! - [`types`]: wrappers for XDR types that serde has no word for — [`Opaque`] (zero-copy
//!   variable opaque), [`FixedOpaque`], [`BoundedString`], [`BoundedVec`] and
//!   [`OptionalList`] (the `*next` linked list, decoded without recursion).
//! - [`xdr_enum!`] and [`xdr_union!`]: enums with declared values and discriminated unions.
//!
//! # Mapping
//! | XDR | Rust |
//! |---|---|
//! | `int`, `unsigned int` | `i32`, `u32` (`i8`/`i16`/`u8`/`u16` widen to 4 bytes, as rpcgen does) |
//! | `hyper`, `unsigned hyper` | `i64`, `u64` |
//! | `float`, `double` | `f32`, `f64` (bit patterns preserved) |
//! | `bool` | `bool` |
//! | `enum` | [`xdr_enum!`], or a derived fieldless enum (values 0, 1, 2 …) |
//! | `opaque x[n]` / `opaque x<>` / `opaque x<m>` | [`FixedOpaque<n>`] / [`Opaque`] / `Opaque<m>` |
//! | `string s<>` / `string s<m>` | `String` / [`BoundedString<m>`] |
//! | `T x[n]` / `T x<>` / `T x<m>` | `[T; n]` (n ≤ 32) or [`FixedArray<T, n>`] / `Vec<T>` / [`BoundedVec<T, m>`] |
//! | `struct` | a struct (fields in order) or a tuple |
//! | `union` | [`xdr_union!`], or a derived enum with data (discriminant = variant index) |
//! | `T *x` | `Option<T>` / `Option<Box<T>>`; a `*next` chain as [`OptionalList<T>`] |
//! | `void` | `()` |
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Point { x: i32, y: i32, label: String }
//!
//! let p = Point { x: 1, y: -1, label: "a".into() };
//! let bytes = courier_xdr::to_bytes(&p).unwrap();
//! assert_eq!(&bytes[..], b"\0\0\0\x01\xff\xff\xff\xff\0\0\0\x01a\0\0\0");
//! assert_eq!(courier_xdr::from_bytes::<Point>(bytes).unwrap(), p);
//! ```

pub mod decode;
pub mod encode;
pub mod error;
pub mod limits;
#[cfg(feature = "serde")]
pub mod schema;
#[cfg(feature = "serde")]
pub mod types;

#[cfg(feature = "serde")]
mod de;
#[cfg(feature = "serde")]
mod macros;
#[cfg(feature = "serde")]
mod ser;

#[doc(hidden)]
pub mod fuzzing;

pub use decode::Decoder;
pub use encode::Encoder;
pub use error::{Error, Result};
pub use limits::Limits;
#[cfg(feature = "serde")]
pub use schema::{XdrCase, XdrDefinitions, XdrType};

#[cfg(feature = "serde")]
pub use de::{from_bytes, from_bytes_with_limits, from_decoder, from_slice};
#[cfg(feature = "serde")]
pub use ser::{serialize_into, to_bytes};
#[cfg(feature = "serde")]
pub use types::{BoundedString, BoundedVec, FixedArray, FixedOpaque, Opaque, OptionalList};

/// Every XDR item occupies a multiple of this many bytes (RFC 4506 §3).
pub const UNIT: usize = 4;

/// The number of zero bytes that pad `len` bytes to a multiple of [`UNIT`].
#[inline]
pub const fn padding(len: usize) -> usize {
    (UNIT - len % UNIT) % UNIT
}

/// Items the `xdr_enum!`/`xdr_union!` macros refer to; not part of the API.
#[doc(hidden)]
#[cfg(feature = "serde")]
pub mod __private {
    pub use bytes::Bytes;
    pub use serde;
}
