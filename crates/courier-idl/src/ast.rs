//! The syntax tree of an RPC-language specification (RFC 5531 §12, RFC 4506 §6), as the
//! parser builds it: every name keeps its place in the source for diagnostics, and every
//! definition keeps the comment written just before it (its documentation).

use std::fmt;

/// A byte range in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The first byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// A name and where it was written.
#[derive(Debug, Clone, Eq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it stands in the source.
    pub span: Span,
}

impl PartialEq for Ident {
    /// Names compare by text alone: where they were written does not matter.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// A whole `.x` file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Specification {
    /// The definitions in order.
    pub definitions: Vec<Definition>,
    /// `#include "file.x"` lines: the file named and where the line stands. The loader
    /// reads these files too; other preprocessor lines and `%` pass-through lines are
    /// C-specific and ignored.
    pub includes: Vec<(String, Span)>,
}

/// One top-level definition with its documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    /// The comment just before the definition, without its comment markers.
    pub doc: Option<String>,
    /// What is defined.
    pub kind: DefinitionKind,
}

/// The kinds of definition.
#[derive(Debug, Clone, PartialEq)]
pub enum DefinitionKind {
    /// `const NAME = value;`
    Const(Ident, Value),
    /// rpcgen's `const NAME = "text";`: a string constant (no XDR type uses it).
    StringConst(Ident, String),
    /// `typedef declaration;`
    Typedef(Declaration),
    /// `enum NAME { … };`
    Enum(Ident, EnumBody),
    /// `struct NAME { … };`
    Struct(Ident, StructBody),
    /// `union NAME switch (…) { … };`
    Union(Ident, Box<UnionBody>),
    /// `program NAME { version … } = number;`
    Program(Program),
}

impl Definition {
    /// The name the definition introduces.
    pub fn name(&self) -> &Ident {
        match &self.kind {
            DefinitionKind::Const(name, _)
            | DefinitionKind::StringConst(name, _)
            | DefinitionKind::Enum(name, _)
            | DefinitionKind::Struct(name, _)
            | DefinitionKind::Union(name, _) => name,
            DefinitionKind::Typedef(decl) => &decl.name,
            DefinitionKind::Program(p) => &p.name,
        }
    }
}

/// A constant or a constant's name.
#[derive(Debug, Clone)]
pub enum Value {
    /// A literal (decimal, hexadecimal or octal, perhaps negative).
    Literal(i64, Span),
    /// A `const` or an enum variant named in its place.
    Named(Ident),
}

impl PartialEq for Value {
    /// Values compare by what they say, not where they were written.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Literal(a, _), Value::Literal(b, _)) => a == b,
            (Value::Named(a), Value::Named(b)) => a == b,
            _ => false,
        }
    }
}

impl Value {
    /// Where the value was written.
    pub fn span(&self) -> Span {
        match self {
            Value::Literal(_, span) => *span,
            Value::Named(ident) => ident.span,
        }
    }
}

/// The base types a declaration can name.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeSpec {
    /// `int` (also rpcgen's `long`, `int32_t`).
    Int,
    /// `unsigned int` or `unsigned` (also `u_int`, `u_long`, `uint32_t`).
    UnsignedInt,
    /// `hyper` (also `int64_t`, `quad_t`).
    Hyper,
    /// `unsigned hyper` (also `uint64_t`, `u_quad_t`).
    UnsignedHyper,
    /// `float`.
    Float,
    /// `double`.
    Double,
    /// `quadruple`: 128-bit floating point, which Rust has no type for.
    Quadruple,
    /// `bool` (also `bool_t`).
    Bool,
    /// rpcgen's `char` (4 bytes on the wire), also `short`.
    Char,
    /// rpcgen's `unsigned char` / `u_char` (4 bytes on the wire), also `u_short`.
    UnsignedChar,
    /// `string`, only as a procedure's argument or result type (rpcgen's extension).
    String,
    /// An enum written in place.
    Enum(EnumBody),
    /// A struct written in place.
    Struct(StructBody),
    /// A union written in place.
    Union(Box<UnionBody>),
    /// A type defined elsewhere.
    Named(Ident),
}

/// A declaration: a name and its type.
#[derive(Debug, Clone, PartialEq)]
pub struct Declaration {
    /// The declared name (`void` declarations have an empty one).
    pub name: Ident,
    /// The declared type.
    pub ty: DeclType,
    /// The comment just before the declaration, if any.
    pub doc: Option<String>,
}

/// The shapes a declaration gives its base type.
#[derive(Debug, Clone, PartialEq)]
pub enum DeclType {
    /// `void` (union arms, procedure arguments).
    Void,
    /// `T name`.
    Plain(TypeSpec),
    /// `T name[n]`.
    FixedArray(TypeSpec, Value),
    /// `T name<n>` or `T name<>`.
    VarArray(TypeSpec, Option<Value>),
    /// `opaque name[n]`.
    FixedOpaque(Value),
    /// `opaque name<n>` or `opaque name<>`.
    VarOpaque(Option<Value>),
    /// `string name<n>` or `string name<>`.
    String(Option<Value>),
    /// `T *name`: optional data.
    Optional(TypeSpec),
}

/// The variants of an enum.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumBody {
    /// Each name with its value.
    pub variants: Vec<(Ident, Value)>,
}

/// The fields of a struct, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct StructBody {
    /// The fields.
    pub fields: Vec<Declaration>,
}

/// A discriminated union.
#[derive(Debug, Clone, PartialEq)]
pub struct UnionBody {
    /// The discriminant's declaration (`switch (int kind)`).
    pub discriminant: Declaration,
    /// The arms; an arm with several `case` labels is shared by all of them.
    pub arms: Vec<UnionArm>,
    /// The `default:` arm, if any.
    pub default: Option<Declaration>,
}

/// One arm of a union.
#[derive(Debug, Clone, PartialEq)]
pub struct UnionArm {
    /// The `case` values that select it.
    pub cases: Vec<Value>,
    /// What it holds.
    pub decl: Declaration,
}

/// A `program` definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// Its name.
    pub name: Ident,
    /// Its number.
    pub number: Value,
    /// Its versions.
    pub versions: Vec<Version>,
}

/// A `version` of a program.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// Its name.
    pub name: Ident,
    /// Its number.
    pub number: Value,
    /// Its procedures.
    pub procedures: Vec<Procedure>,
    /// The comment just before it.
    pub doc: Option<String>,
}

/// A procedure of a version.
#[derive(Debug, Clone, PartialEq)]
pub struct Procedure {
    /// Its name.
    pub name: Ident,
    /// Its number.
    pub number: Value,
    /// Its result type; `None` for `void`.
    pub result: Option<TypeSpec>,
    /// Its argument types; empty for `void`. rpcgen's `-N` style allows several.
    pub args: Vec<TypeSpec>,
    /// The comment just before it.
    pub doc: Option<String>,
}

/// The annotation, in a procedure's comment, that declares it idempotent: running it
/// twice has the effect of running it once, so clients may call it at-least-once.
pub const IDEMPOTENT: &str = "@idempotent";

/// The annotation, in a program's comment, that declares it a remote object interface:
/// many objects share the program, each call names its object by a key sent before the
/// arguments, and each reply starts with a status (see `courier::object`). The
/// procedures are written without the key, as the methods of a Rust interface are.
pub const OBJECTS: &str = "@objects";

/// Whether a comment holds `annotation` as a word of its own.
pub fn annotated(doc: Option<&str>, annotation: &str) -> bool {
    doc.is_some_and(|doc| doc.split_whitespace().any(|word| word == annotation))
}

impl Procedure {
    /// Whether its comment declares it idempotent ([`IDEMPOTENT`]).
    pub fn is_idempotent(&self) -> bool {
        annotated(self.doc.as_deref(), IDEMPOTENT)
    }
}
