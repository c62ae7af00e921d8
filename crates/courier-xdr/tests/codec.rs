//! Wire vectors, strictness and limits of the XDR codec, through the serde format and the
//! primitive API. Vectors are written in hex, as RFC 4506 lays them out.

use bytes::Bytes;
use courier_xdr::{
    from_bytes, from_bytes_with_limits, from_slice, to_bytes, xdr_union, BoundedString, BoundedVec, Decoder, Error,
    FixedOpaque, Limits, Opaque, OptionalList,
};
use serde::{Deserialize, Serialize};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

// The types of the interop interface (crates/courier/tests/interop/interop.x).
#[allow(dead_code)]
#[path = "../../courier/tests/interop/interop_types.rs"]
mod interop_types;
use interop_types::*;

#[test]
fn integers_are_big_endian_four_and_eight_bytes() {
    assert_eq!(&to_bytes(&-2i32).unwrap()[..], hex("fffffffe"));
    assert_eq!(&to_bytes(&0x0102_0304u32).unwrap()[..], hex("01020304"));
    assert_eq!(&to_bytes(&-1i64).unwrap()[..], hex("ffffffff ffffffff"));
    assert_eq!(&to_bytes(&0x0102_0304_0506_0708u64).unwrap()[..], hex("01020304 05060708"));
    assert_eq!(&to_bytes(&7u8).unwrap()[..], hex("00000007"), "small integers widen to 4 bytes");
}

#[test]
fn floats_keep_their_bit_patterns() {
    for bits in [0x8000_0001u32, 0x7fc0_0001, 0x0000_0001, 0xff80_0000] {
        let f = f32::from_bits(bits);
        let wire = to_bytes(&f).unwrap();
        assert_eq!(&wire[..], bits.to_be_bytes());
        assert_eq!(from_bytes::<f32>(wire).unwrap().to_bits(), bits);
    }
    let d = f64::from_bits(0x7ff8_0000_0000_0001);
    assert_eq!(from_bytes::<f64>(to_bytes(&d).unwrap()).unwrap().to_bits(), 0x7ff8_0000_0000_0001);
}

#[test]
fn a_bool_other_than_zero_or_one_is_rejected() {
    assert!(from_slice::<bool>(&hex("00000001")).unwrap());
    assert!(!from_slice::<bool>(&hex("00000000")).unwrap());
    assert_eq!(from_slice::<bool>(&hex("00000002")).unwrap_err(), Error::InvalidBool(2));
}

#[test]
fn an_undeclared_enum_value_is_rejected_naming_the_field() {
    let mut wire =
        to_bytes(&Prims { i: 0, u: 0, h: 0, uh: 0, f: 0.0, d: 0.0, b: false, c: Color::Blue }).unwrap().to_vec();
    let n = wire.len();
    wire[n - 1] = 3;
    let err = from_slice::<Prims>(&wire).unwrap_err();
    assert_eq!(err.path(), Some("c"));
    assert!(matches!(err.kind(), Error::InvalidValue { found, .. } if found == "3"), "{err}");
    assert_eq!(Color::from_value(4), Some(Color::Blue));
    assert_eq!(Color::Green.value(), 2);
}

#[test]
fn strings_and_opaque_are_length_prefixed_and_zero_padded() {
    assert_eq!(&to_bytes("hello").unwrap()[..], hex("00000005 68656c6c 6f000000"));
    assert_eq!(&to_bytes(&Opaque::from(vec![1u8, 2, 3, 4])).unwrap()[..], hex("00000004 01020304"));
    assert_eq!(&to_bytes(&FixedOpaque([9u8, 8, 7])).unwrap()[..], hex("09080700"));
    assert_eq!(from_slice::<FixedOpaque<3>>(&hex("09080700")).unwrap(), FixedOpaque([9, 8, 7]));
    assert_eq!(from_slice::<String>(&hex("00000000")).unwrap(), "");
}

#[test]
fn non_zero_padding_is_rejected() {
    assert_eq!(from_slice::<String>(&hex("00000001 61000100")).unwrap_err(), Error::NonZeroPadding);
    assert_eq!(from_slice::<Opaque>(&hex("00000003 01020301")).unwrap_err(), Error::NonZeroPadding);
    assert_eq!(from_slice::<FixedOpaque<1>>(&hex("01000001")).unwrap_err(), Error::NonZeroPadding);
}

#[test]
fn declared_maximum_sizes_are_enforced_both_ways() {
    assert!(BoundedString::<4>::new("abcde").is_err());
    assert!(Opaque::<2>::new(vec![1u8, 2, 3]).is_err());
    assert!(BoundedVec::<i32, 1>::new(vec![1, 2]).is_err());
    let too_long = to_bytes("abcde").unwrap();
    assert!(matches!(from_bytes::<BoundedString<4>>(too_long).unwrap_err(), Error::TooLong { len: 5, limit: 4, .. }));
    let three = to_bytes(&vec![1i32, 2, 3]).unwrap();
    assert!(matches!(
        from_bytes::<BoundedVec<i32, 2>>(three.clone()).unwrap_err(),
        Error::TooLong { len: 3, limit: 2, .. }
    ));
    assert_eq!(&*from_bytes::<BoundedVec<i32, 3>>(three).unwrap(), &[1, 2, 3]);
    let opaque = to_bytes(&Opaque::from(vec![0u8; 65])).unwrap();
    assert!(matches!(from_bytes::<Opaque<64>>(opaque).unwrap_err(), Error::TooLong { len: 65, limit: 64, .. }));
}

#[test]
fn a_length_beyond_the_input_fails_before_allocating() {
    // 4 GiB - 1 announced, 4 bytes present: rejected by the checks, not by the allocator.
    let err = from_slice::<Opaque>(&hex("fffffffe 00000000")).unwrap_err();
    assert!(matches!(err, Error::TooLong { .. } | Error::UnexpectedEnd { .. }), "{err}");
    let err = from_slice::<Vec<u64>>(&hex("3fffffff 00000000")).unwrap_err();
    assert!(matches!(err, Error::TooLong { .. } | Error::UnexpectedEnd { .. }), "{err}");
    let tight = Limits { max_len: 2, ..Limits::DEFAULT };
    let err = from_bytes_with_limits::<String>(Bytes::from(hex("00000003 61626300")), tight).unwrap_err();
    assert!(matches!(err, Error::TooLong { len: 3, limit: 2, .. }));
}

#[test]
fn trailing_bytes_are_an_error() {
    assert_eq!(from_slice::<u32>(&hex("00000001 00000000")).unwrap_err(), Error::TrailingBytes(4));
}

#[test]
fn truncated_input_is_an_error_for_every_prefix() {
    let value = sample_complex();
    let wire = to_bytes(&value).unwrap();
    for cut in 0..wire.len() {
        assert!(from_bytes::<Complex>(wire.slice(..cut)).is_err(), "prefix of {cut} bytes decoded");
    }
    assert_eq!(from_bytes::<Complex>(wire).unwrap(), value);
}

#[test]
fn unions_encode_discriminant_then_arm() {
    assert_eq!(&to_bytes(&Shape::Side3(-1)).unwrap()[..], hex("00000003 ffffffff"));
    assert_eq!(&to_bytes(&Shape::Empty).unwrap()[..], hex("00000000"));
    assert_eq!(&to_bytes(&Tint::Plain).unwrap()[..], hex("00000002"));
    assert_eq!(&to_bytes(&Tint::Other(Color::Blue, 5)).unwrap()[..], hex("00000004 00000005"));
    assert_eq!(&to_bytes(&Flag::Set(1)).unwrap()[..], hex("00000001 00000000 00000001"));
    assert_eq!(&to_bytes(&Tag::Unknown(9)).unwrap()[..], hex("00000009"));
    assert_eq!(from_slice::<Shape>(&hex("00000001 3ff00000 00000000")).unwrap(), Shape::Circle(1.0));
    assert_eq!(from_slice::<Tag>(&hex("0000000a")).unwrap(), Tag::Unknown(10));
    assert_eq!(from_slice::<Flag>(&hex("00000000")).unwrap(), Flag::Unset);
}

#[test]
fn a_union_without_default_rejects_an_undeclared_discriminant() {
    let err = from_slice::<Flag>(&hex("00000002")).unwrap_err();
    assert_eq!(err.kind(), &Error::InvalidBool(2));
    xdr_union! {
        #[derive(Debug)]
        enum Strict switch (u32) { case 1 => One(u32), case 2 => Two }
    }
    let err = from_slice::<Strict>(&hex("00000003")).unwrap_err();
    assert!(matches!(err, Error::InvalidValue { ref found, .. } if found.contains('3')), "{err}");
}

#[test]
fn derived_enums_are_unions_numbered_by_variant() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum Msg {
        Ping,
        Text(String),
        Pair(i32, i32),
        Point { x: i32 },
    }
    assert_eq!(&to_bytes(&Msg::Ping).unwrap()[..], hex("00000000"));
    assert_eq!(&to_bytes(&Msg::Pair(1, 2)).unwrap()[..], hex("00000002 00000001 00000002"));
    for m in [Msg::Ping, Msg::Text("t".into()), Msg::Pair(3, 4), Msg::Point { x: 5 }] {
        assert_eq!(from_bytes::<Msg>(to_bytes(&m).unwrap()).unwrap(), m);
    }
    assert!(from_slice::<Msg>(&hex("00000004")).is_err());
}

#[test]
fn optional_data_is_a_bool_then_the_value() {
    assert_eq!(&to_bytes(&Some(5i32)).unwrap()[..], hex("00000001 00000005"));
    assert_eq!(&to_bytes(&None::<i32>).unwrap()[..], hex("00000000"));
    let list = OptionalList(vec![1i32, 2]);
    assert_eq!(&to_bytes(&list).unwrap()[..], hex("00000001 00000001 00000001 00000002 00000000"));
}

#[test]
fn a_million_element_linked_list_decodes_without_recursion() {
    let list = OptionalList((0..1_000_000).collect::<Vec<i32>>());
    let wire = to_bytes(&list).unwrap();
    assert_eq!(wire.len(), 8 * 1_000_000 + 4);
    assert_eq!(from_bytes::<OptionalList<i32>>(wire).unwrap(), list);
}

#[test]
fn deep_recursive_types_hit_the_depth_limit_not_the_stack() {
    #[derive(Serialize, Deserialize, Debug)]
    struct Node {
        v: i32,
        next: Option<Box<Node>>,
    }
    // 100 000 nested nodes, written by hand: TRUE, value, TRUE, value … FALSE.
    let mut wire = Vec::new();
    wire.extend_from_slice(&hex("00000000"));
    for _ in 0..100_000 {
        wire.extend_from_slice(&hex("00000001 00000000"));
    }
    wire.extend_from_slice(&hex("00000000"));
    let err = from_slice::<Node>(&wire).unwrap_err();
    assert!(matches!(err.kind(), Error::TooDeep(64)), "{err}");
}

#[test]
fn opaque_data_is_a_slice_of_the_received_buffer() {
    let wire = Bytes::from(hex("00000004 01020304"));
    let opaque: Opaque = from_bytes(wire.clone()).unwrap();
    assert_eq!(&opaque[..], &[1, 2, 3, 4]);
    assert_eq!(opaque.bytes().as_ptr(), wire[4..].as_ptr(), "decoding copied the opaque data");
}

#[test]
fn maps_and_self_description_are_unsupported() {
    let map: std::collections::BTreeMap<i32, i32> = [(1, 2)].into();
    assert!(matches!(to_bytes(&map).unwrap_err(), Error::Unsupported(_)));
}

#[test]
fn the_primitive_api_works_without_serde_types() {
    let mut buf = bytes::BytesMut::new();
    let mut enc = courier_xdr::Encoder::new(&mut buf);
    enc.put_i32(-1);
    enc.put_bool(true);
    enc.put_opaque(b"abc", 3).unwrap();
    assert!(enc.put_opaque(b"abcd", 3).is_err());
    enc.put_array_len(2, 2).unwrap();
    enc.put_u64(u64::MAX);
    let mut dec = Decoder::new(buf.freeze());
    assert_eq!(dec.get_i32().unwrap(), -1);
    assert!(dec.get_bool().unwrap());
    assert_eq!(&dec.get_opaque(3).unwrap()[..], b"abc");
    assert_eq!(dec.get_array_len(2).unwrap(), 2);
    assert_eq!(dec.get_u64().unwrap(), u64::MAX);
    dec.finish().unwrap();
}

#[test]
fn a_bad_value_deep_inside_names_the_path() {
    let mut wire = to_bytes(&sample_complex()).unwrap().to_vec();
    let n = wire.len();
    wire[n - 5] = 9; // the `b` bool of `extra`
    let err = from_slice::<Complex>(&wire).unwrap_err();
    assert_eq!(err.path(), Some("extra.b"));
    assert_eq!(err.kind(), &Error::InvalidBool(9));
    assert_eq!(err.to_string(), "in field `extra.b`: invalid bool 9: must be 0 or 1");
}
