//! The name registry — the RMI seed's binder: a service that maps textual names to
//! remote object references, so a client can find an object by name. Every courier node
//! serves it (`courier serve`); `courier lookup` and `courier ls --objects` query it.
//!
//! It is ONC RPC program [`PROGRAM`] version [`VERSION`]:
//!
//! ```c
//! typedef string object_name<255>;
//! typedef object_ref *optional_ref;
//! struct binding { object_name name; object_ref reference; };
//! typedef binding bindings<>;
//! enum bind_status { BIND_OK = 0, BIND_TAKEN = 1, BIND_FULL = 2 };
//! program COURIER_REGISTRY {
//!     version COURIER_REGISTRY_V1 {
//!         bind_status BIND(object_name, object_ref) = 1;   /* fails if the name is bound */
//!         bind_status REBIND(object_name, object_ref) = 2; /* binds or replaces */
//!         bool UNBIND(object_name) = 3;                   /* whether it was bound */
//!         optional_ref LOOKUP(object_name) = 4;
//!         bindings LIST(void) = 5;                         /* sorted by name */
//!     } = 1;
//! } = 0x20435202;
//! ```
//!
//! The registry keeps at most a bounded number of names ([`Registry::new`]); past it,
//! binding a new name answers `BIND_FULL`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use courier_xdr::BoundedString;
use serde::{Deserialize, Serialize};

use super::ObjectRef;
use crate::rpc::{CallError, CallOptions, Client, ProcId, Procedures};
use crate::sync::lock;

/// The registry's program number ("C R" 02, next to courier's diagnostic program).
pub const PROGRAM: u32 = 0x2043_5202;
/// Its version.
pub const VERSION: u32 = 1;
/// BIND(name, ref): binds a free name.
pub const BIND: u32 = 1;
/// REBIND(name, ref): binds or replaces.
pub const REBIND: u32 = 2;
/// UNBIND(name): removes a binding.
pub const UNBIND: u32 = 3;
/// LOOKUP(name): the reference bound to a name, if any.
pub const LOOKUP: u32 = 4;
/// LIST(): every binding, sorted by name.
pub const LIST: u32 = 5;

/// The longest name.
pub const MAX_NAME: u32 = 255;

/// A registry name: at most [`MAX_NAME`] bytes of UTF-8.
pub type Name = BoundedString<MAX_NAME>;

/// What BIND and REBIND answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BindStatus {
    /// Bound.
    Ok,
    /// BIND only: the name is bound already.
    Taken,
    /// The registry holds as many names as it may.
    Full,
}

/// One binding, as LIST returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The name.
    pub name: Name,
    /// The reference bound to it.
    pub reference: ObjectRef,
}

/// The registry's table: names to references, bounded.
#[derive(Debug)]
pub struct Registry {
    max_names: usize,
    names: Mutex<BTreeMap<String, ObjectRef>>,
}

impl Registry {
    /// An empty registry that holds at most `max_names` names.
    pub fn new(max_names: usize) -> Arc<Registry> {
        Arc::new(Registry { max_names, names: Mutex::new(BTreeMap::new()) })
    }

    fn names(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ObjectRef>> {
        lock(&self.names)
    }

    /// Binds `name` to `reference`; with `replace`, a bound name is rebound.
    pub fn bind(&self, name: &str, reference: ObjectRef, replace: bool) -> BindStatus {
        let mut names = self.names();
        let full = names.len() >= self.max_names;
        match names.get_mut(name) {
            Some(_) if !replace => BindStatus::Taken,
            Some(bound) => {
                *bound = reference;
                BindStatus::Ok
            }
            None if full => BindStatus::Full,
            None => {
                names.insert(name.to_owned(), reference);
                BindStatus::Ok
            }
        }
    }

    /// Removes `name`; whether it was bound.
    pub fn unbind(&self, name: &str) -> bool {
        self.names().remove(name).is_some()
    }

    /// The reference bound to `name`.
    pub fn lookup(&self, name: &str) -> Option<ObjectRef> {
        self.names().get(name).copied()
    }

    /// Every binding, sorted by name.
    pub fn list(&self) -> Vec<(String, ObjectRef)> {
        self.names().iter().map(|(name, reference)| (name.clone(), *reference)).collect()
    }

    /// The registry as an ONC RPC service, to register as [`PROGRAM`] [`VERSION`].
    pub fn service(self: &Arc<Self>) -> Procedures {
        let (bind, rebind, unbind, lookup, list) =
            (self.clone(), self.clone(), self.clone(), self.clone(), self.clone());
        Procedures::new()
            .typed(BIND, move |(name, reference): (Name, ObjectRef)| {
                let status = bind.bind(&name, reference, false);
                async move { status }
            })
            .typed(REBIND, move |(name, reference): (Name, ObjectRef)| {
                let status = rebind.bind(&name, reference, true);
                async move { status }
            })
            .typed(UNBIND, move |name: Name| {
                let was = unbind.unbind(&name);
                async move { was }
            })
            .typed(LOOKUP, move |name: Name| {
                let found = lookup.lookup(&name);
                async move { found }
            })
            .typed(LIST, move |()| {
                let all: Vec<Binding> = list
                    .list()
                    .into_iter()
                    .filter_map(|(name, reference)| Some(Binding { name: Name::new(name).ok()?, reference }))
                    .collect();
                async move { all }
            })
    }
}

/// A client of a node's registry.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    client: Client,
}

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The call failed.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The name is longer than [`MAX_NAME`] bytes.
    #[error("a registry name is at most {MAX_NAME} bytes")]
    NameTooLong,
}

fn name(text: &str) -> Result<Name, RegistryError> {
    Name::new(text).map_err(|_| RegistryError::NameTooLong)
}

impl RegistryClient {
    /// A registry client over `client` (connected to a node).
    pub fn new(client: Client) -> Self {
        RegistryClient { client }
    }

    async fn call<A: Serialize, R: serde::de::DeserializeOwned>(
        &self,
        proc: u32,
        args: &A,
    ) -> Result<R, RegistryError> {
        // Looking up, listing and rebinding may run twice to the same effect and answer.
        let idempotent = matches!(proc, LOOKUP | LIST | REBIND);
        let call = ProcId { prog: PROGRAM, vers: VERSION, proc };
        Ok(self.client.call_with(call, args, &CallOptions::idempotent(idempotent)).await?)
    }

    /// Binds a free name.
    pub async fn bind(&self, text: &str, reference: &ObjectRef) -> Result<BindStatus, RegistryError> {
        self.call(BIND, &(name(text)?, reference)).await
    }

    /// Binds a name, replacing what it was bound to.
    pub async fn rebind(&self, text: &str, reference: &ObjectRef) -> Result<BindStatus, RegistryError> {
        self.call(REBIND, &(name(text)?, reference)).await
    }

    /// Removes a name; whether it was bound.
    pub async fn unbind(&self, text: &str) -> Result<bool, RegistryError> {
        self.call(UNBIND, &name(text)?).await
    }

    /// The reference bound to a name.
    pub async fn lookup(&self, text: &str) -> Result<Option<ObjectRef>, RegistryError> {
        self.call(LOOKUP, &name(text)?).await
    }

    /// Every binding, sorted by name.
    pub async fn list(&self) -> Result<Vec<Binding>, RegistryError> {
        self.call(LIST, &()).await
    }
}

#[cfg(test)]
mod tests {
    /// The `.x` text in this module's documentation is what courier-idl (and so rpcgen)
    /// accepts, with `object_ref` as `ObjectRef` describes itself.
    #[test]
    fn the_documented_interface_is_valid_rpc_language() {
        use courier_xdr::schema::{XdrDefinitions, XdrType};
        let mut defs = XdrDefinitions::new();
        super::ObjectRef::xdr_type_name(&mut defs);
        let doc = crate::documented::rpc_language(include_str!("registry.rs"));
        assert!(doc.contains("program COURIER_REGISTRY"), "{doc}");
        let x = format!("{}{doc}", defs.to_text());
        let source = courier_idl::Source::from_text("registry.x", &x);
        courier_idl::check_source(&source).unwrap_or_else(|e| panic!("{e}\n{x}"));
    }
}
