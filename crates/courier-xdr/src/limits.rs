//! Limits that bound what a decoder may allocate.
//!
//! Every length read from the wire is checked against the bytes actually present *and*
//! against these limits before any memory is reserved (the habit of rustls' codec and
//! tokio-util's length-delimited codec): a peer cannot make courier allocate more than
//! the message it sent, and not even that much if the limit is lower.

/// Bounds on lengths, counts and nesting that a [`Decoder`](crate::Decoder) enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest variable-length opaque or string, in bytes.
    pub max_len: u32,
    /// The most elements of a variable-length array.
    pub max_elements: u32,
    /// How deeply structures, arrays and optional data may nest. Decoding recursive
    /// types (`Option<Box<Node>>`) beyond this depth is an error, not a stack overflow;
    /// long linked lists belong in [`OptionalList`](crate::OptionalList), which decodes
    /// without recursion.
    pub max_depth: u32,
}

impl Limits {
    /// The defaults: 16 MiB per opaque or string, 4 Mi array elements, depth 64.
    pub const DEFAULT: Limits = Limits { max_len: 16 << 20, max_elements: 4 << 20, max_depth: 64 };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
