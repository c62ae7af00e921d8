//! Procedural macros of courier: a Rust trait as an ONC RPC interface, and Rust types
//! described in the RPC language.
//!
//! - `#[courier::interface(program = N, version = V)]` on a trait of `async fn`s
//!   generates what courier-idl generates from a `.x` program version — a typed
//!   `Client`, a `Dispatcher` serving any implementation, the procedure numbers — and
//!   `idl()`, the equivalent `.x` text, so a C programmer can run rpcgen on it.
//! - `#[derive(courier::XdrType)]` describes a struct or enum in the RPC language (the
//!   derive that `idl()` needs for the types an interface uses).
//!
//! Both are re-exported by the `courier` crate; use them from there.

use courier_idl::glue;
use heck::{ToShoutySnakeCase, ToSnakeCase};
use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, ToTokens};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, Fields, FnArg, ItemTrait, Pat, ReturnType, Token, TraitItem, Type};

/// Describes a struct (named fields) or an enum in the RPC language, for
/// `courier::xdr::XdrType`. An enum without data is an XDR `enum` numbered 0, 1, 2 …; an
/// enum whose variants hold one value (or none) is a union on an `unsigned int` numbered
/// the same way — exactly how courier encodes a serde-derived enum.
#[proc_macro_derive(XdrType)]
pub fn derive_xdr_type(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    match xdr_type(&input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn xdr_type(input: &DeriveInput) -> syn::Result<TokenStream2> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(input.generics.span(), "XdrType cannot be derived for generic types"));
    }
    let name = &input.ident;
    let text_name = name.to_string();
    let body = match &input.data {
        Data::Struct(s) => {
            let Fields::Named(fields) = &s.fields else {
                return Err(syn::Error::new(s.fields.span(), "XdrType needs a struct with named fields"));
            };
            let lines = fields.named.iter().map(|f| {
                let ty = &f.ty;
                let field = f.ident.as_ref().map(|i| i.to_string()).unwrap_or_default();
                let field = field.trim_start_matches("r#").to_owned();
                quote! { text.push_str(&format!("    {};\n", <#ty as ::courier::xdr::XdrType>::xdr_declaration(#field, defs))); }
            });
            quote! {
                let mut text = format!("struct {} {{\n", #text_name);
                #(#lines)*
                text.push_str("};");
                text
            }
        }
        Data::Enum(e) => {
            let unit_only = e.variants.iter().all(|v| matches!(v.fields, Fields::Unit));
            if unit_only {
                let variants = e.variants.iter().enumerate().map(|(i, v)| {
                    let label = format!("{}_{}", text_name, v.ident).to_shouty_snake_case();
                    format!("    {label} = {i}")
                });
                let text = format!("enum {text_name} {{\n{}\n}};", variants.collect::<Vec<_>>().join(",\n"));
                quote! { let _ = defs; #text.to_owned() }
            } else {
                let mut arms = Vec::new();
                for (i, v) in e.variants.iter().enumerate() {
                    let field = v.ident.to_string().to_snake_case();
                    match &v.fields {
                        Fields::Unit => arms.push(quote! { text.push_str(&format!("case {}:\n    void;\n", #i)); }),
                        Fields::Unnamed(f) if f.unnamed.len() == 1 => {
                            let ty = &f.unnamed[0].ty;
                            arms.push(quote! {
                                text.push_str(&format!("case {}:\n    {};\n", #i, <#ty as ::courier::xdr::XdrType>::xdr_declaration(#field, defs)));
                            });
                        }
                        other => {
                            return Err(syn::Error::new(
                                other.span(),
                                "XdrType: each variant holds one value or none (a union arm)",
                            ))
                        }
                    }
                }
                quote! {
                    let mut text = format!("union {} switch (unsigned int discriminant) {{\n", #text_name);
                    #(#arms)*
                    text.push_str("};");
                    text
                }
            }
        }
        Data::Union(u) => return Err(syn::Error::new(u.union_token.span, "XdrType cannot be derived for Rust unions")),
    };
    Ok(quote! {
        impl ::courier::xdr::XdrType for #name {
            fn xdr_declaration(name: &str, defs: &mut ::courier::xdr::XdrDefinitions) -> String {
                defs.define(#text_name, |defs| { #body });
                format!("{} {}", #text_name, name)
            }
        }
    })
}

/// Turns a trait into an ONC RPC interface (program `program`, version `version`).
///
/// ```ignore
/// #[courier::interface(program = 0x2000_5050, version = 1)]
/// pub trait PersonList {
///     /// Adds a person; returns how many there are.
///     async fn add_person(&self, person: Person) -> u32;
///     /// Several inputs are the call's arguments; several outputs, the result's fields.
///     async fn sum_and_product(&self, a: i32, b: i32) -> (i32, i32);
/// }
/// ```
///
/// Each method is a procedure, numbered 1, 2, 3 … in order (`#[courier(proc = 7)]`
/// chooses the number; `#[courier(idempotent)]` declares that running it twice does no
/// harm, so clients call it at-least-once, without a history of replies). A method returns its result, or `Result<T, E>` where
/// `E: Into<courier::rpc::Fault>` to answer an RPC error. The trait's `async fn`s become
/// `fn … -> impl Future + Send`, which an implementation writes as `async fn`. Beside the
/// trait, a module named after it (`person_list`) holds `PROGRAM`, `VERSION`, a constant
/// per procedure, `Client`, `Dispatcher` and `idl()`, the interface as a `.x` file.
#[proc_macro_attribute]
pub fn interface(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = match Punctuated::<syn::MetaNameValue, Token![,]>::parse_terminated.parse(args) {
        Ok(args) => args,
        Err(e) => return e.to_compile_error().into(),
    };
    let item = syn::parse_macro_input!(item as ItemTrait);
    match interface_impl(args, item) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

struct Method {
    name: syn::Ident,
    number: Expr,
    args: Vec<(syn::Ident, Type)>,
    /// The value type of the result, and whether the method returns `Result<_, E>`.
    output: Type,
    fallible: bool,
    docs: Vec<syn::Attribute>,
    /// Declared `#[courier(idempotent)]`.
    idempotent: bool,
}

fn interface_impl(args: Punctuated<syn::MetaNameValue, Token![,]>, mut item: ItemTrait) -> syn::Result<TokenStream2> {
    let mut program = None;
    let mut version = None;
    let mut objects = false;
    let mut errors: Option<syn::Error> = None;
    let mut push = |e: syn::Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };
    for arg in &args {
        if arg.path.is_ident("program") {
            program = Some(arg.value.clone());
        } else if arg.path.is_ident("version") {
            version = Some(arg.value.clone());
        } else if arg.path.is_ident("objects") {
            match &arg.value {
                Expr::Lit(syn::ExprLit { lit: syn::Lit::Bool(b), .. }) => objects = b.value,
                other => push(syn::Error::new(other.span(), "expected `objects = true` or `objects = false`")),
            }
        } else {
            push(syn::Error::new(arg.path.span(), "expected `program = …`, `version = …` or `objects = true`"));
        }
    }
    if program.is_none() || version.is_none() {
        push(syn::Error::new(Span::call_site(), "#[courier::interface] needs `program = NUMBER, version = NUMBER`"));
    }
    let mut methods = Vec::new();
    let mut next = 1u32;
    for trait_item in &mut item.items {
        let TraitItem::Fn(f) = trait_item else {
            push(syn::Error::new(trait_item.span(), "an interface holds only `async fn` procedures"));
            continue;
        };
        let mut number: Expr = syn::parse_quote!(#next);
        let mut idempotent = false;
        let mut docs = Vec::new();
        let mut kept = Vec::new();
        for attr in f.attrs.drain(..) {
            if attr.path().is_ident("courier") {
                let parsed = attr.parse_args_with(Punctuated::<syn::Meta, Token![,]>::parse_terminated);
                match parsed {
                    Ok(list) => {
                        for meta in list {
                            match meta {
                                syn::Meta::NameValue(nv) if nv.path.is_ident("proc") => number = nv.value,
                                syn::Meta::Path(path) if path.is_ident("idempotent") => idempotent = true,
                                other => {
                                    push(syn::Error::new(other.span(), "expected `proc = NUMBER` or `idempotent`"))
                                }
                            }
                        }
                    }
                    Err(e) => push(e),
                }
                continue;
            }
            if attr.path().is_ident("doc") {
                docs.push(attr.clone());
            }
            kept.push(attr);
        }
        f.attrs = kept;
        next += 1;
        if f.sig.asyncness.is_none() {
            push(syn::Error::new(f.sig.fn_token.span, "interface procedures are `async fn`"));
            continue;
        }
        let mut inputs = f.sig.inputs.iter();
        if !matches!(inputs.next(), Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none()) {
            push(syn::Error::new(f.sig.inputs.span(), "a procedure takes `&self` first"));
            continue;
        }
        let mut args = Vec::new();
        for input in inputs {
            match input {
                FnArg::Typed(pt) => match &*pt.pat {
                    Pat::Ident(id) => args.push((id.ident.clone(), (*pt.ty).clone())),
                    other => push(syn::Error::new(other.span(), "name each argument with a plain identifier")),
                },
                FnArg::Receiver(r) => push(syn::Error::new(r.span(), "unexpected receiver")),
            }
        }
        let ret: Type = match &f.sig.output {
            ReturnType::Default => syn::parse_quote!(()),
            ReturnType::Type(_, ty) => (**ty).clone(),
        };
        let (output, fallible) = match result_ok_type(&ret) {
            Some(ok) => (ok, true),
            None => (ret.clone(), false),
        };
        // `async fn` → `fn … -> impl Future<Output = …> + Send`, so that dispatching can
        // spawn the future.
        f.sig.asyncness = None;
        f.sig.output = syn::parse_quote!(-> impl ::core::future::Future<Output = #ret> + Send);
        methods.push(Method { name: f.sig.ident.clone(), number, args, output, fallible, docs, idempotent });
    }
    if let Some(e) = errors {
        return Err(e);
    }
    let (Some(program), Some(version)) = (program, version) else { unreachable!("checked above") };
    item.supertraits.push(syn::parse_quote!(Send));
    item.supertraits.push(syn::parse_quote!(Sync));
    item.supertraits.push(syn::parse_quote!('static));
    let trait_name = &item.ident;
    let module = format_ident!("{}", trait_name.to_string().to_snake_case());
    let program_name = trait_name.to_string().to_shouty_snake_case();
    let vis = &item.vis;

    let procedures = methods
        .iter()
        .map(|m| {
            let docs = &m.docs;
            let output = &m.output;
            glue::Procedure {
                method: m.name.clone(),
                number_const: format_ident!("{}", m.name.to_string().to_shouty_snake_case()),
                number: m.number.to_token_stream(),
                docs: quote! { #(#docs)* },
                args: m.args.iter().map(|(n, t)| (n.clone(), t.to_token_stream())).collect(),
                result: quote! { #output },
                void: matches!(output, Type::Tuple(t) if t.elems.is_empty()),
                served: true,
                failure: if m.fallible { glue::Failure::Into } else { glue::Failure::Never },
                idempotent: m.idempotent,
            }
        })
        .collect();
    let items = glue::items(&glue::Glue {
        program: program.to_token_stream(),
        version: version.to_token_stream(),
        procedures,
        service: quote! { super::#trait_name },
        passes_call: false,
        objects,
    });
    let idl_procs = methods.iter().map(|m| {
        let proc_name = m.name.to_string().to_shouty_snake_case();
        let c = format_ident!("{}", proc_name);
        let result = match &m.output {
            Type::Tuple(t) if t.elems.is_empty() => quote! { "void".to_owned() },
            Type::Tuple(t) => {
                let struct_name = format!("{}_result", m.name.to_string().to_snake_case());
                let fields = t.elems.iter().enumerate().map(|(i, ty)| {
                    let field = format!("field{i}");
                    quote! { text.push_str(&format!("    {};\n", <#ty as ::courier::xdr::XdrType>::xdr_declaration(#field, defs))); }
                });
                quote! {{
                    defs.define(#struct_name, |defs| {
                        let mut text = format!("struct {} {{\n", #struct_name);
                        #(#fields)*
                        text.push_str("};");
                        text
                    });
                    #struct_name.to_owned()
                }}
            }
            ty => quote! { <#ty as ::courier::xdr::XdrType>::xdr_type_name(defs) },
        };
        let args: Vec<_> = m.args.iter().map(|(_, ty)| quote! { <#ty as ::courier::xdr::XdrType>::xdr_type_name(defs) }).collect();
        let args = match (objects, args.is_empty()) {
            // A remote object's procedures take its key first, and answer a status first.
            (true, _) => quote! { [<::courier::object::ObjectKey as ::courier::xdr::XdrType>::xdr_type_name(defs) #(, #args)*].join(", ") },
            (false, true) => quote! { "void".to_owned() },
            (false, false) => quote! { [#(#args),*].join(", ") },
        };
        let result = if objects {
            let reply = format!("{module}_{}_reply", m.name.to_string().to_snake_case());
            quote! {{
                let results: String = #result;
                ::courier::object::table::idl_reply(defs, #reply, &results)
            }}
        } else {
            result
        };
        // The annotation travels to the `.x` text as a comment rpcgen ignores.
        let note = if m.idempotent { format!("        /* {} */\n", courier_idl::ast::IDEMPOTENT) } else { String::new() };
        quote! {{
            let result: String = #result;
            let args: String = #args;
            procs.push_str(#note);
            procs.push_str(&format!("        {} {}({}) = {};\n", result, #proc_name, args, #c));
        }}
    });
    let module_doc = format!("The ONC RPC face of [`{trait_name}`]: its client, dispatcher and `.x` text.");
    Ok(quote! {
        #item

        #[doc = #module_doc]
        #vis mod #module {
            #[allow(unused_imports)]
            use super::*;

            #items

            /// The interface in the RPC language: a `.x` file for rpcgen.
            pub fn idl() -> String {
                let defs = &mut ::courier::xdr::XdrDefinitions::new();
                let mut procs = String::new();
                #(#idl_procs)*
                format!(
                    "{}program {} {{\n    version {}_V{} {{\n{}    }} = {};\n}} = {:#x};\n",
                    defs.to_text(), #program_name, #program_name, VERSION, procs, VERSION, PROGRAM
                )
            }
        }
    })
}

/// `T` when `ty` is `Result<T, E>`.
fn result_ok_type(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    match args.args.first()? {
        syn::GenericArgument::Type(t) if args.args.len() == 2 => Some(t.clone()),
        _ => None,
    }
}
