//! A remote object interface from a `.x` file (`x/accounts.x`, annotated `@objects`):
//! the generated servant trait, export helpers and typed proxy, against an object table.

use std::sync::atomic::{AtomicU32, Ordering};

use courier::object::{ObjectError, ObjectRef, ObjectTable};
use courier::rpc::{Call, Client, ClientConfig, Fault, Server};
use courier::transport::Endpoint;
use idl_corpus::accounts::accounts_v1 as accounts;

struct Account(AtomicU32);

impl accounts::Service for Account {
    async fn deposit(&self, _call: &Call, arg: u32) -> Result<u32, Fault> {
        Ok(self.0.fetch_add(arg, Ordering::SeqCst) + arg)
    }
    async fn balance(&self, _call: &Call) -> Result<u32, Fault> {
        Ok(self.0.load(Ordering::SeqCst))
    }
}

#[tokio::test]
async fn a_x_file_annotated_objects_gives_typed_proxies() {
    let table = ObjectTable::new();
    let server = Server::builder().register(accounts::PROGRAM, accounts::VERSION, accounts::dispatcher(&table)).build();
    let listening = server.listen(&"tcp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let Endpoint::Tcp(addr) = listening.endpoint().clone() else { unreachable!("TCP") };
    table.set_address(addr);
    let a = accounts::export(&table, Account(AtomicU32::new(10)));
    let b = accounts::export(&table, Account(AtomicU32::new(0)));
    let client = Client::connect(listening.endpoint(), ClientConfig::default()).await.unwrap();
    let (pa, pb) = (accounts::Proxy::new(client.clone(), a), accounts::Proxy::new(client.clone(), b));
    assert_eq!(pa.deposit(&5).await.unwrap(), 15);
    assert_eq!(pb.balance().await.unwrap(), 0, "each object its own");
    assert_eq!(pa.balance().await.unwrap(), 15);
    let gone = ObjectRef { object: 99, ..a };
    assert!(matches!(accounts::Proxy::new(client, gone).balance().await, Err(ObjectError::Unknown(_))));
}

#[test]
fn the_wire_form_names_the_key_and_status_and_rpcgen_takes_it() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("x/accounts.x");
    let source = courier_idl::Source::load(&path).unwrap();
    let spec = courier_idl::parser::parse(&source.text).unwrap();
    let wire = courier_idl::print::print_wire(&spec);
    assert!(wire.contains("accounts_deposit_reply DEPOSIT(object_key, unsigned int) = 1;"), "{wire}");
    assert!(wire.contains("accounts_balance_reply BALANCE(object_key) = 2;"), "{wire}");
    assert!(!wire.contains("@objects"), "the wire form is not to be keyed again:\n{wire}");
    let checked = courier_idl::check_source(&courier_idl::Source::from_text("accounts-wire.x", &wire));
    checked.unwrap_or_else(|e| panic!("{e}\n{wire}"));
    // rpcgen makes C from it.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("accounts-wire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("accounts.x"), &wire).unwrap();
    let header =
        std::process::Command::new("rpcgen").args(["-N", "-h", "accounts.x"]).current_dir(&dir).output().unwrap();
    assert!(header.status.success(), "{}", String::from_utf8_lossy(&header.stderr));
    let header = String::from_utf8_lossy(&header.stdout);
    assert!(header.contains("deposit_1(object_key , u_int , CLIENT *)"), "{header}");
    std::fs::remove_dir_all(&dir).unwrap();
}
