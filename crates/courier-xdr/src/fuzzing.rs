//! Harnesses for the cargo-fuzz targets in `fuzz/` (STYLE habit 10), kept here so that
//! the committed seed corpus can be replayed by an ordinary test
//! (`tests/fuzz_corpus.rs`). Each target is one line that calls one of these functions.
//! Not part of the API.
//!
//! A harness may panic only when it finds a bug: the decoder must reject bad input with
//! an error, and whatever it accepts must re-encode to exactly the bytes it read.

use bytes::{Bytes, BytesMut};

use crate::{Decoder, Encoder, Limits};

/// Drives every primitive of the [`Decoder`] with arbitrary bytes.
///
/// The first byte picks the [`Limits`], the second is the length of the program that
/// follows (one operation per byte: the low nibble picks the primitive, the high nibble
/// its argument), and the rest is the input the program reads. No operation may panic;
/// one that succeeds must respect its maximum and the limits, and must have consumed
/// exactly the bytes that re-encoding its value produces.
pub fn decoder(data: &[u8]) {
    const MAXES: [u32; 8] = [0, 1, 3, 4, 5, 8, 64, u32::MAX];
    let [config, len, rest @ ..] = data else { return };
    let limits = Limits {
        max_len: MAXES[usize::from(config & 7)],
        max_elements: MAXES[usize::from((config >> 3) & 7)],
        max_depth: u32::from(config >> 6),
    };
    let (program, input) = rest.split_at(usize::from(*len).min(rest.len()));
    let input = Bytes::copy_from_slice(input);
    let mut dec = Decoder::with_limits(input.clone(), limits);
    let mut depth = 0u32;

    for &op in program {
        let arg = usize::from(op >> 4);
        let max = MAXES[arg % 8];
        let start = dec.position();
        let mut out = BytesMut::new();
        let mut enc = Encoder::new(&mut out);
        let ok = match op & 0xf {
            0 => dec.get_u32().map(|v| enc.put_u32(v)),
            1 => dec.get_i32().map(|v| enc.put_i32(v)),
            2 => dec.get_u64().map(|v| enc.put_u64(v)),
            3 => dec.get_i64().map(|v| enc.put_i64(v)),
            4 => dec.get_f32().map(|v| enc.put_f32(v)),
            5 => dec.get_f64().map(|v| enc.put_f64(v)),
            6 => dec.get_bool().map(|v| enc.put_bool(v)),
            7 => dec.get_fixed_opaque(arg).map(|v| enc.put_fixed_opaque(&v)),
            8 => dec.get_opaque(max).map(|v| {
                assert!(v.len() <= max.min(limits.max_len) as usize, "opaque of {} over {max}", v.len());
                enc.put_opaque(&v, u32::MAX).expect("a decoded opaque re-encodes");
            }),
            9 => dec.get_string(max).map(|v| {
                assert!(v.len() <= max.min(limits.max_len) as usize, "string of {} over {max}", v.len());
                enc.put_string(&v, u32::MAX).expect("a decoded string re-encodes");
            }),
            10 => dec.get_array_len(max).map(|n| {
                assert!(n <= max.min(limits.max_elements) as usize, "array of {n} over {max}");
                assert!(n.saturating_mul(4) <= dec.remaining(), "array of {n}, {} bytes left", dec.remaining());
                enc.put_array_len(n, u32::MAX).expect("a decoded count re-encodes");
            }),
            11 => {
                let entered = dec.enter().is_ok();
                assert_eq!(entered, depth < limits.max_depth, "enter at depth {depth}");
                depth += u32::from(entered);
                Ok(())
            }
            12 => {
                dec.leave();
                depth = depth.saturating_sub(1);
                Ok(())
            }
            13 => {
                let rest = dec.take_rest();
                enc.buffer().extend_from_slice(&rest);
                Ok(())
            }
            _ => {
                assert_eq!(dec.clone().finish().is_ok(), dec.remaining() == 0, "finish with bytes left");
                Ok(())
            }
        };
        assert_eq!(dec.position() + dec.remaining(), input.len(), "position and remaining disagree");
        if ok.is_ok() {
            let consumed = &input[start..dec.position()];
            assert_eq!(&out[..], consumed, "operation {op:#04x} read bytes that re-encode differently");
        }
    }
}

#[cfg(feature = "serde")]
pub use value::{seed_corpus, serde_value};

#[cfg(feature = "serde")]
mod value {
    use bytes::Bytes;
    use serde::{Deserialize, Serialize};

    use crate::{BoundedString, BoundedVec, Decoder, FixedOpaque, Opaque, OptionalList};

    crate::xdr_enum! {
        /// Declared values with gaps and negatives.
        enum Level { Min = i32::MIN, Low = -1, Zero = 0, High = 7 }
    }

    crate::xdr_union! {
        /// `int` discriminant, void arm, default arm with a value.
        #[derive(Debug)]
        enum ByInt switch (i32) {
            case -5 => Neg(i64),
            case 0 => Nothing,
            case 1 => Text(String),
            default => Other(BoundedString<16>),
        }
    }

    crate::xdr_union! {
        /// `unsigned int` discriminant, void default.
        #[derive(Debug)]
        enum ByUint switch (u32) {
            case 0 => Zero(f32),
            case 0xffff_ffff => Top(Opaque<8>),
            default => Rest,
        }
    }

    crate::xdr_union! {
        /// Enum discriminant, no default.
        #[derive(Debug)]
        enum ByEnum switch (Level) {
            case Level::Min => Lowest(Option<i32>),
            case Level::Zero => Void,
            case Level::High => Id(FixedOpaque<3>),
        }
    }

    crate::xdr_union! {
        /// `bool` discriminant.
        #[derive(Debug)]
        enum ByBool switch (bool) {
            case true => Yes(Vec<u16>),
            case false => No,
        }
    }

    /// A union as serde derives it: the discriminant is the variant index.
    #[derive(Serialize, Deserialize, Debug)]
    enum Derived {
        Unit,
        Newtype(i8),
        Tuple(u8, char),
        Struct { a: bool, b: Option<Box<Derived>> },
    }

    #[derive(Serialize, Deserialize, Debug)]
    struct Inner {
        id: u32,
        name: BoundedString<12>,
        level: Level,
        data: Opaque<32>,
    }

    /// A recursive type, cut off by the depth limit.
    #[derive(Serialize, Deserialize, Debug)]
    struct Node {
        value: i32,
        next: Option<Box<Node>>,
    }

    /// Every type the crate maps.
    #[derive(Serialize, Deserialize, Debug)]
    struct Everything {
        int: i32,
        uint: u32,
        hyper: i64,
        uhyper: u64,
        float: f32,
        double: f64,
        flag: bool,
        level: Level,
        text: String,
        blob: Opaque,
        short: Opaque<16>,
        id: FixedOpaque<5>,
        name: BoundedString<16>,
        counts: BoundedVec<u32, 8>,
        inners: Vec<Inner>,
        triple: [i16; 3],
        maybe: Option<Box<Inner>>,
        list: OptionalList<(u32, bool)>,
        chain: Option<Box<Node>>,
        by_int: ByInt,
        by_uint: ByUint,
        by_enum: ByEnum,
        by_bool: ByBool,
        derived: Derived,
        unit: (),
    }

    /// Decodes a struct that holds every XDR type from the start of `data`. When it
    /// decodes, re-encoding it must give back exactly the bytes it consumed: the decoder
    /// accepts only canonical encodings, and loses nothing (float bit patterns, default
    /// discriminants, zero-copy opaque data).
    pub fn serde_value(data: &[u8]) {
        let mut dec = Decoder::new(Bytes::copy_from_slice(data));
        let Ok(value) = crate::from_decoder::<Everything>(&mut dec) else { return };
        let consumed = &data[..dec.position()];
        assert_eq!(Level::from_value(value.level.value()), Some(value.level), "an enum's value names it");
        let wire = crate::to_bytes(&value).expect("a decoded value re-encodes");
        assert_eq!(&wire[..], consumed, "{value:?} re-encodes differently");
    }

    /// The committed seed corpus: valid inputs for each target, as (target, bytes).
    /// `tests/fuzz_corpus.rs` checks that `fuzz/corpus/` holds them and can rewrite it.
    pub fn seed_corpus() -> Vec<(&'static str, Vec<u8>)> {
        fn string<const MAX: u32>(s: &str) -> BoundedString<MAX> {
            BoundedString::new(s).expect("seed strings are within their bound")
        }
        fn opaque<const MAX: u32>(b: &'static [u8]) -> Opaque<MAX> {
            Opaque::new(b).expect("seed data is within its bound")
        }
        let inner = |id, level| Inner { id, name: string("inner"), level, data: opaque(b"\x01\x02\x03") };
        let zero = Everything {
            int: 0,
            uint: 0,
            hyper: 0,
            uhyper: 0,
            float: 0.0,
            double: 0.0,
            flag: false,
            level: Level::Zero,
            text: String::new(),
            blob: Opaque::default(),
            short: Opaque::default(),
            id: FixedOpaque::default(),
            name: BoundedString::default(),
            counts: BoundedVec::default(),
            inners: Vec::new(),
            triple: [0; 3],
            maybe: None,
            list: OptionalList::default(),
            chain: None,
            by_int: ByInt::Nothing,
            by_uint: ByUint::Rest(1),
            by_enum: ByEnum::Void,
            by_bool: ByBool::No,
            derived: Derived::Unit,
            unit: (),
        };
        let full = Everything {
            int: -1,
            uint: u32::MAX,
            hyper: i64::MIN,
            uhyper: u64::MAX,
            float: f32::from_bits(0x7fc0_0001),
            double: f64::from_bits(0xfff0_0000_0000_0001),
            flag: true,
            level: Level::Min,
            text: "héllo, xdr".into(),
            blob: Opaque::from(vec![0xde, 0xad, 0xbe, 0xef, 0xff]),
            short: opaque(b"sixteen bytes!!!"),
            id: FixedOpaque(*b"fixed"),
            name: string("bounded"),
            counts: BoundedVec::new(vec![1, 2, 3, 4, 5, 6, 7, 8]).expect("eight elements"),
            inners: Level::ALL.iter().zip(1..).map(|(&level, id)| inner(id, level)).collect(),
            triple: [i16::MIN, -1, i16::MAX],
            maybe: Some(Box::new(inner(3, Level::Zero))),
            list: OptionalList(vec![(1, true), (2, false)]),
            chain: Some(Box::new(Node { value: 1, next: Some(Box::new(Node { value: 2, next: None })) })),
            by_int: ByInt::Other(42, string("default arm")),
            by_uint: ByUint::Top(opaque(b"top")),
            by_enum: ByEnum::Id(FixedOpaque(*b"abc")),
            by_bool: ByBool::Yes(vec![1, u16::MAX]),
            derived: Derived::Struct { a: true, b: Some(Box::new(Derived::Tuple(255, '€'))) },
            unit: (),
        };
        let other_arms = Everything {
            by_int: ByInt::Neg(-5),
            by_uint: ByUint::Zero(f32::NEG_INFINITY),
            by_enum: ByEnum::Lowest(Some(i32::MIN)),
            derived: Derived::Newtype(-128),
            ..sevens()
        };
        let text_arm = Everything { by_int: ByInt::Text("text arm".into()), by_enum: ByEnum::Lowest(None), ..sevens() };

        // Decoder programs: the limits byte, the program's length, the program, then the
        // input it reads.
        let decoder: [&[u8]; 4] = [
            // Loose limits, depth 3. u32, i32, u64, i64, f32, f64, bool, then finish.
            b"\xff\x08\x00\x01\x02\x03\x04\x05\x06\x0e\
              \x00\x00\x00\x01\xff\xff\xff\xfe\x00\x00\x00\x00\x00\x00\x00\x03\
              \x80\x00\x00\x00\x00\x00\x00\x00\x7f\xc0\x00\x01\x7f\xf8\x00\x00\x00\x00\x00\x01\
              \x00\x00\x00\x01",
            // Opaque of at most u32::MAX bytes, string of at most 64, take the rest.
            b"\xff\x03\x78\x69\x0d\
              \x00\x00\x00\x05hello\x00\x00\x00\x00\x00\x00\x02hi\x00\x00rest",
            // Array count of at most 8, fixed opaque of 3, enter, leave, two ints.
            b"\xff\x06\x5a\x37\x0b\x0c\x01\x01\
              \x00\x00\x00\x02abc\x00\x00\x00\x00\x01\x00\x00\x00\x02",
            // Tight limits (max_len 1, max_elements 0, depth 0): every operation fails.
            b"\x01\x03\x78\x7a\x0b\
              \x00\x00\x00\x02ab\x00\x00\x00\x00\x00\x01",
        ];
        let mut seeds: Vec<_> = decoder.iter().map(|d| ("xdr_decoder", d.to_vec())).collect();
        for value in [&zero, &full, &other_arms, &text_arm] {
            seeds.push(("xdr_serde", crate::to_bytes(value).expect("seed values encode").to_vec()));
        }
        seeds
    }

    /// A plain value whose arms the seeds vary.
    fn sevens() -> Everything {
        Everything {
            int: 7,
            uint: 7,
            hyper: 7,
            uhyper: 7,
            float: -0.0,
            double: -0.0,
            flag: false,
            level: Level::High,
            text: "t".into(),
            blob: Opaque::default(),
            short: Opaque::default(),
            id: FixedOpaque::default(),
            name: BoundedString::default(),
            counts: BoundedVec::default(),
            inners: Vec::new(),
            triple: [1, 2, 3],
            maybe: None,
            list: OptionalList::default(),
            chain: None,
            by_int: ByInt::Nothing,
            by_uint: ByUint::Rest(0x8000_0000),
            by_enum: ByEnum::Void,
            by_bool: ByBool::No,
            derived: Derived::Unit,
            unit: (),
        }
    }
}
