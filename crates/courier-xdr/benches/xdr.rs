//! XDR throughput (STYLE habit 12): encoding and decoding a small struct, a 4 KiB opaque
//! and a 1 MiB opaque.
//!
//! Encoding appends to one reused `BytesMut` (cleared each time), as a connection does
//! with its write buffer; decoding reads from a `Bytes`, so an opaque decodes as a
//! zero-copy slice and its cost should not grow with its size.
//!
//! Run with `cargo bench -p courier-xdr --bench xdr`.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use courier_xdr::{from_bytes, serialize_into, to_bytes, xdr_enum, Opaque};
use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

xdr_enum! {
    /// A small enumeration.
    enum Kind { File = 1, Dir = 2, Link = 5 }
}

/// A typical small call argument: a few ints, a short string, an enum.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Small {
    id: u32,
    offset: i64,
    count: u32,
    name: String,
    kind: Kind,
}

fn bench_value<T>(c: &mut Criterion, name: &str, value: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let wire: Bytes = to_bytes(value).expect("the value encodes");
    assert_eq!(&from_bytes::<T>(wire.clone()).expect("the value decodes"), value);
    let mut group = c.benchmark_group("xdr");
    group.throughput(Throughput::Bytes(wire.len() as u64));

    let mut buf = BytesMut::with_capacity(wire.len());
    group.bench_with_input(BenchmarkId::new("encode", name), value, |b, value| {
        b.iter(|| {
            buf.clear();
            serialize_into(&mut buf, black_box(value)).expect("the value encodes");
            black_box(buf.len())
        })
    });
    group.bench_with_input(BenchmarkId::new("decode", name), &wire, |b, wire| {
        b.iter(|| from_bytes::<T>(black_box(wire.clone())).expect("the value decodes"))
    });
    group.finish();
}

fn xdr(c: &mut Criterion) {
    let small = Small { id: 7, offset: -4096, count: 512, name: "README.md".into(), kind: Kind::Link };
    bench_value(c, "small_struct", &small);
    bench_value(c, "opaque_4KiB", &Opaque::from(vec![0xa5u8; 4 << 10]));
    bench_value(c, "opaque_1MiB", &Opaque::from(vec![0xa5u8; 1 << 20]));
}

// `criterion_group!` makes a `pub fn`; inside a private module it needs no doc.
mod group {
    criterion::criterion_group!(benches, super::xdr);
}
criterion_main!(group::benches);
