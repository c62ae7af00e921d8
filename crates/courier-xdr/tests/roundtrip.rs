//! Round-trip properties of every XDR type (STYLE habit 9): for any value, the encoding
//! is a whole number of 4-byte units, it decodes back to the same value, and — wherever
//! the layout is simple enough to write by hand — it is exactly the layout of RFC 4506.
//!
//! The hand-written layouts in `wire` use none of the crate's code, so a property can
//! only pass if the encoder and the RFC agree. The last group feeds arbitrary and mutated
//! bytes to the decoder of a struct that holds every type: it must never panic, and
//! whatever it accepts must re-encode to the very bytes it read (the encoding is
//! canonical).

use std::fmt::Debug;

use bytes::Bytes;
use courier_xdr::{
    from_bytes, from_slice, to_bytes, xdr_enum, xdr_union, BoundedString, BoundedVec, Error, FixedOpaque, Opaque,
    OptionalList,
};
use proptest::collection::vec;
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Encodes `value`, checks that the encoding is a multiple of four bytes and that it
/// decodes back to `value`, and returns it.
fn round_trip<T>(value: &T) -> Result<Bytes, TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let wire = to_bytes(value).map_err(|e| TestCaseError::fail(format!("encoding {value:?}: {e}")))?;
    prop_assert_eq!(wire.len() % 4, 0, "the encoding of {:?} is {} bytes", value, wire.len());
    let back: T = from_bytes(wire.clone()).map_err(|e| TestCaseError::fail(format!("decoding {value:?}: {e}")))?;
    prop_assert_eq!(&back, value);
    Ok(wire)
}

/// [`round_trip`], and the encoding must be `expected`.
fn round_trip_as<T>(value: &T, expected: &[u8]) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let wire = round_trip(value)?;
    prop_assert_eq!(&wire[..], expected, "the encoding of {:?}", value);
    Ok(())
}

/// RFC 4506 layouts written out by hand, independent of the crate.
mod wire {
    /// Zero bytes that pad `len` to a multiple of four.
    pub(crate) fn pad(len: usize) -> usize {
        (4 - len % 4) % 4
    }

    pub(crate) fn int(v: i32) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }

    pub(crate) fn uint(v: u32) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }

    pub(crate) fn hyper(v: i64) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }

    pub(crate) fn uhyper(v: u64) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }

    pub(crate) fn boolean(v: bool) -> Vec<u8> {
        vec![0, 0, 0, u8::from(v)]
    }

    /// Fixed-length opaque data: the bytes, then zeros to a multiple of four.
    pub(crate) fn fixed(data: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        out.resize(data.len() + pad(data.len()), 0);
        out
    }

    /// Variable-length opaque data or a string: the length, then [`fixed`].
    pub(crate) fn var(data: &[u8]) -> Vec<u8> {
        let len = u32::try_from(data.len()).expect("test data is under 4 GiB");
        [uint(len), fixed(data)].concat()
    }
}

// ---- Types under test ----

xdr_enum! {
    /// Declared values spread over the whole `int` range, negatives and gaps included.
    enum Level { Min = i32::MIN, Low = -1, Zero = 0, High = 7, Max = i32::MAX }
}

xdr_union! {
    /// An `int` discriminant with a negative case, a void arm and a default arm with a value.
    #[derive(Debug, Clone, PartialEq)]
    enum ByInt switch (i32) {
        case -5 => Neg(i64),
        case 0 => Nothing,
        case 1 => Text(String),
        case 2 => Real(f64),
        default => Other(BoundedString<16>),
    }
}

xdr_union! {
    /// An `unsigned int` discriminant using the top of its range, with a void default.
    #[derive(Debug, Clone, PartialEq)]
    enum ByUint switch (u32) {
        case 0 => Zero(u32),
        case 0xffff_ffff => Top(Opaque<8>),
        default => Rest,
    }
}

xdr_union! {
    /// An enum discriminant, a void arm and a default arm with a value.
    #[derive(Debug, Clone, PartialEq)]
    enum ByEnum switch (Level) {
        case Level::Min => Lowest(Option<i32>),
        case Level::Zero => Void,
        case Level::Max => Id(FixedOpaque<3>),
        default => Unlisted(u64),
    }
}

xdr_union! {
    /// A `bool` discriminant (every value is declared, so there is no default).
    #[derive(Debug, Clone, PartialEq)]
    enum ByBool switch (bool) {
        case true => Yes(Vec<i32>),
        case false => No,
    }
}

xdr_union! {
    /// No default arm: every other discriminant is an error.
    #[derive(Debug, Clone, PartialEq)]
    enum Strict switch (i32) {
        case 1 => One(i32),
        case 2 => Two,
    }
}

const BY_INT_CASES: [i32; 4] = [-5, 0, 1, 2];
const BY_UINT_CASES: [u32; 2] = [0, 0xffff_ffff];
const BY_ENUM_CASES: [Level; 3] = [Level::Min, Level::Zero, Level::Max];

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Inner {
    id: u32,
    name: BoundedString<12>,
    level: Level,
    data: Opaque<32>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Outer {
    head: Inner,
    pair: (i64, bool),
    many: Vec<Inner>,
    two: [Inner; 2],
    maybe: Option<Box<Inner>>,
    chain: OptionalList<Inner>,
    tail: ByInt,
}

/// Every type the crate maps, for the hostile-input properties. It is compared by its
/// encoding, not with `PartialEq`, so its floats may be NaN.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Everything {
    int: i32,
    uint: u32,
    hyper: i64,
    uhyper: u64,
    float: f32,
    double: f64,
    flag: bool,
    narrow: (i8, u16, char),
    level: Level,
    text: String,
    blob: Opaque,
    short: Opaque<16>,
    id: FixedOpaque<5>,
    name: BoundedString<16>,
    counts: BoundedVec<u32, 8>,
    names: Vec<BoundedString<8>>,
    triple: [i16; 3],
    maybe: Option<Box<Inner>>,
    list: OptionalList<(u32, bool)>,
    by_int: ByInt,
    by_uint: ByUint,
    by_enum: ByEnum,
    by_bool: ByBool,
    nested: Outer,
}

// ---- Strategies ----

/// Any `f64` except NaN, from any bit pattern (for values compared with `PartialEq`).
fn real() -> impl Strategy<Value = f64> {
    any::<u64>().prop_map(f64::from_bits).prop_filter("NaN is not equal to itself", |f| !f.is_nan())
}

/// A string of at most `max` bytes (not characters).
fn text(max: usize) -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..=max).prop_map(move |chars| {
        let mut s = String::new();
        for c in chars {
            if s.len() + c.len_utf8() > max {
                break;
            }
            s.push(c);
        }
        s
    })
}

fn bounded_string<const MAX: u32>() -> impl Strategy<Value = BoundedString<MAX>> {
    text(MAX as usize).prop_map(|s| BoundedString::new(s).expect("text(MAX) is at most MAX bytes"))
}

fn opaque<const MAX: u32>() -> impl Strategy<Value = Opaque<MAX>> {
    vec(any::<u8>(), 0..=MAX as usize).prop_map(|v| Opaque::new(v).expect("at most MAX bytes"))
}

fn level() -> impl Strategy<Value = Level> {
    prop::sample::select(Level::ALL)
}

fn by_int() -> impl Strategy<Value = ByInt> {
    prop_oneof![
        any::<i64>().prop_map(ByInt::Neg),
        Just(ByInt::Nothing),
        any::<String>().prop_map(ByInt::Text),
        real().prop_map(ByInt::Real),
        (any::<i32>().prop_filter("a declared case", |d| !BY_INT_CASES.contains(d)), bounded_string())
            .prop_map(|(d, s)| ByInt::Other(d, s)),
    ]
}

fn by_uint() -> impl Strategy<Value = ByUint> {
    prop_oneof![
        any::<u32>().prop_map(ByUint::Zero),
        opaque().prop_map(ByUint::Top),
        any::<u32>().prop_filter("a declared case", |d| !BY_UINT_CASES.contains(d)).prop_map(ByUint::Rest),
    ]
}

fn by_enum() -> impl Strategy<Value = ByEnum> {
    prop_oneof![
        any::<Option<i32>>().prop_map(ByEnum::Lowest),
        Just(ByEnum::Void),
        any::<[u8; 3]>().prop_map(|b| ByEnum::Id(FixedOpaque(b))),
        (level().prop_filter("a declared case", |d| !BY_ENUM_CASES.contains(d)), any::<u64>())
            .prop_map(|(d, v)| ByEnum::Unlisted(d, v)),
    ]
}

fn by_bool() -> impl Strategy<Value = ByBool> {
    prop_oneof![vec(any::<i32>(), 0..8).prop_map(ByBool::Yes), Just(ByBool::No)]
}

fn inner() -> impl Strategy<Value = Inner> {
    (any::<u32>(), bounded_string(), level(), opaque()).prop_map(|(id, name, level, data)| Inner {
        id,
        name,
        level,
        data,
    })
}

fn outer() -> impl Strategy<Value = Outer> {
    (
        inner(),
        any::<(i64, bool)>(),
        vec(inner(), 0..4),
        [inner(), inner()],
        proptest::option::of(inner().prop_map(Box::new)),
        vec(inner(), 0..4).prop_map(OptionalList),
        by_int(),
    )
        .prop_map(|(head, pair, many, two, maybe, chain, tail)| Outer {
            head,
            pair,
            many,
            two,
            maybe,
            chain,
            tail,
        })
}

fn everything() -> impl Strategy<Value = Everything> {
    let numbers = (
        any::<i32>(),
        any::<u32>(),
        any::<i64>(),
        any::<u64>(),
        any::<u32>().prop_map(f32::from_bits),
        any::<u64>().prop_map(f64::from_bits),
        any::<bool>(),
        any::<(i8, u16, char)>(),
        level(),
    );
    let data = (
        any::<String>(),
        vec(any::<u8>(), 0..64).prop_map(Opaque::from),
        opaque(),
        any::<[u8; 5]>().prop_map(FixedOpaque),
        bounded_string(),
        vec(any::<u32>(), 0..=8).prop_map(|v| BoundedVec::new(v).expect("at most 8 elements")),
        vec(bounded_string(), 0..4),
        any::<[i16; 3]>(),
    );
    let rest = (
        proptest::option::of(inner().prop_map(Box::new)),
        vec(any::<(u32, bool)>(), 0..4).prop_map(OptionalList),
        by_int(),
        by_uint(),
        by_enum(),
        by_bool(),
        outer(),
    );
    (numbers, data, rest).prop_map(
        |(
            (int, uint, hyper, uhyper, float, double, flag, narrow, level),
            (text, blob, short, id, name, counts, names, triple),
            (maybe, list, by_int, by_uint, by_enum, by_bool, nested),
        )| Everything {
            int,
            uint,
            hyper,
            uhyper,
            float,
            double,
            flag,
            narrow,
            level,
            text,
            blob,
            short,
            id,
            name,
            counts,
            names,
            triple,
            maybe,
            list,
            by_int,
            by_uint,
            by_enum,
            by_bool,
            nested,
        },
    )
}

// ---- Hand-computed layouts of the compound types ----

fn inner_wire(v: &Inner) -> Vec<u8> {
    [wire::uint(v.id), wire::var(v.name.as_bytes()), wire::int(v.level.value()), wire::var(&v.data)].concat()
}

fn by_int_wire(v: &ByInt) -> Vec<u8> {
    match v {
        ByInt::Neg(h) => [wire::int(-5), wire::hyper(*h)].concat(),
        ByInt::Nothing => wire::int(0),
        ByInt::Text(s) => [wire::int(1), wire::var(s.as_bytes())].concat(),
        ByInt::Real(d) => [wire::int(2), wire::uhyper(d.to_bits())].concat(),
        ByInt::Other(d, s) => [wire::int(*d), wire::var(s.as_bytes())].concat(),
    }
}

fn outer_wire(v: &Outer) -> Vec<u8> {
    let mut out = inner_wire(&v.head);
    out.extend(wire::hyper(v.pair.0));
    out.extend(wire::boolean(v.pair.1));
    out.extend(wire::uint(v.many.len() as u32));
    v.many.iter().for_each(|i| out.extend(inner_wire(i)));
    v.two.iter().for_each(|i| out.extend(inner_wire(i)));
    match &v.maybe {
        Some(i) => out.extend([wire::boolean(true), inner_wire(i)].concat()),
        None => out.extend(wire::boolean(false)),
    }
    for i in v.chain.iter() {
        out.extend(wire::boolean(true));
        out.extend(inner_wire(i));
    }
    out.extend(wire::boolean(false));
    out.extend(by_int_wire(&v.tail));
    out
}

/// Bytes that are cheap to make in bulk and differ from run to run (xorshift64).
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

// ---- Primitives ----

proptest! {
    #[test]
    fn int_is_four_big_endian_bytes(v in any::<i32>()) {
        round_trip_as(&v, &wire::int(v))?;
    }

    #[test]
    fn unsigned_int_is_four_big_endian_bytes(v in any::<u32>()) {
        round_trip_as(&v, &wire::uint(v))?;
    }

    #[test]
    fn hyper_is_eight_big_endian_bytes(v in any::<i64>()) {
        round_trip_as(&v, &wire::hyper(v))?;
    }

    #[test]
    fn unsigned_hyper_is_eight_big_endian_bytes(v in any::<u64>()) {
        round_trip_as(&v, &wire::uhyper(v))?;
    }

    #[test]
    fn float_keeps_every_bit_pattern_nan_payloads_included(bits in any::<u32>()) {
        let wire = to_bytes(&f32::from_bits(bits))?;
        prop_assert_eq!(&wire[..], bits.to_be_bytes());
        prop_assert_eq!(from_bytes::<f32>(wire)?.to_bits(), bits);
    }

    #[test]
    fn double_keeps_every_bit_pattern_nan_payloads_included(bits in any::<u64>()) {
        let wire = to_bytes(&f64::from_bits(bits))?;
        prop_assert_eq!(&wire[..], bits.to_be_bytes());
        prop_assert_eq!(from_bytes::<f64>(wire)?.to_bits(), bits);
    }

    #[test]
    fn bool_is_zero_or_one_and_nothing_else_decodes(v in any::<bool>(), other in 2u32..) {
        round_trip_as(&v, &wire::boolean(v))?;
        prop_assert_eq!(from_slice::<bool>(&wire::uint(other)).unwrap_err(), Error::InvalidBool(other));
    }

    #[test]
    fn small_integers_widen_to_four_bytes(a in any::<i8>(), b in any::<i16>(), c in any::<u8>(), d in any::<u16>()) {
        round_trip_as(&a, &wire::int(a.into()))?;
        round_trip_as(&b, &wire::int(b.into()))?;
        round_trip_as(&c, &wire::uint(c.into()))?;
        round_trip_as(&d, &wire::uint(d.into()))?;
    }

    #[test]
    fn an_enum_is_its_declared_value_and_only_declared_values_decode(v in level(), other in any::<i32>()) {
        round_trip_as(&v, &wire::int(v.value()))?;
        let decoded = from_slice::<Level>(&wire::int(other));
        match Level::from_value(other) {
            Some(l) => prop_assert_eq!(decoded?, l),
            None => prop_assert!(
                matches!(decoded, Err(Error::InvalidValue { ref found, .. }) if *found == other.to_string()),
                "{} decoded as {:?}", other, decoded
            ),
        }
    }
}

// ---- Strings and opaque data ----

proptest! {
    #[test]
    fn a_string_is_its_length_its_bytes_and_zero_padding(s in any::<String>()) {
        let wire = round_trip(&s)?;
        prop_assert_eq!(wire.len(), 4 + s.len() + wire::pad(s.len()));
        prop_assert_eq!(&wire[..], wire::var(s.as_bytes()));
    }

    #[test]
    fn variable_opaque_is_its_length_its_bytes_and_zero_padding(data in vec(any::<u8>(), 0..300)) {
        let wire = round_trip(&Opaque::from(data.clone()))?;
        prop_assert_eq!(wire.len(), 4 + data.len() + wire::pad(data.len()));
        prop_assert_eq!(&wire[..], wire::var(&data));
    }

    #[test]
    fn bounded_opaque_round_trips_up_to_its_bound(v in opaque::<40>()) {
        round_trip_as(&v, &wire::var(&v))?;
    }

    #[test]
    fn bounded_opaque_rejects_one_byte_too_many(extra in 1usize..8) {
        let wire = to_bytes(&Opaque::from(vec![7u8; 40 + extra]))?;
        let err = from_bytes::<Opaque<40>>(wire).unwrap_err();
        prop_assert!(matches!(err, Error::TooLong { limit: 40, .. }), "{}", err);
    }

    #[test]
    fn decoded_opaque_is_a_slice_of_the_input(v in opaque::<64>()) {
        let wire = to_bytes(&v)?;
        let back: Opaque<64> = from_bytes(wire.clone())?;
        prop_assert_eq!(&back, &v);
        prop_assert_eq!(back.bytes().as_ptr(), wire[4..].as_ptr());
    }

    #[test]
    fn fixed_opaque_is_its_bytes_and_zero_padding_with_no_length(
        a in any::<[u8; 1]>(),
        b in any::<[u8; 3]>(),
        c in any::<[u8; 4]>(),
        d in any::<[u8; 5]>(),
        e in any::<[u8; 32]>(),
    ) {
        round_trip_as(&FixedOpaque(a), &wire::fixed(&a))?;
        round_trip_as(&FixedOpaque(b), &wire::fixed(&b))?;
        round_trip_as(&FixedOpaque(c), &wire::fixed(&c))?;
        round_trip_as(&FixedOpaque(d), &wire::fixed(&d))?;
        round_trip_as(&FixedOpaque(e), &wire::fixed(&e))?;
        round_trip_as(&FixedOpaque([]), &[])?;
    }

    #[test]
    fn bounded_string_round_trips_up_to_its_bound(a in bounded_string::<1>(), b in bounded_string::<13>()) {
        round_trip_as(&a, &wire::var(a.as_bytes()))?;
        round_trip_as(&b, &wire::var(b.as_bytes()))?;
    }

    #[test]
    fn bounded_string_rejects_a_longer_string(s in text(40).prop_filter("over the bound", |s| s.len() > 13)) {
        let err = from_bytes::<BoundedString<13>>(to_bytes(&s)?).unwrap_err();
        prop_assert!(matches!(err, Error::TooLong { limit: 13, .. }), "{}", err);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn a_mebibyte_of_opaque_round_trips_without_copying(
        len in (1usize << 20) - 3..=(1 << 20) + 3,
        seed in any::<u64>(),
    ) {
        let data = pseudo_random(len, seed);
        let wire = to_bytes(&Opaque::from(data.clone()))?;
        prop_assert_eq!(wire.len(), 4 + len + wire::pad(len));
        prop_assert_eq!(&wire[..4], &wire::uint(len as u32)[..]);
        prop_assert!(wire[4..4 + len] == data[..], "the payload differs");
        prop_assert!(wire[4 + len..].iter().all(|&b| b == 0), "non-zero padding");
        let back: Opaque = from_bytes(wire.clone())?;
        prop_assert!(back[..] == data[..], "the decoded payload differs");
        prop_assert_eq!(back.bytes().as_ptr(), wire[4..].as_ptr());
    }

    #[test]
    fn a_mebibyte_string_round_trips(len in (1usize << 20) - 3..=(1 << 20) + 3, seed in any::<u64>()) {
        let s: String = pseudo_random(len, seed).into_iter().map(|b| char::from(b' ' + b % 95)).collect();
        let wire = to_bytes(&s)?;
        prop_assert_eq!(wire.len(), 4 + len + wire::pad(len));
        prop_assert!(wire[..] == wire::var(s.as_bytes())[..], "the encoding differs");
        prop_assert!(from_bytes::<BoundedString<{ 1 << 20 | 3 }>>(wire)?.as_str() == s, "the decoded string differs");
    }
}

// ---- Arrays, optional data and unions ----

proptest! {
    #[test]
    fn a_variable_array_is_its_count_then_its_elements(v in vec(any::<i32>(), 0..64), w in vec(any::<String>(), 0..8)) {
        let expected = [wire::uint(v.len() as u32), v.iter().flat_map(|&x| wire::int(x)).collect()].concat();
        round_trip_as(&v, &expected)?;
        let expected = [wire::uint(w.len() as u32), w.iter().flat_map(|s| wire::var(s.as_bytes())).collect()].concat();
        round_trip_as(&w, &expected)?;
    }

    #[test]
    fn a_bounded_array_round_trips_up_to_its_bound(
        v in vec(any::<u64>(), 0..=5),
        w in vec(bounded_string::<8>(), 0..=4),
    ) {
        let v = BoundedVec::<u64, 5>::new(v)?;
        let expected = [wire::uint(v.len() as u32), v.iter().flat_map(|&x| wire::uhyper(x)).collect()].concat();
        round_trip_as(&v, &expected)?;
        round_trip(&BoundedVec::<BoundedString<8>, 4>::new(w)?)?;
    }

    #[test]
    fn a_bounded_array_rejects_more_elements(v in vec(any::<u64>(), 6..12)) {
        let err = from_bytes::<BoundedVec<u64, 5>>(to_bytes(&v)?).unwrap_err();
        prop_assert!(matches!(err, Error::TooLong { limit: 5, .. }), "{}", err);
    }

    #[test]
    fn a_fixed_array_is_its_elements_with_no_count(
        a in any::<[i32; 3]>(),
        b in any::<[bool; 5]>(),
        c in any::<[u64; 32]>(),
        d in [any::<String>(), any::<String>()],
    ) {
        round_trip_as(&a, &a.iter().flat_map(|&x| wire::int(x)).collect::<Vec<_>>())?;
        round_trip_as(&b, &b.iter().flat_map(|&x| wire::boolean(x)).collect::<Vec<_>>())?;
        round_trip_as(&c, &c.iter().flat_map(|&x| wire::uhyper(x)).collect::<Vec<_>>())?;
        round_trip_as(&d, &d.iter().flat_map(|s| wire::var(s.as_bytes())).collect::<Vec<_>>())?;
    }

    #[test]
    fn optional_data_is_a_bool_then_the_value(a in any::<Option<i64>>(), b in any::<Option<String>>()) {
        let expected = match a {
            Some(x) => [wire::boolean(true), wire::hyper(x)].concat(),
            None => wire::boolean(false),
        };
        round_trip_as(&a, &expected)?;
        let expected = match &b {
            Some(s) => [wire::boolean(true), wire::var(s.as_bytes())].concat(),
            None => wire::boolean(false),
        };
        round_trip_as(&b, &expected)?;
        round_trip(&b.map(Box::new))?;
    }

    #[test]
    fn an_optional_list_is_true_and_an_element_each_then_false(v in vec(any::<i32>(), 0..64)) {
        let list = OptionalList(v);
        let mut expected: Vec<u8> = list.iter().flat_map(|&x| [wire::boolean(true), wire::int(x)].concat()).collect();
        expected.extend(wire::boolean(false));
        prop_assert_eq!(expected.len(), 8 * list.len() + 4);
        round_trip_as(&list, &expected)?;
    }

    #[test]
    fn an_optional_list_of_structs_round_trips(v in vec(inner(), 0..6)) {
        round_trip(&OptionalList(v))?;
    }

    #[test]
    fn an_int_union_is_its_discriminant_then_its_arm(v in by_int()) {
        round_trip_as(&v, &by_int_wire(&v))?;
    }

    #[test]
    fn an_unsigned_union_is_its_discriminant_then_its_arm(v in by_uint()) {
        let expected = match &v {
            ByUint::Zero(x) => [wire::uint(0), wire::uint(*x)].concat(),
            ByUint::Top(o) => [wire::uint(u32::MAX), wire::var(o)].concat(),
            ByUint::Rest(d) => wire::uint(*d),
        };
        round_trip_as(&v, &expected)?;
    }

    #[test]
    fn an_enum_union_is_its_discriminant_then_its_arm(v in by_enum()) {
        let expected = match &v {
            ByEnum::Lowest(None) => [wire::int(i32::MIN), wire::boolean(false)].concat(),
            ByEnum::Lowest(Some(x)) => [wire::int(i32::MIN), wire::boolean(true), wire::int(*x)].concat(),
            ByEnum::Void => wire::int(0),
            ByEnum::Id(id) => [wire::int(i32::MAX), wire::fixed(&id.0)].concat(),
            ByEnum::Unlisted(d, x) => [wire::int(d.value()), wire::uhyper(*x)].concat(),
        };
        round_trip_as(&v, &expected)?;
    }

    #[test]
    fn a_bool_union_is_its_discriminant_then_its_arm(v in by_bool()) {
        let expected = match &v {
            ByBool::Yes(xs) => {
                [wire::boolean(true), wire::uint(xs.len() as u32), xs.iter().flat_map(|&x| wire::int(x)).collect()].concat()
            }
            ByBool::No => wire::boolean(false),
        };
        round_trip_as(&v, &expected)?;
    }

    #[test]
    fn a_union_without_default_rejects_undeclared_discriminants(d in any::<i32>(), arm in any::<i32>()) {
        let decoded = from_slice::<Strict>(&[wire::int(d), wire::int(arm)].concat());
        match d {
            1 => prop_assert_eq!(decoded?, Strict::One(arm)),
            2 => prop_assert_eq!(decoded.unwrap_err(), Error::TrailingBytes(4)),
            _ => prop_assert!(matches!(decoded, Err(Error::InvalidValue { .. })), "{} decoded as {:?}", d, decoded),
        }
        round_trip_as(&Strict::Two, &wire::int(2))?;
    }

    #[test]
    fn a_bool_union_rejects_a_discriminant_other_than_zero_or_one(d in 2u32..) {
        let err = from_slice::<ByBool>(&wire::uint(d)).unwrap_err();
        prop_assert_eq!(err.kind(), &Error::InvalidBool(d));
    }
}

// ---- Structs ----

proptest! {
    #[test]
    fn a_struct_is_its_fields_in_order(v in inner()) {
        round_trip_as(&v, &inner_wire(&v))?;
    }

    #[test]
    fn nested_structs_are_their_fields_in_order(v in outer()) {
        round_trip_as(&v, &outer_wire(&v))?;
    }
}

// ---- Hostile input ----

proptest! {
    #[test]
    fn everything_encodes_and_decodes_back_to_the_same_bytes(v in everything()) {
        let wire = to_bytes(&v)?;
        prop_assert_eq!(wire.len() % 4, 0);
        let back: Everything = from_bytes(wire.clone())?;
        prop_assert_eq!(&to_bytes(&back)?[..], &wire[..]);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(data in vec(any::<u8>(), 0..2048)) {
        if let Ok(v) = from_slice::<Everything>(&data) {
            prop_assert_eq!(&to_bytes(&v)?[..], &data[..]);
        }
        let _ = from_slice::<Outer>(&data);
        courier_xdr::fuzzing::decoder(&data);
        courier_xdr::fuzzing::serde_value(&data);
    }

    #[test]
    fn a_mutated_encoding_never_panics_and_what_decodes_is_canonical(
        v in everything(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut data = to_bytes(&v)?.to_vec();
        for (at, byte) in edits {
            let i = at.index(data.len());
            data[i] = byte;
        }
        if truncate {
            data.truncate(cut.index(data.len()));
        }
        if let Ok(back) = from_slice::<Everything>(&data) {
            prop_assert_eq!(&to_bytes(&back)?[..], &data[..]);
        }
    }
}
