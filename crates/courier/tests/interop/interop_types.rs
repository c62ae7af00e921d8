//! The Rust mirror of `interop.x`, written by hand (until the IDL compiler generates it):
//! its types, the sample values both sides send, and their canonical text (see
//! `README.md` beside this file). Shared by courier's interop tests and courier-xdr's
//! codec tests, which each use part of it.

use courier_xdr::{xdr_enum, xdr_union, BoundedString, BoundedVec, FixedOpaque, Opaque, OptionalList};
use serde::{Deserialize, Serialize};

xdr_enum! {
    pub enum Color { Red = 1, Green = 2, Blue = 4 }
}

xdr_union! {
    #[derive(Debug, Clone, PartialEq)]
    pub enum Shape switch (i32) {
        case 1 => Circle(f64),
        case 2 => Side2(i32),
        case 3 => Side3(i32),
        case 0 => Empty,
        default => Note(BoundedString<64>),
    }
}

xdr_union! {
    #[derive(Debug, Clone, PartialEq)]
    pub enum Tint switch (Color) {
        case Color::Red => Level(i32),
        case Color::Green => Plain,
        default => Other(u32),
    }
}

xdr_union! {
    #[derive(Debug, Clone, PartialEq)]
    pub enum Flag switch (bool) {
        case true => Set(i64),
        case false => Unset,
    }
}

xdr_union! {
    #[derive(Debug, Clone, PartialEq)]
    pub enum Tag switch (u32) {
        case 7 => Seven(f32),
        default => Unknown,
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Prims {
    pub i: i32,
    pub u: u32,
    pub h: i64,
    pub uh: u64,
    pub f: f32,
    pub d: f64,
    pub b: bool,
    pub c: Color,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Complex {
    pub id: FixedOpaque<6>,
    pub blob: Opaque<64>,
    pub title: BoundedString<64>,
    pub triple: [i32; 3],
    pub counts: BoundedVec<i32, 16>,
    pub names: BoundedVec<BoundedString<64>, 4>,
    pub s: Shape,
    pub t: Tint,
    pub fl: Flag,
    pub tg: Tag,
    pub list: OptionalList<i32>,
    pub extra: Option<Box<Prims>>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct WhoamiRes {
    pub flavor: u32,
    pub stamp: u32,
    pub machine: BoundedString<255>,
    pub uid: u32,
    pub gid: u32,
    pub gids: BoundedVec<u32, 16>,
}

pub fn sample_prims() -> Prims {
    Prims {
        i: -123_456_789,
        u: 4_000_000_000,
        h: -9_007_199_254_740_993,
        uh: u64::MAX,
        f: f32::from_bits(0x8000_0001),
        d: f64::from_bits(0x4009_21fb_5444_2d18),
        b: true,
        c: Color::Blue,
    }
}

pub fn sample_complex() -> Complex {
    let name = |s: &str| BoundedString::new(s).unwrap();
    Complex {
        id: FixedOpaque([1, 2, 3, 4, 5, 6]),
        blob: Opaque::new(vec![0xde, 0xad, 0xbe, 0xef, 0, 0xff]).unwrap(),
        title: name("courier/interop"),
        triple: [-1, 0, i32::MAX],
        counts: BoundedVec::new(vec![1, 2, 3, 4, 5]).unwrap(),
        names: BoundedVec::new(vec![name("alpha"), name(""), name("gamma")]).unwrap(),
        s: Shape::Side3(-42),
        t: Tint::Other(Color::Blue, 77),
        fl: Flag::Set(-5_000_000_000),
        tg: Tag::Seven(f32::from_bits(0x4049_0fdb)),
        list: OptionalList(vec![10, 20, 30, -40]),
        extra: Some(Box::new(sample_prims())),
    }
}

/// The sample's canonical text, as `interop/README.md` defines it (written out, not
/// computed, so that `describe` itself is checked too).
pub const SAMPLE_TEXT: &str = "id=010203040506|blob=deadbeef00ff|title=courier/interop|triple=-1,0,2147483647|counts=1,2,3,4,5|names=alpha,,gamma|s=3:-42|t=4:77|fl=1:-5000000000|tg=7:0x40490fdb|list=10,20,30,-40|extra=i=-123456789 u=4000000000 h=-9007199254740993 uh=18446744073709551615 f=0x80000001 d=0x400921fb54442d18 b=1 c=4";

pub fn describe_prims(p: &Prims) -> String {
    format!(
        "i={} u={} h={} uh={} f={:#010x} d={:#018x} b={} c={}",
        p.i,
        p.u,
        p.h,
        p.uh,
        p.f.to_bits(),
        p.d.to_bits(),
        u8::from(p.b),
        p.c.value()
    )
}

pub fn join<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items.into_iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

pub fn describe_complex(c: &Complex) -> String {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let s = match &c.s {
        Shape::Circle(r) => format!("1:{:#018x}", r.to_bits()),
        Shape::Side2(n) => format!("2:{n}"),
        Shape::Side3(n) => format!("3:{n}"),
        Shape::Empty => "0:void".into(),
        Shape::Note(k, note) => format!("{k}:{note}"),
    };
    let t = match &c.t {
        Tint::Level(l) => format!("1:{l}"),
        Tint::Plain => "2:void".into(),
        Tint::Other(k, o) => format!("{}:{o}", k.value()),
    };
    let fl = match c.fl {
        Flag::Set(v) => format!("1:{v}"),
        Flag::Unset => "0:void".into(),
    };
    let tg = match c.tg {
        Tag::Seven(f) => format!("7:{:#010x}", f.to_bits()),
        Tag::Unknown(k) => format!("{k}:void"),
    };
    format!(
        "id={}|blob={}|title={}|triple={}|counts={}|names={}|s={s}|t={t}|fl={fl}|tg={tg}|list={}|extra={}",
        hex(&c.id[..]),
        hex(&c.blob),
        c.title,
        join(c.triple),
        join(c.counts.iter()),
        join(c.names.iter()),
        join(c.list.iter()),
        c.extra.as_deref().map_or("none".into(), describe_prims)
    )
}
