//! Remote objects on ONC RPC: servants exported in an object table, found by the key
//! each call carries, called through proxies (typed ones from a Rust interface);
//! unknown, unexported and stale references get their own errors; the name registry;
//! the wire is plain ONC RPC — a raw call shows its shape, and a C client built by
//! rpcgen from the printed `.x` calls a Rust object through its handle.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use courier::object::{ObjectError, ObjectKey, ObjectRef, ObjectTable, Proxy};
use courier::rpc::{CallOptions, Client, ClientConfig, ProcId, Procedures, Server};
use courier::transport::Endpoint;

const COUNTER: u32 = 0x2000_6500;
const OTHER: u32 = 0x2000_6501;
const ADD: u32 = 1;

/// A counter servant: ADD(n) adds n and returns the total.
fn counter() -> Procedures {
    let total = Arc::new(AtomicU32::new(0));
    Procedures::new().typed(ADD, move |n: u32| {
        let total = total.clone();
        async move { total.fetch_add(n, Ordering::SeqCst) + n }
    })
}

/// A server with an object table serving the counter interface (and another one);
/// returns the table and a client connected to the server.
async fn serve() -> (Arc<ObjectTable>, courier::rpc::Listening, Client) {
    let (table, listening) = object_server(|table| {
        Server::builder().register(COUNTER, 1, table.dispatcher(COUNTER, 1)).register(
            OTHER,
            1,
            table.dispatcher(OTHER, 1),
        )
    })
    .await;
    let client = Client::connect(listening.endpoint(), ClientConfig::default()).await.unwrap();
    (table, listening, client)
}

async fn add(proxy: &Proxy, n: u32) -> Result<u32, ObjectError> {
    proxy.invoke(ADD, &n, &CallOptions::default()).await
}

#[tokio::test]
async fn each_object_is_its_own_servant() {
    let (table, _listening, client) = serve().await;
    let a = table.export(COUNTER, 1, counter());
    let b = table.export(COUNTER, 1, counter());
    assert_ne!(a, b);
    assert_eq!((a.program, a.version, a.incarnation), (COUNTER, 1, table.incarnation()));
    let (pa, pb) = (Proxy::new(client.clone(), a), Proxy::new(client.clone(), b));
    assert_eq!(add(&pa, 5).await.unwrap(), 5);
    assert_eq!(add(&pa, 5).await.unwrap(), 10);
    assert_eq!(add(&pb, 1).await.unwrap(), 1, "b has its own state");
    // A reference survives being printed and read back.
    let again: ObjectRef = a.to_string().parse().unwrap();
    assert_eq!(add(&Proxy::new(client, again), 1).await.unwrap(), 11);
}

#[tokio::test]
async fn unknown_unexported_and_stale_references_get_their_own_errors() {
    let (table, _listening, client) = serve().await;
    let a = table.export(COUNTER, 1, counter());
    let never = ObjectRef { object: 999, ..a };
    assert!(matches!(add(&Proxy::new(client.clone(), never), 1).await, Err(ObjectError::Unknown(r)) if r == never));
    // Called under another interface than its own, an object is unknown there.
    let wrong_interface = ObjectRef { program: OTHER, ..a };
    assert!(matches!(add(&Proxy::new(client.clone(), wrong_interface), 1).await, Err(ObjectError::Unknown(_))));
    // An earlier incarnation's reference is stale.
    let stale = ObjectRef { incarnation: a.incarnation.wrapping_add(1), ..a };
    let err = add(&Proxy::new(client.clone(), stale), 1).await.unwrap_err();
    assert!(matches!(err, ObjectError::Stale(r) if r == stale), "{err}");
    assert!(err.to_string().contains("stale reference"), "{err}");
    // Unexported: gone.
    let pa = Proxy::new(client.clone(), a);
    assert_eq!(add(&pa, 2).await.unwrap(), 2);
    assert!(table.unexport(&a));
    assert!(!table.unexport(&a), "already gone");
    assert!(matches!(add(&pa, 1).await, Err(ObjectError::Unknown(_))));
    assert!(table.is_empty());
}

#[tokio::test]
async fn a_restarted_servers_objects_are_stale_to_old_references() {
    let (table, listening, client) = serve().await;
    let a = table.export(COUNTER, 1, counter());
    drop((table, listening, client));
    // A new server on another port, as after a restart: a new table, a new incarnation.
    let (table, _listening, client) = serve().await;
    let fresh = table.export(COUNTER, 1, counter());
    assert_eq!(fresh.object, a.object, "the new table numbers its objects from 1 again");
    // The old reference, pointed at the new server: same object number, old incarnation.
    let old = ObjectRef { addr: fresh.addr, ..a };
    assert!(matches!(add(&Proxy::new(client, old), 1).await, Err(ObjectError::Stale(_))));
}

#[tokio::test]
async fn the_wire_is_plain_onc_rpc_with_the_key_first() {
    let (table, _listening, client) = serve().await;
    let a = table.export(COUNTER, 1, counter());
    // What a C client built with rpcgen sends: the key, then the arguments; and gets: the
    // status, then the results.
    let key = ObjectKey { incarnation: a.incarnation, object: a.object };
    let args = courier_xdr::to_bytes(&(key, 7u32)).unwrap();
    assert_eq!(args.len(), 16 + 4);
    let results = client.do_operation(ProcId { prog: COUNTER, vers: 1, proc: ADD }, args, &Default::default()).await;
    assert_eq!(&results.unwrap()[..], &[0, 0, 0, 0, 0, 0, 0, 7]);
    let unknown = courier_xdr::to_bytes(&(ObjectKey { object: 12345, ..key }, 7u32)).unwrap();
    let results = client.do_operation(ProcId { prog: COUNTER, vers: 1, proc: ADD }, unknown, &Default::default()).await;
    assert_eq!(&results.unwrap()[..], &[0, 0, 0, 1]);
    // Too short to hold a key: GARBAGE_ARGS.
    let short = bytes::Bytes::from_static(&[0; 8]);
    let err = client.do_operation(ProcId { prog: COUNTER, vers: 1, proc: ADD }, short, &Default::default()).await;
    assert!(matches!(err, Err(courier::rpc::CallError::GarbageArgs { .. })), "{err:?}");
}

#[tokio::test]
async fn the_registry_maps_names_to_references_over_onc_rpc() {
    use courier::object::registry::{self, BindStatus};
    use courier::object::{Registry, RegistryClient};
    let (table, _listening, _client) = serve().await;
    let a = table.export(COUNTER, 1, counter());
    let b = table.export(COUNTER, 1, counter());
    let names = Registry::new(2);
    let server = Server::builder().register(registry::PROGRAM, registry::VERSION, names.service()).build();
    let node = server.listen(&"udp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let reg = RegistryClient::new(Client::connect(node.endpoint(), ClientConfig::default()).await.unwrap());
    assert_eq!(reg.bind("counter/a", &a).await.unwrap(), BindStatus::Ok);
    assert_eq!(reg.bind("counter/a", &b).await.unwrap(), BindStatus::Taken);
    assert_eq!(reg.lookup("counter/a").await.unwrap(), Some(a));
    assert_eq!(reg.rebind("counter/a", &b).await.unwrap(), BindStatus::Ok);
    assert_eq!(reg.lookup("counter/a").await.unwrap(), Some(b));
    assert_eq!(reg.bind("counter/b", &a).await.unwrap(), BindStatus::Ok);
    assert_eq!(reg.bind("counter/c", &a).await.unwrap(), BindStatus::Full, "the registry holds two names");
    let listed: Vec<_> = reg.list().await.unwrap().into_iter().map(|e| (e.name.to_string(), e.reference)).collect();
    assert_eq!(listed, [("counter/a".to_owned(), b), ("counter/b".to_owned(), a)]);
    assert!(reg.unbind("counter/a").await.unwrap());
    assert!(!reg.unbind("counter/a").await.unwrap());
    assert_eq!(reg.lookup("counter/a").await.unwrap(), None);
    assert!(matches!(reg.lookup(&"x".repeat(256)).await, Err(courier::object::registry::RegistryError::NameTooLong)));
    // A reference found by name is called like any other.
    let found = reg.lookup("counter/b").await.unwrap().unwrap();
    let client = Client::connect(&Endpoint::Tcp(found.addr), ClientConfig::default()).await.unwrap();
    assert_eq!(add(&Proxy::new(client, found), 3).await.unwrap(), 3);
}

/// A remote interface declared in Rust: every object of it is an account.
#[courier::interface(program = 0x2000_6600, version = 1, objects = true)]
pub trait Account {
    /// Adds to the balance; returns the new balance.
    async fn deposit(&self, amount: u32) -> u32;
    /// The balance.
    #[courier(idempotent)]
    async fn balance(&self) -> u32;
    /// Opens another account on the same server and returns its reference: a remote
    /// reference travelling in a reply.
    async fn open_sibling(&self) -> ObjectRef;
}

struct Acct {
    balance: AtomicU32,
    table: Arc<ObjectTable>,
}

impl Account for Acct {
    async fn deposit(&self, amount: u32) -> u32 {
        self.balance.fetch_add(amount, Ordering::SeqCst) + amount
    }
    async fn balance(&self) -> u32 {
        self.balance.load(Ordering::SeqCst)
    }
    async fn open_sibling(&self) -> ObjectRef {
        account::export(&self.table, Acct { balance: AtomicU32::new(0), table: self.table.clone() })
    }
}

#[tokio::test]
async fn a_rust_interface_with_objects_has_typed_proxies() {
    let table = ObjectTable::new();
    let server = Server::builder()
        .register(account::PROGRAM, account::VERSION, account::dispatcher(&table))
        .register(courier::object::lease::PROGRAM, courier::object::lease::VERSION, table.lease_service())
        .build();
    let listening = server.listen(&"tcp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let Endpoint::Tcp(addr) = listening.endpoint().clone() else { unreachable!("TCP") };
    table.set_address(addr);
    let first = account::export(&table, Acct { balance: AtomicU32::new(100), table: table.clone() });
    let proxy = account::Proxy::connect(first, ClientConfig::default()).await.unwrap();
    assert_eq!(proxy.deposit(&5).await.unwrap(), 105);
    assert_eq!(proxy.balance().await.unwrap(), 105);
    let sibling = proxy.open_sibling().await.unwrap();
    assert_ne!(sibling, first);
    let other = account::Proxy::connect(sibling, ClientConfig::default()).await.unwrap();
    assert_eq!(other.deposit(&1).await.unwrap(), 1, "the sibling is an object of its own");
    assert_eq!(proxy.balance().await.unwrap(), 105);
    table.unexport(&sibling);
    assert!(matches!(other.balance().await, Err(ObjectError::Unknown(_))));
    // The printed interface names the key first and answers a status first.
    let idl = account::idl();
    assert!(idl.contains("account_balance_reply BALANCE(object_key) = 2;"), "{idl}");
    assert!(idl.contains("account_deposit_reply DEPOSIT(object_key, unsigned int) = 1;"), "{idl}");
    let source = courier_idl::Source::from_text("account.x", &idl);
    courier_idl::check_source(&source).unwrap_or_else(|e| panic!("courier-idl rejects the printed .x:\n{e}\n{idl}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_c_client_built_by_rpcgen_calls_a_rust_object_through_its_handle() {
    use std::path::{Path, PathBuf};
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let x_file = tmp.join(format!("account-{}.x", std::process::id()));
    std::fs::write(&x_file, account::idl()).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/objects_c/build.sh");
    let peers = courier_test_support::build_c_peers(&script, &[&x_file], tmp, "objects-c");
    for proto in ["tcp", "udp"] {
        let table = ObjectTable::new();
        let server =
            Server::builder().register(account::PROGRAM, account::VERSION, account::dispatcher(&table)).build();
        let listening = server.listen(&format!("{proto}://127.0.0.1:0").parse().unwrap()).await.unwrap();
        let (Endpoint::Tcp(addr) | Endpoint::Udp(addr)) = *listening.endpoint() else { unreachable!("IP") };
        table.set_address(addr);
        let acct = account::export(&table, Acct { balance: AtomicU32::new(100), table: table.clone() });
        let c_call = |key: ObjectRef| {
            let client = peers.join("account_client");
            let (incarnation, object) = (format!("{:x}", key.incarnation), key.object.to_string());
            tokio::task::spawn_blocking(move || {
                courier_test_support::run_c_client(&client, proto, addr.port(), &[&incarnation, &object, "5"])
            })
        };
        assert_eq!(c_call(acct).await.unwrap(), "deposit=0 105\nbalance=0 105\n", "over {proto}");
        let unknown = ObjectRef { object: 77, ..acct };
        assert_eq!(c_call(unknown).await.unwrap(), "deposit=1\nbalance=1\n", "over {proto}");
        let stale = ObjectRef { incarnation: acct.incarnation ^ 1, ..acct };
        assert_eq!(c_call(stale).await.unwrap(), "deposit=2\nbalance=2\n", "over {proto}");
        // A Rust proxy sees what the C client did.
        let client = Client::connect(listening.endpoint(), ClientConfig::default()).await.unwrap();
        assert_eq!(account::Proxy::new(client, acct).balance().await.unwrap(), 105, "over {proto}");
    }
}

#[tokio::test]
async fn an_activatable_object_is_made_on_its_first_call_and_dropped_when_idle() {
    let (table, _listening, client) = serve().await;
    let made = Arc::new(AtomicU32::new(0));
    let factory_count = made.clone();
    let r = table.export_activatable(COUNTER, 1, std::time::Duration::from_millis(200), move || {
        factory_count.fetch_add(1, Ordering::SeqCst);
        counter()
    });
    assert_eq!((made.load(Ordering::SeqCst), table.active()), (0, 0), "nothing is made before a call");
    let proxy = Proxy::new(client, r);
    assert_eq!(add(&proxy, 2).await.unwrap(), 2, "the first call activates it");
    assert_eq!(add(&proxy, 2).await.unwrap(), 4, "later calls reach the same servant");
    assert_eq!((made.load(Ordering::SeqCst), table.active()), (1, 1));
    // Idle: deactivated, its servant (and state) dropped; the reference still works.
    let start = std::time::Instant::now();
    while table.active() > 0 {
        assert!(start.elapsed() < std::time::Duration::from_secs(5), "never deactivated");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(add(&proxy, 1).await.unwrap(), 1, "reactivated with a new servant");
    assert_eq!(made.load(Ordering::SeqCst), 2);
}

/// A client's callback interface.
#[courier::interface(program = 0x2000_6800, version = 1, objects = true)]
pub trait Listener {
    /// Hears of an event.
    async fn notify(&self, event: String);
}

/// A server's interface that calls its subscribers back.
#[courier::interface(program = 0x2000_6801, version = 1, objects = true)]
pub trait Publisher {
    /// Adds a subscriber, given by the reference of its listener object.
    async fn subscribe(&self, listener: ObjectRef) -> u32;
    /// Tells every subscriber of `event`; returns how many heard it.
    async fn publish(&self, event: String) -> u32;
}

#[derive(Default)]
struct Heard(std::sync::Mutex<Vec<String>>);

impl Listener for Arc<Heard> {
    async fn notify(&self, event: String) {
        self.0.lock().unwrap().push(event);
    }
}

#[derive(Default)]
struct Hub(tokio::sync::Mutex<Vec<listener::Proxy>>);

impl Publisher for Hub {
    async fn subscribe(&self, reference: ObjectRef) -> u32 {
        // The server becomes a client of the subscriber's own server.
        let client = Client::connect(&Endpoint::Tcp(reference.addr), ClientConfig::default()).await.unwrap();
        let mut subscribers = self.0.lock().await;
        subscribers.push(listener::Proxy::new(client, reference));
        subscribers.len() as u32
    }
    async fn publish(&self, event: String) -> u32 {
        let mut heard = 0;
        for subscriber in self.0.lock().await.iter() {
            heard += u32::from(subscriber.notify(&event).await.is_ok());
        }
        heard
    }
}

/// A server with an object table serving `register`'s interfaces; returns the table.
async fn object_server(
    register: impl FnOnce(&Arc<ObjectTable>) -> courier::rpc::ServerBuilder,
) -> (Arc<ObjectTable>, courier::rpc::Listening) {
    let table = ObjectTable::new();
    let listening = register(&table).build().listen(&"tcp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let Endpoint::Tcp(addr) = listening.endpoint().clone() else { unreachable!("TCP") };
    table.set_address(addr);
    (table, listening)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_exports_a_listener_and_the_server_calls_it_back() {
    let (server_table, _server) = object_server(|table| {
        Server::builder().register(publisher::PROGRAM, publisher::VERSION, publisher::dispatcher(table))
    })
    .await;
    let hub = publisher::export(&server_table, Hub::default());
    // The client serves objects of its own: its listeners.
    let (client_table, _client_server) = object_server(|table| {
        Server::builder().register(listener::PROGRAM, listener::VERSION, listener::dispatcher(table))
    })
    .await;
    let (heard_a, heard_b) = (Arc::new(Heard::default()), Arc::new(Heard::default()));
    let a = listener::export(&client_table, heard_a.clone());
    let b = listener::export(&client_table, heard_b.clone());
    let client = Client::connect(&Endpoint::Tcp(hub.addr), ClientConfig::default()).await.unwrap();
    let publisher = publisher::Proxy::new(client, hub);
    assert_eq!(publisher.subscribe(&a).await.unwrap(), 1);
    assert_eq!(publisher.subscribe(&b).await.unwrap(), 2);
    assert_eq!(publisher.publish(&"first".to_owned()).await.unwrap(), 2);
    client_table.unexport(&b);
    assert_eq!(publisher.publish(&"second".to_owned()).await.unwrap(), 1, "b's object is gone");
    assert_eq!(*heard_a.0.lock().unwrap(), ["first", "second"]);
    assert_eq!(*heard_b.0.lock().unwrap(), ["first"]);
}

/// Run by `a_restarted_server_process_answers_old_references_stale` as a separate
/// process: serves the counter interface on 127.0.0.1:$COURIER_OBJECTS_PORT (0: any),
/// exports one counter, prints its reference and waits to be killed.
#[tokio::test]
#[ignore = "a helper process, run by another test"]
async fn object_server_process() {
    let port = std::env::var("COURIER_OBJECTS_PORT").expect("COURIER_OBJECTS_PORT");
    let table = ObjectTable::new();
    let server = Server::builder().register(COUNTER, 1, table.dispatcher(COUNTER, 1)).build();
    let listening = server.listen(&format!("tcp://127.0.0.1:{port}").parse().unwrap()).await.unwrap();
    let Endpoint::Tcp(addr) = listening.endpoint().clone() else { unreachable!("TCP") };
    table.set_address(addr);
    println!("{}", table.export(COUNTER, 1, counter()));
    std::future::pending::<()>().await;
}

/// Starts `object_server_process` on `port`; returns the process and its object.
fn object_server_process_on(port: u16) -> (courier_test_support::HelperProcess, ObjectRef) {
    let port = port.to_string();
    let mut server =
        courier_test_support::HelperProcess::start("object_server_process", &[("COURIER_OBJECTS_PORT", &port)]);
    let reference = server.wait_for(|line| line.parse::<ObjectRef>().ok());
    (server, reference)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_process_answers_old_references_stale() {
    let (mut first, old) = object_server_process_on(0);
    let client = Client::connect(&Endpoint::Tcp(old.addr), ClientConfig::default()).await.unwrap();
    let proxy = Proxy::new(client, old);
    assert_eq!(add(&proxy, 3).await.unwrap(), 3);
    first.kill(); // SIGKILL
    let (_second, new) = object_server_process_on(old.addr.port());
    assert_eq!((new.addr, new.object), (old.addr, old.object), "same address, same object number");
    assert_ne!(new.incarnation, old.incarnation);
    // The old reference reaches the new process (the client reconnects) and is stale.
    let err = add(&proxy, 1).await.unwrap_err();
    assert!(matches!(err, ObjectError::Stale(r) if r == old), "{err}");
    let client = Client::connect(&Endpoint::Tcp(new.addr), ClientConfig::default()).await.unwrap();
    assert_eq!(add(&Proxy::new(client.clone(), new), 1).await.unwrap(), 1);
    let unknown = ObjectRef { object: 2, ..new };
    assert!(matches!(add(&Proxy::new(client, unknown), 1).await, Err(ObjectError::Unknown(_))));
}
