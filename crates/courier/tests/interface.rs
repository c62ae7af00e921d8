//! `#[courier::interface]`: a Rust trait served and called over ONC RPC, printed as a
//! `.x` file that courier-idl accepts and rpcgen compiles into a C client that calls the
//! Rust service (`tests/interface_c/`), over TCP and UDP.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use courier::rpc::{CallError, ClientConfig, Fault, Server};
use courier::transport::Endpoint;
use serde::{Deserialize, Serialize};

/// A person, as the seeds' PersonList example has it.
#[derive(Serialize, Deserialize, courier::XdrType, Clone, Debug, PartialEq)]
pub struct Person {
    /// The name, the key.
    pub name: String,
    /// The age.
    pub age: u32,
    /// Addresses.
    pub emails: Vec<String>,
}

/// The seeds' PersonList interface, with a procedure of two inputs and two outputs.
#[courier::interface(program = 0x2000_5050, version = 1)]
pub trait PersonList {
    /// Adds a person; returns how many there are now.
    async fn add_person(&self, person: Person) -> u32;
    /// The person with this name, if there is one.
    #[courier(idempotent)]
    async fn get_person(&self, name: String) -> Option<Person>;
    /// Several inputs become the call's arguments, several outputs the result's fields.
    async fn sum_and_product(&self, a: i32, b: i32) -> (i32, i32);
    /// Fails with an RPC error when asked to.
    #[courier(proc = 9)]
    async fn refuse(&self, why: u32) -> Result<(), Fault>;
}

#[derive(Default)]
struct People(Mutex<Vec<Person>>);

impl PersonList for People {
    async fn add_person(&self, person: Person) -> u32 {
        let mut people = self.0.lock().unwrap();
        people.push(person);
        people.len() as u32
    }
    async fn get_person(&self, name: String) -> Option<Person> {
        self.0.lock().unwrap().iter().find(|p| p.name == name).cloned()
    }
    async fn sum_and_product(&self, a: i32, b: i32) -> (i32, i32) {
        (a + b, a * b)
    }
    async fn refuse(&self, why: u32) -> Result<(), Fault> {
        if why == 0 {
            Ok(())
        } else {
            Err(Fault::SystemErr)
        }
    }
}

const EXPECTED_IDL: &str = "typedef string string_t<>;

struct Person {
    string name<>;
    unsigned int age;
    string_t emails<>;
};

typedef Person *option_person;

struct sum_and_product_result {
    int field0;
    int field1;
};

program PERSON_LIST {
    version PERSON_LIST_V1 {
        unsigned int ADD_PERSON(Person) = 1;
        /* @idempotent */
        option_person GET_PERSON(string_t) = 2;
        sum_and_product_result SUM_AND_PRODUCT(int, int) = 3;
        void REFUSE(unsigned int) = 9;
    } = 1;
} = 0x20005050;
";

#[test]
fn the_trait_prints_as_a_valid_x_file() {
    assert_eq!(person_list::idl(), EXPECTED_IDL);
    let source = courier_idl::Source::from_text("person_list.x", &person_list::idl());
    courier_idl::check_source(&source).unwrap_or_else(|e| panic!("courier-idl rejects the printed .x:\n{e}"));
    assert_eq!((person_list::PROGRAM, person_list::VERSION, person_list::REFUSE), (0x2000_5050, 1, 9));
}

#[tokio::test]
async fn the_rust_client_calls_the_rust_service() {
    for endpoint in ["tcp://127.0.0.1:0", "udp://127.0.0.1:0"] {
        let server = Server::builder().add_service(person_list::Dispatcher::new(People::default())).build();
        let listening = server.listen(&endpoint.parse().unwrap()).await.unwrap();
        let client = person_list::Client::connect(listening.endpoint(), ClientConfig::default()).await.unwrap();
        client.null().await.unwrap();
        let ada = Person { name: "ada".into(), age: 36, emails: vec!["ada@example.org".into()] };
        assert_eq!(client.add_person(&ada).await.unwrap(), 1);
        assert_eq!(client.get_person(&"ada".to_owned()).await.unwrap(), Some(ada));
        assert_eq!(client.get_person(&"bob".to_owned()).await.unwrap(), None);
        assert_eq!(client.sum_and_product(&6, &7).await.unwrap(), (13, 42));
        client.refuse(&0).await.unwrap();
        assert!(matches!(client.refuse(&1).await, Err(CallError::SystemErr { .. })));
    }
}

#[tokio::test]
async fn an_idempotent_procedure_is_called_at_least_once_and_leaves_no_reply_behind() {
    let server = Server::builder().add_service(person_list::Dispatcher::new(People::default())).build();
    let listening = server.listen(&"tcp://127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client = person_list::Client::connect(listening.endpoint(), ClientConfig::default()).await.unwrap();
    assert_eq!(client.get_person(&"ada".to_owned()).await.unwrap(), None);
    assert_eq!(server.session_replies(), 0, "the idempotent call's reply was kept for retransmissions");
    let ada = Person { name: "ada".into(), age: 36, emails: vec![] };
    client.add_person(&ada).await.unwrap();
    assert_eq!(server.session_replies(), 1, "the at-most-once call's reply is kept until the next call");
    // The printed `.x` carries the annotation, and reading it back finds it.
    let source = courier_idl::Source::from_text("person_list.x", &person_list::idl());
    let model = courier_idl::check_source(&source).unwrap();
    let idempotent: Vec<_> = model
        .spec
        .definitions
        .iter()
        .filter_map(|d| match &d.kind {
            courier_idl::ast::DefinitionKind::Program(p) => Some(p),
            _ => None,
        })
        .flat_map(|p| p.versions.iter().flat_map(|v| v.procedures.iter()))
        .filter(|p| p.is_idempotent())
        .map(|p| p.name.name.clone())
        .collect();
    assert_eq!(idempotent, ["GET_PERSON"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpcgen_builds_a_c_client_from_the_printed_x_that_calls_the_rust_service() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let x_file = tmp.join(format!("person_list-{}.x", std::process::id()));
    std::fs::write(&x_file, person_list::idl()).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interface_c/build.sh");
    let peers = courier_test_support::build_c_peers(&script, &[&x_file], tmp, "interface-c");
    for proto in ["tcp", "udp"] {
        let server = Server::builder().add_service(person_list::Dispatcher::new(People::default())).build();
        let listening = server.listen(&format!("{proto}://127.0.0.1:0").parse().unwrap()).await.unwrap();
        let (Endpoint::Tcp(addr) | Endpoint::Udp(addr)) = *listening.endpoint() else { unreachable!("an IP endpoint") };
        let client = peers.join("personlist_client");
        let out =
            tokio::task::spawn_blocking(move || courier_test_support::run_c_client(&client, proto, addr.port(), &[]))
                .await
                .unwrap();
        assert_eq!(
            out, "add=1\nadd=2\nget=ada 36 ada@example.org,countess@example.org\nget=none\nsum=13 product=42\n",
            "over {proto}"
        );
    }
}
