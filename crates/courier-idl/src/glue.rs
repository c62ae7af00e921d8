//! The RPC glue of one program version — its numbers, a typed client and a dispatcher —
//! shared by the `.x` compiler ([`crate::rust`]) and `#[courier::interface]`
//! (courier-macros), so that an interface written either way becomes the same code.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

/// How a service method reports failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// It returns its result; it cannot fail.
    Never,
    /// It returns `Result<T, Fault>`.
    Fault,
    /// It returns `Result<T, E>` with `E: Into<Fault>`.
    Into,
}

/// One procedure.
pub struct Procedure {
    /// The method name, in the client and the service trait.
    pub method: Ident,
    /// The constant holding the procedure number.
    pub number_const: Ident,
    /// The procedure number (an expression).
    pub number: TokenStream,
    /// Doc attributes.
    pub docs: TokenStream,
    /// The arguments: names and types, as seen inside the generated module.
    pub args: Vec<(Ident, TokenStream)>,
    /// The result type (`()` for `void`).
    pub result: TokenStream,
    /// Whether the result is `void`.
    pub void: bool,
    /// Whether the dispatcher calls the service for it (NULL is answered by the server).
    pub served: bool,
    /// How the service method fails.
    pub failure: Failure,
    /// Declared idempotent: the client calls it at-least-once unless told otherwise.
    pub idempotent: bool,
}

/// A program version.
pub struct Glue {
    /// The program number (an expression).
    pub program: TokenStream,
    /// The version number (an expression).
    pub version: TokenStream,
    /// The procedures.
    pub procedures: Vec<Procedure>,
    /// The trait the dispatcher serves, as seen inside the generated module.
    pub service: TokenStream,
    /// Whether service methods take the `&Call` first.
    pub passes_call: bool,
    /// A remote object interface: many objects share the program version, each call
    /// names its object with a key (see `courier::object`). The module then has a typed
    /// `Proxy` for one object instead of a `Client`, and `export`/`dispatcher` helpers.
    pub objects: bool,
}

/// The items of the version's module: `PROGRAM`, `VERSION`, a constant per procedure,
/// `Client` and `Dispatcher`.
pub fn items(glue: &Glue) -> TokenStream {
    let Glue { program, version, service, .. } = glue;
    let consts = glue.procedures.iter().map(|p| {
        let (docs, name, number) = (&p.docs, &p.number_const, &p.number);
        quote! { #docs pub const #name: u32 = #number; }
    });
    let mut client_methods: Vec<TokenStream> = glue.procedures.iter().map(client_method).collect();
    if !glue.objects && !glue.procedures.iter().any(|p| p.method == "null") {
        client_methods.insert(
            0,
            quote! {
                /// Calls procedure 0 (NULL), which every server answers: the classic ping.
                pub async fn null(&self) -> Result<(), ::courier::rpc::CallError> {
                    self.0.null(PROGRAM, VERSION).await
                }
            },
        );
    }
    let arms: Vec<TokenStream> = glue.procedures.iter().filter(|p| p.served).map(|p| dispatch_arm(glue, p)).collect();
    let dispatch_body = if arms.is_empty() {
        quote! { let _ = call; Box::pin(async { Err(::courier::rpc::Fault::ProcUnavail) }) }
    } else {
        quote! {
            let service = self.0.clone();
            Box::pin(async move {
                match call.header.proc {
                    #(#arms)*
                    _ => Err(::courier::rpc::Fault::ProcUnavail),
                }
            })
        }
    };
    let caller = if glue.objects { proxy(glue) } else { client(&client_methods) };
    quote! {
        /// The program number.
        pub const PROGRAM: u32 = #program;
        /// The version number.
        pub const VERSION: u32 = #version;
        #(#consts)*

        #caller

        /// Serves an implementation of the service as this program version: register it
        /// with `courier::rpc::ServerBuilder::add_service`.
        #[derive(Debug)]
        pub struct Dispatcher<T>(pub ::std::sync::Arc<T>);

        impl<T: #service> Dispatcher<T> {
            /// A dispatcher for `service`.
            pub fn new(service: T) -> Self {
                Dispatcher(::std::sync::Arc::new(service))
            }
        }

        impl<T: #service> ::courier::rpc::ProgramVersion for Dispatcher<T> {
            const PROGRAM: u32 = PROGRAM;
            const VERSION: u32 = VERSION;
        }

        impl<T: #service> ::courier::rpc::Service for Dispatcher<T> {
            fn call(&self, call: ::courier::rpc::Call) -> ::courier::rpc::server::BoxFuture<::courier::rpc::Outcome> {
                #dispatch_body
            }
        }
    }
}

/// The typed client of a program version.
fn client(methods: &[TokenStream]) -> TokenStream {
    quote! {
        /// A typed client: one method per procedure.
        #[derive(Debug, Clone)]
        pub struct Client(pub ::courier::rpc::Client);

        impl Client {
            /// Wraps a connected courier client.
            pub fn new(client: ::courier::rpc::Client) -> Self {
                Client(client)
            }

            /// Connects to a server of this program version.
            pub async fn connect(endpoint: &::courier::transport::Endpoint, config: ::courier::rpc::ClientConfig) -> ::std::io::Result<Self> {
                Ok(Client(::courier::rpc::Client::connect(endpoint, config).await?))
            }

            #(#methods)*
        }
    }
}

/// The typed proxy of a remote object interface, and the helpers that export servants.
fn proxy(glue: &Glue) -> TokenStream {
    let service = &glue.service;
    let methods = glue.procedures.iter().filter(|p| p.served).map(|p| {
        let Procedure { method, number_const, docs, result, idempotent, .. } = p;
        let (params, encoded) = caller_args(p);
        quote! {
            #docs
            pub async fn #method(&self, #params) -> Result<#result, ::courier::object::ObjectError> {
                self.0.invoke(#number_const, #encoded, &::courier::rpc::CallOptions::idempotent(#idempotent)).await
            }
        }
    });
    quote! {
        /// A typed proxy for one remote object of this interface: one method per
        /// procedure, each sending the object's key first.
        #[derive(Debug, Clone)]
        pub struct Proxy(pub ::courier::object::Proxy);

        impl Proxy {
            /// The proxy of `reference`, calling through `client` (connected to the
            /// reference's server).
            pub fn new(client: ::courier::rpc::Client, reference: ::courier::object::ObjectRef) -> Self {
                Proxy(::courier::object::Proxy::new(client, reference))
            }

            /// The proxy of `reference`, holding a lease on the object (at most `wanted`)
            /// while it or a clone of it lives: see `courier::object::lease`.
            pub async fn leased(client: ::courier::rpc::Client, reference: ::courier::object::ObjectRef, wanted: ::std::time::Duration) -> Result<Self, ::courier::rpc::CallError> {
                Ok(Proxy(::courier::object::Proxy::leased(client, reference, wanted).await?))
            }

            /// Connects to the reference's server over TCP and makes its proxy, holding
            /// a lease on the object (of the server's longest duration) while it lives.
            pub async fn connect(reference: ::courier::object::ObjectRef, config: ::courier::rpc::ClientConfig) -> Result<Self, ::courier::object::ObjectError> {
                let endpoint = ::courier::transport::Endpoint::Tcp(reference.addr);
                let client = ::courier::rpc::Client::connect(&endpoint, config).await.map_err(|source| {
                    ::courier::rpc::CallError::Io { peer: endpoint.to_string(), call: ::courier::rpc::ProcId { prog: PROGRAM, vers: VERSION, proc: 0 }, source }
                })?;
                Ok(Proxy::leased(client, reference, ::std::time::Duration::MAX).await?)
            }

            /// The object's reference.
            pub fn reference(&self) -> &::courier::object::ObjectRef {
                self.0.reference()
            }

            #(#methods)*
        }

        /// Exports `servant` in `table` as an object of this interface; returns its
        /// reference.
        pub fn export<T: #service>(table: &::courier::object::ObjectTable, servant: T) -> ::courier::object::ObjectRef {
            table.export(PROGRAM, VERSION, Dispatcher::new(servant))
        }

        /// Exports `servant` in `table` to be collected when no client holds a lease on
        /// it (see `courier::object::lease`); returns its reference.
        pub fn export_leased<T: #service>(table: &::std::sync::Arc<::courier::object::ObjectTable>, servant: T) -> ::courier::object::ObjectRef {
            table.export_leased(PROGRAM, VERSION, Dispatcher::new(servant))
        }

        /// The dispatcher of this interface's objects in `table`: register it with the
        /// server as `PROGRAM`, `VERSION`.
        pub fn dispatcher(table: &::std::sync::Arc<::courier::object::ObjectTable>) -> ::courier::object::ObjectDispatcher {
            table.dispatcher(PROGRAM, VERSION)
        }
    }
}

/// A caller's side of a procedure: the method's parameters (each argument by reference)
/// and the expression that encodes the arguments.
fn caller_args(p: &Procedure) -> (TokenStream, TokenStream) {
    let names: Vec<&Ident> = p.args.iter().map(|(n, _)| n).collect();
    let types: Vec<&TokenStream> = p.args.iter().map(|(_, t)| t).collect();
    // Several arguments travel one after another: as a tuple, the same bytes.
    let encoded = match names.len() {
        0 => quote! { &() },
        1 => quote! { #(#names)* },
        _ => quote! { &(#(#names),*) },
    };
    (quote! { #(#names: &#types),* }, encoded)
}

fn client_method(p: &Procedure) -> TokenStream {
    let Procedure { method, number_const, docs, result, .. } = p;
    let (params, encoded) = caller_args(p);
    // An idempotent procedure needs no history of replies: it is called at-least-once.
    let idempotent = p.idempotent;
    quote! {
        #docs
        pub async fn #method(&self, #params) -> Result<#result, ::courier::rpc::CallError> {
            let proc = ::courier::rpc::ProcId { prog: PROGRAM, vers: VERSION, proc: #number_const };
            self.0.call_with(proc, #encoded, &::courier::rpc::CallOptions::idempotent(#idempotent)).await
        }
    }
}

fn dispatch_arm(glue: &Glue, p: &Procedure) -> TokenStream {
    let Procedure { method, number_const, .. } = p;
    let names: Vec<&Ident> = p.args.iter().map(|(n, _)| n).collect();
    let types: Vec<&TokenStream> = p.args.iter().map(|(_, t)| t).collect();
    let decode = match names.len() {
        0 => quote! {},
        1 => quote! { let #(#names)*: #(#types)* = call.args()?; },
        _ => quote! { let (#(#names),*): (#(#types),*) = call.args()?; },
    };
    let call_arg = if glue.passes_call {
        quote! { &call, }
    } else {
        quote! {}
    };
    let invoke = quote! { service.#method(#call_arg #(#names),*).await };
    let value = match p.failure {
        Failure::Never => invoke,
        Failure::Fault => quote! { #invoke? },
        Failure::Into => quote! { #invoke.map_err(::core::convert::Into::<::courier::rpc::Fault>::into)? },
    };
    let respond = if p.void {
        quote! { #value; Ok(::courier::xdr::__private::Bytes::new()) }
    } else {
        quote! { let result = #value; ::courier::rpc::encode_results(&result) }
    };
    quote! {
        #number_const => {
            #decode
            #respond
        }
    }
}
