//! The RMI seed's example, on courier: a `PersonList` remote object with
//! `addPerson(in Person)` and `getPerson(in name, out Person)`, a server that exports it
//! and binds it by name in a node's registry, and a client that looks the name up and
//! calls the object through a typed proxy (holding a lease on it).
//!
//! ```text
//! courier serve                                          # a node: its registry at 127.0.0.1:7111
//! cargo run --example person_list -- server 127.0.0.1:7111
//! cargo run --example person_list -- client 127.0.0.1:7111 ada 36
//! cargo run --example person_list                        # all three in one process
//! ```
//!
//! `person_list::idl()` prints the interface as a `.x` file: a C client built from it
//! with rpcgen calls the same object by its key (see `tests/objects.rs`).

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use courier::object::{lease, ObjectTable, Registry, RegistryClient};
use courier::rpc::{Client, ClientConfig, Server};
use courier::transport::Endpoint;
use serde::{Deserialize, Serialize};

/// A person, passed by copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, courier::XdrType)]
pub struct Person {
    /// The name.
    pub name: String,
    /// The age.
    pub age: u32,
}

/// The seed's remote interface.
#[courier::interface(program = 0x2000_5051, version = 1, objects = true)]
pub trait PersonList {
    /// Adds a person; returns how many there are now.
    async fn add_person(&self, person: Person) -> u32;
    /// The person with this name, if there is one.
    #[courier(idempotent)]
    async fn get_person(&self, name: String) -> Option<Person>;
}

/// The servant: the list itself.
#[derive(Default)]
struct People(Mutex<Vec<Person>>);

impl PersonList for People {
    async fn add_person(&self, person: Person) -> u32 {
        let mut people = self.0.lock().unwrap_or_else(|e| e.into_inner());
        people.push(person);
        people.len() as u32
    }

    async fn get_person(&self, name: String) -> Option<Person> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|p| p.name == name).cloned()
    }
}

/// The name the server binds its object to.
const NAME: &str = "people";

/// Serves a PersonList object (and the lease program) on `addr`, and binds it in the
/// registry of `node`; returns the server's listening handle.
async fn server(addr: SocketAddr, node: &Endpoint) -> Result<courier::rpc::Listening, Box<dyn std::error::Error>> {
    let table = ObjectTable::new();
    let listening = Server::builder()
        .register(person_list::PROGRAM, person_list::VERSION, person_list::dispatcher(&table))
        .register(lease::PROGRAM, lease::VERSION, table.lease_service())
        .build()
        .listen(&Endpoint::Tcp(addr))
        .await?;
    let Endpoint::Tcp(bound) = listening.endpoint().clone() else { unreachable!("a TCP endpoint") };
    table.set_address(bound);
    let people = person_list::export(&table, People::default());
    let registry = RegistryClient::new(Client::connect(node, ClientConfig::default()).await?);
    registry.rebind(NAME, &people).await?;
    println!("server: {NAME} = {people}");
    Ok(listening)
}

/// Looks the list up in `node`'s registry, adds a person and reads it back.
async fn client(node: &Endpoint, name: &str, age: u32) -> Result<(u32, Option<Person>), Box<dyn std::error::Error>> {
    let registry = RegistryClient::new(Client::connect(node, ClientConfig::default()).await?);
    let reference = registry.lookup(NAME).await?.ok_or("`people` is not bound")?;
    let people = person_list::Proxy::connect(reference, ClientConfig::default()).await?;
    let count = people.add_person(&Person { name: name.to_owned(), age }).await?;
    let found = people.get_person(&name.to_owned()).await?;
    println!("client: {count} in the list; {name}: {found:?}");
    Ok((count, found))
}

/// A registry, the server and a client in one process.
async fn demo() -> Result<(u32, Option<Person>), Box<dyn std::error::Error>> {
    let names = Registry::new(16);
    let node = Server::builder()
        .register(courier::object::registry::PROGRAM, courier::object::registry::VERSION, names.service())
        .build()
        .listen(&"tcp://127.0.0.1:0".parse()?)
        .await?;
    let _server = server("127.0.0.1:0".parse()?, node.endpoint()).await?;
    client(node.endpoint(), "ada", 36).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let node = |i: usize| -> Result<Endpoint, Box<dyn std::error::Error>> {
        Ok(Endpoint::Tcp(args.get(i).map_or("127.0.0.1:7111", String::as_str).parse()?))
    };
    match args.first().map(String::as_str) {
        None => {
            demo().await?;
        }
        Some("server") => {
            let _listening = server("127.0.0.1:0".parse()?, &node(1)?).await?;
            tokio::signal::ctrl_c().await?;
        }
        Some("client") => {
            let name = args.get(2).map_or("ada", String::as_str);
            let age = args.get(3).map_or(Ok(36), |a| a.parse())?;
            client(&node(1)?, name, age).await?;
        }
        Some("idl") => print!("{}", person_list::idl()),
        Some(other) => return Err(format!("unknown mode {other}: server, client or idl").into()),
    }
    // Let a leased proxy's CLEAN go out before the runtime stops.
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_client_finds_the_list_by_name_and_calls_it() {
        let (count, found) = super::demo().await.unwrap();
        assert_eq!(count, 1);
        assert_eq!(found, Some(super::Person { name: "ada".into(), age: 36 }));
    }

    #[test]
    fn the_interface_prints_as_a_x_file() {
        let idl = super::person_list::idl();
        let source = courier_idl::Source::from_text("person_list.x", &idl);
        courier_idl::check_source(&source).unwrap_or_else(|e| panic!("{e}\n{idl}"));
        assert!(idl.contains("ADD_PERSON(object_key, Person) = 1;"), "{idl}");
    }
}
