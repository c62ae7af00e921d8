//! The RPC-language description of Rust types, so that an interface written in Rust can
//! be printed as a `.x` file for rpcgen and C programs.
//!
//! [`XdrType`] says how a type is declared in the RPC language; [`XdrDefinitions`]
//! collects the definitions (structs, enums, unions, typedefs) the declarations need, each
//! once, in an order where every definition comes after what it uses. It is implemented
//! here for the built-in types and courier's XDR wrappers, by `xdr_enum!` and
//! `xdr_union!`, and derived for structs and enums with `#[derive(courier::XdrType)]`.

use crate::{BoundedString, BoundedVec, FixedArray, FixedOpaque, Opaque, OptionalList};

/// A Rust type's description in the RPC language.
pub trait XdrType {
    /// Declares a field or arm called `name` of this type (`int count`,
    /// `string name<64>`, `person *next`), adding the definitions it needs to `defs`.
    fn xdr_declaration(name: &str, defs: &mut XdrDefinitions) -> String;

    /// A type specifier that stands alone, as procedure arguments and results do: the
    /// type's name, or a typedef made for it when it is an array, a string or optional.
    fn xdr_type_name(defs: &mut XdrDefinitions) -> String {
        let declaration = Self::xdr_declaration("x", defs);
        match declaration.strip_suffix(" x") {
            Some(spec) if !spec.contains(['<', '[', '*']) => spec.to_owned(),
            _ => {
                let alias = alias_name(std::any::type_name::<Self>());
                defs.define(&alias, |defs| format!("typedef {};", Self::xdr_declaration(&alias, defs)));
                alias
            }
        }
    }
}

/// A discriminant of a union, printed as a `case` label.
pub trait XdrCase {
    /// The label: a number, `TRUE`/`FALSE`, or an enum variant's name.
    fn xdr_case(&self) -> String;
}

/// The definitions an interface needs, in dependency order.
#[derive(Debug, Default, Clone)]
pub struct XdrDefinitions {
    items: Vec<(String, Option<String>)>,
}

impl XdrDefinitions {
    /// No definitions yet.
    pub fn new() -> Self {
        XdrDefinitions::default()
    }

    /// Defines `name` with the text `define` makes, unless it is defined already (or
    /// being defined: a recursive type refers to itself by name).
    pub fn define(&mut self, name: &str, define: impl FnOnce(&mut Self) -> String) {
        if self.items.iter().any(|(n, _)| n == name) {
            return;
        }
        let at = self.items.len();
        self.items.push((name.to_owned(), None));
        let text = define(self);
        // Move the definition after the ones it pulled in, so that each follows its uses'
        // definitions (rpcgen's C needs that order).
        self.items.remove(at);
        self.items.push((name.to_owned(), Some(text)));
    }

    /// The definitions, one after another, separated by blank lines.
    pub fn to_text(&self) -> String {
        self.items.iter().filter_map(|(_, t)| t.as_deref()).map(|t| format!("{t}\n\n")).collect()
    }
}

/// A name for a typedef of a Rust type: `alloc::vec::Vec<i32>` becomes `vec_i32`
/// (`string_t` for `String`: names must not be keywords).
pub fn alias_name(rust: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    for c in rust.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c.to_ascii_lowercase());
        } else if c == ':' {
            word.clear();
        } else if !word.is_empty() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push_str(&word);
            word.clear();
        }
    }
    match out.as_str() {
        "string" | "opaque" | "bool" | "int" | "hyper" | "float" | "double" | "void" | "enum" | "struct" | "union" => {
            out + "_t"
        }
        _ => out,
    }
}

/// `SHOUTY_SNAKE_CASE` of an `UpperCamelCase` name, for enum variants in the RPC
/// language, where they are global constants: `Color` and `DarkRed` give `COLOR_DARK_RED`.
#[doc(hidden)]
pub fn variant_label(enum_name: &str, variant: &str) -> String {
    let mut out = String::new();
    for (i, part) in [enum_name, variant].iter().enumerate() {
        if i > 0 {
            out.push('_');
        }
        let mut prev_lower = false;
        for c in part.chars() {
            if c.is_ascii_uppercase() && prev_lower {
                out.push('_');
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            out.push(c.to_ascii_uppercase());
        }
    }
    out
}

macro_rules! base {
    ($($t:ty => $x:expr),*) => {$(
        impl XdrType for $t {
            fn xdr_declaration(name: &str, _: &mut XdrDefinitions) -> String {
                format!("{} {name}", $x)
            }
        }
    )*};
}

base!(i8 => "char", u8 => "unsigned char", i16 => "int", u16 => "unsigned int", i32 => "int", u32 => "unsigned int",
      i64 => "hyper", u64 => "unsigned hyper", f32 => "float", f64 => "double", bool => "bool");

macro_rules! numeric_case {
    ($($t:ty),*) => {$(
        impl XdrCase for $t {
            fn xdr_case(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

numeric_case!(i32, u32);

impl XdrCase for bool {
    fn xdr_case(&self) -> String {
        if *self { "TRUE" } else { "FALSE" }.to_owned()
    }
}

impl XdrType for () {
    fn xdr_declaration(_name: &str, _: &mut XdrDefinitions) -> String {
        "void".to_owned()
    }

    fn xdr_type_name(_: &mut XdrDefinitions) -> String {
        "void".to_owned()
    }
}

impl XdrType for String {
    fn xdr_declaration(name: &str, _: &mut XdrDefinitions) -> String {
        format!("string {name}<>")
    }
}

impl<const MAX: u32> XdrType for BoundedString<MAX> {
    fn xdr_declaration(name: &str, _: &mut XdrDefinitions) -> String {
        format!("string {name}<{MAX}>")
    }
}

impl<const MAX: u32> XdrType for Opaque<MAX> {
    fn xdr_declaration(name: &str, _: &mut XdrDefinitions) -> String {
        if MAX == u32::MAX {
            format!("opaque {name}<>")
        } else {
            format!("opaque {name}<{MAX}>")
        }
    }
}

impl<const N: usize> XdrType for FixedOpaque<N> {
    fn xdr_declaration(name: &str, _: &mut XdrDefinitions) -> String {
        format!("opaque {name}[{N}]")
    }
}

impl<T: XdrType> XdrType for Box<T> {
    fn xdr_declaration(name: &str, defs: &mut XdrDefinitions) -> String {
        T::xdr_declaration(name, defs)
    }

    fn xdr_type_name(defs: &mut XdrDefinitions) -> String {
        T::xdr_type_name(defs)
    }
}

impl<T: XdrType> XdrType for Option<T> {
    fn xdr_declaration(name: &str, defs: &mut XdrDefinitions) -> String {
        format!("{} *{name}", T::xdr_type_name(defs))
    }
}

impl<T: XdrType> XdrType for Vec<T> {
    fn xdr_declaration(name: &str, defs: &mut XdrDefinitions) -> String {
        format!("{} {name}<>", T::xdr_type_name(defs))
    }
}

impl<T: XdrType, const MAX: u32> XdrType for BoundedVec<T, MAX> {
    fn xdr_declaration(name: &str, defs: &mut XdrDefinitions) -> String {
        format!("{} {name}<{MAX}>", T::xdr_type_name(defs))
    }
}

impl<T: XdrType, const N: usize> XdrType for [T; N] {
    fn xdr_declaration(name: &str, defs: &mut XdrDefinitions) -> String {
        format!("{} {name}[{N}]", T::xdr_type_name(defs))
    }
}

impl<T: XdrType, const N: usize> XdrType for FixedArray<T, N> {
    fn xdr_declaration(name: &str, defs: &mut XdrDefinitions) -> String {
        <[T; N]>::xdr_declaration(name, defs)
    }
}

impl<T: XdrType> XdrType for OptionalList<T> {
    /// `struct T_node { T value; T_node *next; }` and a pointer to it: the same bytes.
    fn xdr_declaration(name: &str, defs: &mut XdrDefinitions) -> String {
        let node = format!("{}_node", alias_name(std::any::type_name::<T>()));
        defs.define(&node, |defs| {
            format!("struct {node} {{\n    {};\n    {node} *next;\n}};", T::xdr_declaration("value", defs))
        });
        format!("{node} *{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_follow_the_rpc_language() {
        let mut defs = XdrDefinitions::new();
        assert_eq!(u32::xdr_declaration("n", &mut defs), "unsigned int n");
        assert_eq!(Vec::<i64>::xdr_declaration("v", &mut defs), "hyper v<>");
        assert_eq!(Option::<Box<f64>>::xdr_declaration("p", &mut defs), "double *p");
        assert_eq!(BoundedString::<8>::xdr_declaration("s", &mut defs), "string s<8>");
        assert_eq!(Opaque::<{ u32::MAX }>::xdr_declaration("o", &mut defs), "opaque o<>");
        assert_eq!(<[u32; 3]>::xdr_declaration("a", &mut defs), "unsigned int a[3]");
        assert!(defs.to_text().is_empty());
        assert_eq!(Vec::<String>::xdr_declaration("names", &mut defs), "string_t names<>");
        assert_eq!(Vec::<Vec<i32>>::xdr_type_name(&mut defs), "vec_vec_i32");
        assert_eq!(
            defs.to_text(),
            "typedef string string_t<>;\n\ntypedef int vec_i32<>;\n\ntypedef vec_i32 vec_vec_i32<>;\n\n"
        );
    }

    #[test]
    fn optional_lists_are_linked_nodes() {
        let mut defs = XdrDefinitions::new();
        assert_eq!(OptionalList::<u32>::xdr_declaration("list", &mut defs), "u32_node *list");
        assert_eq!(defs.to_text(), "struct u32_node {\n    unsigned int value;\n    u32_node *next;\n};\n\n");
    }
}
