//! Errors of XDR encoding and decoding.
//!
//! A decoding error says what was wrong with the bytes and, through [`Error::At`], which
//! field of which structure was being read, so that a bad message can be diagnosed from
//! the error alone.

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while encoding or decoding XDR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before the item was complete.
    #[error("unexpected end of data: needed {needed} bytes, {remaining} remain")]
    UnexpectedEnd {
        /// Bytes the item needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A length or count is larger than the declared maximum (`opaque<64>`) or the
    /// configured [`Limits`](crate::Limits).
    #[error("{what} of {len} exceeds the limit of {limit}")]
    TooLong {
        /// What was measured: "opaque length", "string length", "array length".
        what: &'static str,
        /// The length found (or asked for, when encoding).
        len: u64,
        /// The maximum allowed.
        limit: u64,
    },
    /// Padding bytes after opaque data or a string were not zero (RFC 4506 §4.9–4.11).
    #[error("non-zero padding byte")]
    NonZeroPadding,
    /// A boolean was neither 0 (FALSE) nor 1 (TRUE) (RFC 4506 §4.4).
    #[error("invalid bool {0}: must be 0 or 1")]
    InvalidBool(u32),
    /// A value outside the declared set: an undeclared enum value or union discriminant.
    #[error("invalid value {found}, expected {expected}")]
    InvalidValue {
        /// The value found.
        found: String,
        /// What the type accepts.
        expected: String,
    },
    /// A string was not valid UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// Bytes were left after the value ended.
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
    /// Values nested deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    #[error("nesting deeper than {0} levels")]
    TooDeep(u32),
    /// A Rust type or serde feature that has no XDR form (maps, `deserialize_any` …).
    #[error("not representable in XDR: {0}")]
    Unsupported(&'static str),
    /// A message from a `Serialize`/`Deserialize` implementation.
    #[error("{0}")]
    Custom(String),
    /// An error inside a field; `path` is the dotted field path, outermost first.
    #[error("in field `{path}`: {source}")]
    At {
        /// The field path, like `extra.f` or `counts[3]`.
        path: String,
        /// The error in that field.
        source: Box<Error>,
    },
}

impl Error {
    /// Wraps this error as having happened inside `field`, prepending it to the path.
    pub fn within(self, field: &str) -> Error {
        match self {
            Error::At { path, source } => {
                let sep = if path.starts_with('[') { "" } else { "." };
                Error::At { path: format!("{field}{sep}{path}"), source }
            }
            other => Error::At { path: field.to_owned(), source: Box::new(other) },
        }
    }

    /// The innermost error, without the field path.
    pub fn kind(&self) -> &Error {
        match self {
            Error::At { source, .. } => source.kind(),
            other => other,
        }
    }

    /// The field path of the error, if it happened inside a field.
    pub fn path(&self) -> Option<&str> {
        match self {
            Error::At { path, .. } => Some(path),
            _ => None,
        }
    }
}

#[cfg(feature = "serde")]
impl serde::ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::Custom(msg.to_string())
    }
}

#[cfg(feature = "serde")]
impl serde::de::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::Custom(msg.to_string())
    }

    fn invalid_value(unexp: serde::de::Unexpected<'_>, exp: &dyn serde::de::Expected) -> Self {
        let found = match unexp {
            serde::de::Unexpected::Signed(v) => v.to_string(),
            serde::de::Unexpected::Unsigned(v) => v.to_string(),
            serde::de::Unexpected::Bool(v) => v.to_string(),
            other => other.to_string(),
        };
        Error::InvalidValue { found, expected: exp.to_string() }
    }
}
