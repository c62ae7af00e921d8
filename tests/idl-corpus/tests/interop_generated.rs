//! The code courier-idl generates from `interop.x`, against the C client and server that
//! rpcgen and libtirpc build from the same file (`crates/courier/tests/interop/`): the
//! generated client calls the C server, and the C client calls a server written on the
//! generated service trait, over TCP and UDP.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use courier_test_support::CServer;

use courier::rpc::{AuthSys, Call, CallError, ClientConfig, Credentials, Fault, Server};
use courier::transport::Endpoint;
use courier::xdr::{BoundedString, BoundedVec, FixedOpaque, Opaque, OptionalList};
use idl_corpus::interop::*;

const SAMPLE_TEXT: &str = "id=010203040506|blob=deadbeef00ff|title=courier/interop|triple=-1,0,2147483647|counts=1,2,3,4,5|names=alpha,,gamma|s=3:-42|t=4:77|fl=1:-5000000000|tg=7:0x40490fdb|list=10,20,30,-40|extra=i=-123456789 u=4000000000 h=-9007199254740993 uh=18446744073709551615 f=0x80000001 d=0x400921fb54442d18 b=1 c=4";

fn sample_prims() -> Prims {
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

fn sample_complex() -> Complex {
    let name = |s: &str| BoundedString::new(s).unwrap();
    Complex {
        id: FixedOpaque([1, 2, 3, 4, 5, 6]),
        blob: Opaque::new(vec![0xde, 0xad, 0xbe, 0xef, 0, 0xff]).unwrap(),
        title: name("courier/interop"),
        triple: [-1, 0, i32::MAX],
        counts: BoundedVec::new(vec![1, 2, 3, 4, 5]).unwrap(),
        names: BoundedVec::new(vec![name("alpha"), name(""), name("gamma")]).unwrap(),
        s: Shape::Case3(-42),
        t: Tint::Default(Color::Blue, 77),
        fl: Flag::True(-5_000_000_000),
        tg: Tag::Case7(f32::from_bits(0x4049_0fdb)),
        list: OptionalList(vec![10, 20, 30, -40].into_iter().map(|value| Intnode { value }).collect()),
        extra: Some(Box::new(sample_prims())),
    }
}

fn describe_prims(p: &Prims) -> String {
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

fn join<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items.into_iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

/// The canonical text of `crates/courier/tests/interop/README.md`, for generated types.
fn describe_complex(c: &Complex) -> String {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let s = match &c.s {
        Shape::Case1(r) => format!("1:{:#018x}", r.to_bits()),
        Shape::Case2(n) => format!("2:{n}"),
        Shape::Case3(n) => format!("3:{n}"),
        Shape::Case0 => "0:void".into(),
        Shape::Default(k, note) => format!("{k}:{note}"),
    };
    let t = match &c.t {
        Tint::Red(l) => format!("1:{l}"),
        Tint::Green => "2:void".into(),
        Tint::Default(k, o) => format!("{}:{o}", k.value()),
    };
    let fl = match c.fl {
        Flag::True(v) => format!("1:{v}"),
        Flag::False => "0:void".into(),
    };
    let tg = match c.tg {
        Tag::Case7(f) => format!("7:{:#010x}", f.to_bits()),
        Tag::Default(k) => format!("{k}:void"),
    };
    format!(
        "id={}|blob={}|title={}|triple={}|counts={}|names={}|s={s}|t={t}|fl={fl}|tg={tg}|list={}|extra={}",
        hex(&c.id[..]),
        hex(&c.blob),
        c.title,
        join(c.triple),
        join(c.counts.iter()),
        join(c.names.iter()),
        join(c.list.iter().map(|n| n.value)),
        c.extra.as_deref().map_or("none".into(), describe_prims)
    )
}

/// The service, written on the generated trait.
struct Interop;

impl interop_v1::Service for Interop {
    async fn echo_prims(&self, _call: &Call, arg: Prims) -> Result<Prims, Fault> {
        Ok(arg)
    }
    async fn echo_complex(&self, _call: &Call, arg: Complex) -> Result<Complex, Fault> {
        Ok(arg)
    }
    async fn describe(&self, _call: &Call, arg: Complex) -> Result<String, Fault> {
        Ok(describe_complex(&arg))
    }
    async fn echo_big(&self, _call: &Call, arg: Bigdata) -> Result<Bigdata, Fault> {
        Ok(arg)
    }
    async fn whoami(&self, call: &Call) -> Result<WhoamiRes, Fault> {
        let mut res = WhoamiRes {
            flavor: call.credentials.flavor(),
            stamp: 0,
            machine: BoundedString::default(),
            uid: 0,
            gid: 0,
            gids: BoundedVec::default(),
        };
        if let Credentials::Sys(sys) = &call.credentials {
            res.stamp = sys.stamp;
            res.machine = BoundedString::new(sys.machine_name.clone()).map_err(|_| Fault::SystemErr)?;
            (res.uid, res.gid) = (sys.uid, sys.gid);
            res.gids = BoundedVec::new(sys.gids.clone()).map_err(|_| Fault::SystemErr)?;
        }
        Ok(res)
    }
}

fn c_peers() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../crates/courier/tests/interop/build.sh");
        courier_test_support::build_c_peers(&script, &[], Path::new(env!("CARGO_TARGET_TMPDIR")), "interop-c-generated")
    })
}

fn run_c_client(proto: &str, port: u16, args: &[&str]) -> String {
    courier_test_support::run_c_client(&c_peers().join("interop_client"), proto, port, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_c_client_calls_a_server_on_the_generated_trait() {
    assert_eq!(describe_complex(&sample_complex()), SAMPLE_TEXT);
    let server = Server::builder().add_service(interop_v1::Dispatcher::new(Interop)).build();
    let tcp = server.listen(&"tcp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let udp = server.listen(&"udp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let port = |e: &Endpoint| match e {
        Endpoint::Tcp(a) | Endpoint::Udp(a) => a.port(),
        Endpoint::Unix(_) => unreachable!("listening on TCP and UDP"),
    };
    for (proto, port, big) in [("tcp", port(tcp.endpoint()), "1048576"), ("udp", port(udp.endpoint()), "30000")] {
        let c =
            move |args: &'static [&'static str]| tokio::task::spawn_blocking(move || run_c_client(proto, port, args));
        assert_eq!(c(&["null"]).await.unwrap(), "null=ok\n");
        assert_eq!(c(&["prims"]).await.unwrap(), format!("echo={}\n", describe_prims(&sample_prims())));
        assert_eq!(c(&["complex"]).await.unwrap(), format!("echo={SAMPLE_TEXT}\ndescribe={SAMPLE_TEXT}\n"));
        let out = tokio::task::spawn_blocking(move || run_c_client(proto, port, &["big", big])).await.unwrap();
        assert_eq!(out, format!("big={big} match\n"));
        assert_eq!(c(&["whoami"]).await.unwrap(), "flavor=1 machine=interop-host uid=1234 gid=5678 gids=10,20,30\n");
        assert_eq!(c(&["badproc"]).await.unwrap(), "error=10\n");
        assert_eq!(c(&["badvers"]).await.unwrap(), "error=9 low=1 high=1\n");
        assert_eq!(c(&["garbage"]).await.unwrap(), "error=11\n");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_client_calls_the_c_server() {
    let c = CServer::start(&c_peers().join("interop_server"));
    let sys = AuthSys { stamp: 5, machine_name: "gen-host".into(), uid: 11, gid: 22, gids: vec![33] };
    for (endpoint, big) in [
        (Endpoint::Tcp(([127, 0, 0, 1], c.tcp).into()), 1 << 20),
        (Endpoint::Udp(([127, 0, 0, 1], c.udp).into()), 30_000),
    ] {
        let client = interop_v1::Client::connect(&endpoint, ClientConfig::default()).await.unwrap();
        assert_eq!(describe_prims(&client.echo_prims(&sample_prims()).await.unwrap()), describe_prims(&sample_prims()));
        assert_eq!(client.echo_complex(&sample_complex()).await.unwrap(), sample_complex());
        assert_eq!(client.describe(&sample_complex()).await.unwrap(), SAMPLE_TEXT);
        let data = Opaque::from((0..big).map(|k: usize| (k * 7 + 3) as u8).collect::<Vec<u8>>());
        assert!(client.echo_big(&data).await.unwrap() == data, "big echo over {endpoint}");
        assert_eq!(client.whoami().await.unwrap().flavor, 0);
        let config = ClientConfig { credential: sys.to_opaque_auth().unwrap(), ..ClientConfig::default() };
        let authed = interop_v1::Client::connect(&endpoint, config).await.unwrap();
        let seen = authed.whoami().await.unwrap();
        assert_eq!(
            (seen.flavor, seen.uid, seen.gid, seen.machine.as_str(), &seen.gids[..]),
            (1, 11, 22, "gen-host", &[33][..])
        );
        let err = interop_v1::Client::new(client.0.clone()).0.null(INTEROP_PROG, 2).await.unwrap_err();
        assert!(matches!(err, CallError::ProgMismatch { low: 1, high: 1, .. }), "{err}");
    }
}
