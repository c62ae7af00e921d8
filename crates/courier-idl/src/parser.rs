//! The parser: builds the syntax tree of [`crate::ast`] from the tokens of
//! [`crate::lexer`], by hand-written recursive descent over the grammar of RFC 5531 §12.2
//! (which extends RFC 4506 §6.3 with `program` definitions).
//!
//! It accepts what real `.x` files written for rpcgen use beyond the RFC: C names for the
//! base types (`long`, `u_int`, `uint32_t`, `bool_t`, `char`, …, see [`TypeSpec`]),
//! `unsigned` alone, `struct NAME` / `enum NAME` / `union NAME` used as a type name,
//! `string` as a procedure's argument or result type, enum variants without a value
//! (numbered as C numbers them: 0 first, else one more than the variant before), and
//! string constants (`const HEXMODULUS = "…";` in `key_prot.x`), which are accepted and
//! left out of the tree: no type can use them, and the tree has no place for them.
//!
//! On a mistake it reports a [`Diagnostic`] that says what was expected and what was
//! found, skips to the end of the definition (the next `;` outside braces) and goes on
//! with the next one, so one run lists the independent mistakes of a file. It never
//! panics, and it refuses inline types nested more than [`MAX_NESTING`] deep rather than
//! recursing without bound.
//!
//! Whether names are defined, values fit their types or cases are distinct is for the
//! checker to decide; the parser only knows the shape of the text.

use crate::ast::{
    DeclType, Declaration, Definition, DefinitionKind, EnumBody, Ident, Procedure, Program, Span, Specification,
    StructBody, TypeSpec, UnionArm, UnionBody, Value, Version,
};
use crate::diagnostic::Diagnostic;
use crate::lexer::{self, Keyword, Punct, Token, TokenKind, MAX_DIAGNOSTICS};

/// How deeply inline `struct`, `union` and `enum` types may nest inside each other.
/// Real specifications nest two or three levels; the bound keeps the recursive descent
/// from exhausting the stack on hostile input.
pub const MAX_NESTING: usize = 64;

/// What a specification may begin a definition with, for diagnostics.
const DEFINITION_KEYWORDS: &str = "`const`, `typedef`, `enum`, `struct`, `union` or `program`";

/// Parses a whole `.x` file. On failure, returns every problem found (lexical and
/// syntactic), in source order; after [`MAX_DIAGNOSTICS`] of them, one more says that
/// the parser gave up.
pub fn parse(source: &str) -> Result<Specification, Vec<Diagnostic>> {
    let (mut parser, includes) = Parser::new(source);
    let definitions = parser.specification();
    if parser.diagnostics.is_empty() {
        Ok(Specification { definitions, includes })
    } else {
        let mut diagnostics = parser.diagnostics;
        diagnostics.sort_by_key(|d| d.span.start);
        if diagnostics.len() > MAX_DIAGNOSTICS {
            diagnostics.truncate(MAX_DIAGNOSTICS);
            let span = diagnostics.last().map(|d| d.span).unwrap_or_default();
            diagnostics.push(Diagnostic::new(span, format!("too many errors: stopping after {MAX_DIAGNOSTICS}")));
        }
        Err(diagnostics)
    }
}

/// The mark of a failed parse; its diagnostic has already been recorded.
struct Reported;

type Parsed<T> = Result<T, Reported>;

struct Parser<'a> {
    source: &'a str,
    /// The tokens, ending with the end-of-file token.
    tokens: Vec<Token>,
    /// A copy of the end-of-file token, returned past the end instead of indexing out
    /// of bounds.
    eof: Token,
    /// The index of the next token; never moves past the end-of-file token.
    pos: usize,
    diagnostics: Vec<Diagnostic>,
    /// Set when an unterminated comment swallowed the end of the file: complaining that
    /// the end of the file came too soon would only repeat the lexer's diagnostic.
    quiet_at_eof: bool,
    /// How many inline types enclose the current position.
    depth: usize,
}

impl<'a> Parser<'a> {
    /// A parser at the start of `source`, and the `#include` lines the lexer found.
    fn new(source: &'a str) -> (Parser<'a>, Vec<(String, Span)>) {
        let lexed = lexer::lex(source);
        let eof =
            lexed.tokens.last().cloned().unwrap_or(Token { kind: TokenKind::Eof, span: Span::default(), doc: None });
        let parser = Parser {
            source,
            tokens: lexed.tokens,
            eof,
            pos: 0,
            diagnostics: lexed.diagnostics,
            quiet_at_eof: lexed.truncated,
            depth: 0,
        };
        (parser, lexed.includes)
    }

    // --- Definitions ---------------------------------------------------------------

    /// `specification: definition *`
    fn specification(&mut self) -> Vec<Definition> {
        let mut definitions = Vec::new();
        while self.peek().kind != TokenKind::Eof && self.diagnostics.len() <= MAX_DIAGNOSTICS {
            let start = self.pos;
            match self.definition() {
                Ok(Some(definition)) => definitions.push(definition),
                Ok(None) => {}
                Err(Reported) => self.recover(start),
            }
        }
        definitions
    }

    /// Skips the rest of a definition that failed to parse. It started at token `start`;
    /// skipping ends after the next `;` outside its braces, or before the next token
    /// that surely starts a definition (see [`Self::starts_definition`]): a forgotten `}`
    /// must not swallow the rest of the file. If the failed parse already went past such
    /// a token in the first column of a line (after a forgotten `}`, `struct t {` looks
    /// like the start of a field), it starts again there.
    fn recover(&mut self, start: usize) {
        let passed = self.tokens.get(start + 1..self.pos).unwrap_or_default();
        if let Some(offset) = passed.iter().position(|t| self.starts_definition(t) && self.at_column_zero(t)) {
            self.pos = start + 1 + offset;
            return;
        }
        let skipped = self.tokens.get(start..self.pos).unwrap_or_default();
        let mut depth = skipped.iter().fold(0i64, |depth, t| match t.kind {
            TokenKind::Punct(Punct::LBrace) => depth + 1,
            TokenKind::Punct(Punct::RBrace) => depth - 1,
            _ => depth,
        });
        loop {
            let token = self.peek();
            if self.starts_definition(token) && self.pos > start {
                return;
            }
            match token.kind {
                TokenKind::Eof => return,
                TokenKind::Punct(Punct::Semi) if depth <= 0 => {
                    self.bump();
                    return;
                }
                TokenKind::Punct(Punct::LBrace) => depth += 1,
                TokenKind::Punct(Punct::RBrace) => depth -= 1,
                _ => {}
            }
            self.bump();
        }
    }

    /// ```text
    /// definition: type-def | constant-def | program-def
    /// ```
    /// `None` for a string constant, which the tree does not keep.
    fn definition(&mut self) -> Parsed<Option<Definition>> {
        let doc = self.peek().doc.clone();
        let kind = match &self.peek().kind {
            TokenKind::Keyword(Keyword::Const) => match self.constant()? {
                Some(kind) => kind,
                None => return Ok(None),
            },
            TokenKind::Keyword(Keyword::Typedef) => {
                self.bump();
                let decl = self.declaration()?;
                self.expect_semi_after(&decl)?;
                DefinitionKind::Typedef(decl)
            }
            TokenKind::Keyword(Keyword::Enum) => {
                self.bump();
                let name = self.name("the name of the enum")?;
                let body = self.enum_body(&format!("`enum {name}`"))?;
                self.expect(Punct::Semi, &format!("after the enum `{name}`"))?;
                DefinitionKind::Enum(name, body)
            }
            TokenKind::Keyword(Keyword::Struct) => {
                self.bump();
                let name = self.name("the name of the struct")?;
                let body = self.struct_body(&format!("`struct {name}`"))?;
                self.expect(Punct::Semi, &format!("after the struct `{name}`"))?;
                DefinitionKind::Struct(name, body)
            }
            TokenKind::Keyword(Keyword::Union) => {
                self.bump();
                let name = self.name("the name of the union")?;
                let body = self.union_body(&format!("`union {name}`"))?;
                self.expect(Punct::Semi, &format!("after the union `{name}`"))?;
                DefinitionKind::Union(name, Box::new(body))
            }
            TokenKind::Keyword(Keyword::Program) => DefinitionKind::Program(self.program()?),
            TokenKind::Ident(word) => {
                let message = format!("unknown keyword `{word}`: expected a definition ({DEFINITION_KEYWORDS})");
                let span = self.peek().span;
                self.report(Diagnostic::new(span, message));
                return Err(Reported);
            }
            _ => return Err(self.unexpected(&format!("a definition ({DEFINITION_KEYWORDS})"))),
        };
        Ok(Some(Definition { doc, kind }))
    }

    /// `constant-def: "const" identifier "=" constant ";"`, or rpcgen's
    /// `"const" identifier "=" string-literal ";"`.
    fn constant(&mut self) -> Parsed<Option<DefinitionKind>> {
        self.bump();
        let name = self.name("the name of the constant")?;
        self.expect(Punct::Equals, &format!("after `const {name}`"))?;
        let kind = if let TokenKind::Str(text) = &self.peek().kind {
            let text = text.clone();
            self.bump();
            DefinitionKind::StringConst(name.clone(), text)
        } else {
            DefinitionKind::Const(name.clone(), self.value()?)
        };
        self.expect(Punct::Semi, &format!("after the constant `{name}`"))?;
        Ok(Some(kind))
    }

    /// `program-def: "program" identifier "{" version-def version-def * "}" "=" constant ";"`
    fn program(&mut self) -> Parsed<Program> {
        self.bump();
        let name = self.name("the name of the program")?;
        self.expect(Punct::LBrace, &format!("after `program {name}`"))?;
        let mut versions = Vec::new();
        loop {
            if self.at_keyword(Keyword::Version) {
                versions.push(self.version()?);
            } else if !versions.is_empty() && self.eat(Punct::RBrace) {
                break;
            } else if versions.is_empty() {
                return Err(self.unexpected("`version` (a program needs at least one version)"));
            } else {
                return Err(self.unexpected("`version` or `}`"));
            }
        }
        self.expect(Punct::Equals, &format!("and the number of the program `{name}`"))?;
        let number = self.value()?;
        self.expect(Punct::Semi, &format!("after the program `{name}`"))?;
        Ok(Program { name, number, versions })
    }

    /// `version-def: "version" identifier "{" procedure-def procedure-def * "}" "=" constant ";"`
    fn version(&mut self) -> Parsed<Version> {
        let doc = self.bump().doc;
        let name = self.name("the name of the version")?;
        self.expect(Punct::LBrace, &format!("after `version {name}`"))?;
        let mut procedures = Vec::new();
        loop {
            if !procedures.is_empty() && self.eat(Punct::RBrace) {
                break;
            } else if self.at_keyword(Keyword::Void) || self.starts_type(true) {
                procedures.push(self.procedure()?);
            } else if procedures.is_empty() {
                return Err(self.unexpected("a procedure (a version needs at least one)"));
            } else {
                return Err(self.unexpected("a procedure or `}`"));
            }
        }
        self.expect(Punct::Equals, &format!("and the number of the version `{name}`"))?;
        let number = self.value()?;
        self.expect(Punct::Semi, &format!("after the version `{name}`"))?;
        Ok(Version { name, number, procedures, doc })
    }

    /// ```text
    /// procedure-def: proc-return identifier "(" proc-firstarg ("," type-specifier)* ")" "=" constant ";"
    /// proc-return: "void" | type-specifier
    /// proc-firstarg: "void" | type-specifier
    /// ```
    fn procedure(&mut self) -> Parsed<Procedure> {
        let doc = self.peek().doc.clone();
        let result = if self.eat_keyword(Keyword::Void) { None } else { Some(self.type_spec(true)?) };
        let name = self.name("the name of the procedure")?;
        self.expect(Punct::LParen, &format!("after the procedure name `{name}`"))?;
        let mut args = Vec::new();
        if self.eat_keyword(Keyword::Void) {
            self.expect(Punct::RParen, &format!("after `void` in the arguments of `{name}`"))?;
        } else {
            loop {
                args.push(self.type_spec(true)?);
                if self.eat(Punct::RParen) {
                    break;
                }
                if !self.eat(Punct::Comma) {
                    return Err(self.unexpected(&format!("`,` or `)` in the arguments of `{name}`")));
                }
            }
        }
        self.expect(Punct::Equals, &format!("and the number of the procedure `{name}`"))?;
        let number = self.value()?;
        self.expect(Punct::Semi, &format!("after the procedure `{name}`"))?;
        Ok(Procedure { name, number, result, args, doc })
    }

    // --- Type bodies ---------------------------------------------------------------

    /// `enum-body: "{" ( identifier "=" value ) ( "," identifier "=" value )* "}"`;
    /// `owner` names the enum for diagnostics.
    ///
    /// rpcgen, like C, lets a variant leave out `= value` (`key_prot.x`, `crypt.x`): it is
    /// then 0 if first, else one more than the literal value before it. The value made up
    /// carries the span of the variant's name.
    fn enum_body(&mut self, owner: &str) -> Parsed<EnumBody> {
        self.expect(Punct::LBrace, &format!("after {owner}"))?;
        let mut variants: Vec<(Ident, Value)> = Vec::new();
        loop {
            let name = self.name("the name of a variant")?;
            let value = if self.eat(Punct::Equals) {
                self.value()?
            } else if self.at(Punct::Comma) || self.at(Punct::RBrace) {
                self.implicit_value(&name, variants.last().map(|(_, v)| v))
            } else {
                return Err(self.unexpected(&format!("`=` and a value for the variant `{name}`")));
            };
            variants.push((name, value));
            if self.eat(Punct::RBrace) {
                break;
            }
            if !self.eat(Punct::Comma) {
                let last = variants.last().map(|(n, _)| n.name.as_str()).unwrap_or_default();
                return Err(self.unexpected(&format!("`,` or `}}` after the variant `{last}`")));
            }
        }
        Ok(EnumBody { variants })
    }

    /// The value C gives the enum variant `name` written without one, after `previous`.
    fn implicit_value(&mut self, name: &Ident, previous: Option<&Value>) -> Value {
        let value = match previous {
            None => Some(0),
            Some(Value::Literal(before, _)) => before.checked_add(1),
            Some(Value::Named(before)) => {
                let message = format!(
                    "the variant `{name}` needs `= value`: the one before it is `{before}`, a name the parser \
                     cannot add 1 to"
                );
                self.report(Diagnostic::new(name.span, message));
                return Value::Literal(0, name.span);
            }
        };
        value.map_or_else(
            || {
                let message = format!("the variant `{name}` would be one more than the largest constant");
                self.report(Diagnostic::new(name.span, message));
                Value::Literal(0, name.span)
            },
            |value| Value::Literal(value, name.span),
        )
    }

    /// `struct-body: "{" ( declaration ";" ) ( declaration ";" )* "}"`
    fn struct_body(&mut self, owner: &str) -> Parsed<StructBody> {
        self.expect(Punct::LBrace, &format!("after {owner}"))?;
        if self.at(Punct::RBrace) {
            return Err(self.unexpected("a field (a struct needs at least one)"));
        }
        let mut fields = Vec::new();
        loop {
            let decl = self.declaration()?;
            self.expect_semi_after(&decl)?;
            fields.push(decl);
            if self.eat(Punct::RBrace) {
                break;
            }
            if !self.starts_declaration() {
                return Err(self.unexpected("another field or `}`"));
            }
        }
        Ok(StructBody { fields })
    }

    /// ```text
    /// union-body: "switch" "(" declaration ")" "{"
    ///     case-spec case-spec *
    ///     [ "default" ":" declaration ";" ]
    ///   "}"
    /// case-spec: ( "case" value ":" ) ( "case" value ":" ) * declaration ";"
    /// ```
    fn union_body(&mut self, owner: &str) -> Parsed<UnionBody> {
        if !self.eat_keyword(Keyword::Switch) {
            return Err(self.unexpected(&format!("`switch` after {owner}")));
        }
        self.expect(Punct::LParen, "after `switch`")?;
        let discriminant = self.declaration()?;
        self.expect(Punct::RParen, &format!("after the discriminant of {owner}"))?;
        self.expect(Punct::LBrace, &format!("to open the arms of {owner}"))?;
        let mut arms = Vec::new();
        let mut default = None;
        loop {
            if self.at_keyword(Keyword::Case) {
                let case_doc = self.peek().doc.clone();
                let mut cases = Vec::new();
                while self.eat_keyword(Keyword::Case) {
                    let value = self.value()?;
                    let text = self.text(value.span()).to_owned();
                    self.expect(Punct::Colon, &format!("after `case {text}`"))?;
                    cases.push(value);
                }
                let mut decl = self.declaration()?;
                self.expect_semi_after(&decl)?;
                if decl.doc.is_none() {
                    decl.doc = case_doc;
                }
                arms.push(UnionArm { cases, decl });
            } else if arms.is_empty() {
                return Err(self.unexpected("`case` (a union needs at least one case)"));
            } else if self.at_keyword(Keyword::Default) {
                let default_doc = self.bump().doc;
                self.expect(Punct::Colon, "after `default`")?;
                let mut decl = self.declaration()?;
                self.expect_semi_after(&decl)?;
                if decl.doc.is_none() {
                    decl.doc = default_doc;
                }
                default = Some(decl);
                self.expect(Punct::RBrace, "after the `default` arm, which must come last")?;
                break;
            } else if self.eat(Punct::RBrace) {
                break;
            } else {
                return Err(self.unexpected("`case`, `default` or `}`"));
            }
        }
        Ok(UnionBody { discriminant, arms, default })
    }

    // --- Declarations and types ----------------------------------------------------

    /// ```text
    /// declaration:
    ///     type-specifier identifier
    ///   | type-specifier identifier "[" value "]"
    ///   | type-specifier identifier "<" [ value ] ">"
    ///   | "opaque" identifier "[" value "]"
    ///   | "opaque" identifier "<" [ value ] ">"
    ///   | "string" identifier "<" [ value ] ">"
    ///   | type-specifier "*" identifier
    ///   | "void"
    /// ```
    fn declaration(&mut self) -> Parsed<Declaration> {
        let first = self.peek().clone();
        let doc = first.doc;
        let (name, ty) = match first.kind {
            TokenKind::Keyword(Keyword::Void) => {
                self.bump();
                (Ident { name: String::new(), span: first.span }, DeclType::Void)
            }
            TokenKind::Keyword(Keyword::Opaque) => {
                self.bump();
                let name = self.name("the name of the opaque data")?;
                let ty = if self.eat(Punct::LBracket) {
                    let size = self.value()?;
                    self.expect(Punct::RBracket, &format!("after the size of `{name}`"))?;
                    DeclType::FixedOpaque(size)
                } else if self.eat(Punct::LAngle) {
                    DeclType::VarOpaque(self.maximum(&name)?)
                } else {
                    return Err(self.unexpected(&format!("a size after `opaque {name}` (`[n]`, `<n>` or `<>`)")));
                };
                (name, ty)
            }
            TokenKind::Keyword(Keyword::String) => {
                self.bump();
                let name = self.name("the name of the string")?;
                if !self.eat(Punct::LAngle) {
                    return Err(self.unexpected(&format!("a maximum length after `string {name}` (`<n>` or `<>`)")));
                }
                (name.clone(), DeclType::String(self.maximum(&name)?))
            }
            _ => {
                let ty = self.type_spec(false)?;
                if self.eat(Punct::Star) {
                    let name = self.name("the name of the optional data after `*`")?;
                    (name, DeclType::Optional(ty))
                } else {
                    let nested_definition =
                        matches!(first.kind, TokenKind::Keyword(Keyword::Struct | Keyword::Enum | Keyword::Union))
                            && self.at(Punct::LBrace);
                    let name = if nested_definition {
                        self.name(
                            "a name after the type (a definition cannot stand here: is a `}` missing before it?)",
                        )?
                    } else {
                        self.name("a name after the type")?
                    };
                    let ty = if self.eat(Punct::LBracket) {
                        let size = self.value()?;
                        self.expect(Punct::RBracket, &format!("after the size of `{name}`"))?;
                        DeclType::FixedArray(ty, size)
                    } else if self.eat(Punct::LAngle) {
                        DeclType::VarArray(ty, self.maximum(&name)?)
                    } else {
                        DeclType::Plain(ty)
                    };
                    (name, ty)
                }
            }
        };
        Ok(Declaration { name, ty, doc })
    }

    /// The rest of `<` [ value ] `>` after the `<`.
    fn maximum(&mut self, name: &Ident) -> Parsed<Option<Value>> {
        if self.eat(Punct::RAngle) {
            return Ok(None);
        }
        let max = self.value()?;
        self.expect(Punct::RAngle, &format!("after the maximum size of `{name}`"))?;
        Ok(Some(max))
    }

    /// ```text
    /// type-specifier:
    ///     [ "unsigned" ] "int" | [ "unsigned" ] "hyper" | "float" | "double"
    ///   | "quadruple" | "bool" | enum-type-spec | struct-type-spec
    ///   | union-type-spec | identifier
    /// ```
    /// plus rpcgen's C names and `unsigned` alone; `string` too when `in_procedure`.
    fn type_spec(&mut self, in_procedure: bool) -> Parsed<TypeSpec> {
        let ty = match &self.peek().kind {
            TokenKind::Keyword(Keyword::Int) => TypeSpec::Int,
            TokenKind::Keyword(Keyword::Hyper) => TypeSpec::Hyper,
            TokenKind::Keyword(Keyword::Float) => TypeSpec::Float,
            TokenKind::Keyword(Keyword::Double) => TypeSpec::Double,
            TokenKind::Keyword(Keyword::Quadruple) => TypeSpec::Quadruple,
            TokenKind::Keyword(Keyword::Bool) => TypeSpec::Bool,
            TokenKind::Keyword(Keyword::String) if in_procedure => TypeSpec::String,
            TokenKind::Keyword(Keyword::Unsigned) => {
                self.bump();
                let ty = match &self.peek().kind {
                    TokenKind::Keyword(Keyword::Int) => TypeSpec::UnsignedInt,
                    TokenKind::Keyword(Keyword::Hyper) => TypeSpec::UnsignedHyper,
                    TokenKind::Ident(word) if word == "long" => TypeSpec::UnsignedInt,
                    TokenKind::Ident(word) if word == "char" || word == "short" => TypeSpec::UnsignedChar,
                    // `unsigned` alone means `unsigned int`; what follows is not ours.
                    _ => return Ok(TypeSpec::UnsignedInt),
                };
                ty
            }
            TokenKind::Keyword(Keyword::Enum) => {
                self.bump();
                return if self.at(Punct::LBrace) {
                    self.nested(|p| p.enum_body("`enum`")).map(TypeSpec::Enum)
                } else {
                    self.name("`{` or the name of an enum after `enum`").map(TypeSpec::Named)
                };
            }
            TokenKind::Keyword(Keyword::Struct) => {
                self.bump();
                return if self.at(Punct::LBrace) {
                    self.nested(|p| p.struct_body("`struct`")).map(TypeSpec::Struct)
                } else {
                    self.name("`{` or the name of a struct after `struct`").map(TypeSpec::Named)
                };
            }
            TokenKind::Keyword(Keyword::Union) => {
                self.bump();
                return if self.at_keyword(Keyword::Switch) {
                    self.nested(|p| p.union_body("`union`")).map(|body| TypeSpec::Union(Box::new(body)))
                } else {
                    self.name("`switch` or the name of a union after `union`").map(TypeSpec::Named)
                };
            }
            TokenKind::Ident(word) => match c_type(word) {
                Some(ty) => ty,
                None => {
                    let span = self.peek().span;
                    let name = word.clone();
                    self.bump();
                    return Ok(TypeSpec::Named(Ident { name, span }));
                }
            },
            _ => return Err(self.unexpected("a type")),
        };
        self.bump();
        Ok(ty)
    }

    /// Runs `body` one level of inline type deeper, refusing to go past [`MAX_NESTING`].
    fn nested<T>(&mut self, body: impl FnOnce(&mut Self) -> Parsed<T>) -> Parsed<T> {
        if self.depth >= MAX_NESTING {
            let span = self.peek().span;
            let message =
                format!("types are nested too deeply: at most {MAX_NESTING} levels of inline types are allowed");
            self.report(Diagnostic::new(span, message));
            return Err(Reported);
        }
        self.depth += 1;
        let parsed = body(self);
        self.depth -= 1;
        parsed
    }

    /// `value: constant | identifier`, where a constant may have a leading `-`.
    fn value(&mut self) -> Parsed<Value> {
        let token = self.peek().clone();
        match token.kind {
            TokenKind::Punct(Punct::Minus) => {
                self.bump();
                let TokenKind::Number(magnitude) = self.peek().kind else {
                    return Err(self.unexpected("a number after `-`"));
                };
                let end = self.bump().span.end;
                let span = Span { start: token.span.start, end };
                match 0i64.checked_sub_unsigned(magnitude) {
                    Some(value) => Ok(Value::Literal(value, span)),
                    None => {
                        self.report(lexer::out_of_range(self.text(span), span));
                        Ok(Value::Literal(0, span))
                    }
                }
            }
            TokenKind::Number(magnitude) => {
                self.bump();
                match i64::try_from(magnitude) {
                    Ok(value) => Ok(Value::Literal(value, token.span)),
                    Err(_) => {
                        self.report(lexer::out_of_range(self.text(token.span), token.span));
                        Ok(Value::Literal(0, token.span))
                    }
                }
            }
            TokenKind::Ident(name) => {
                self.bump();
                Ok(Value::Named(Ident { name, span: token.span }))
            }
            _ => Err(self.unexpected("a value (a number or a constant's name)")),
        }
    }

    /// An identifier; `expected` says what it names. A keyword in its place is reported
    /// but taken as the name, so parsing goes on.
    fn name(&mut self, expected: &str) -> Parsed<Ident> {
        let token = self.peek().clone();
        match token.kind {
            TokenKind::Ident(name) => {
                self.bump();
                Ok(Ident { name, span: token.span })
            }
            TokenKind::Keyword(keyword) => {
                let message = format!("`{}` is a keyword and cannot be used as a name", keyword.as_str());
                self.report(Diagnostic::new(token.span, message));
                self.bump();
                Ok(Ident { name: keyword.as_str().to_owned(), span: token.span })
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    // --- Tokens --------------------------------------------------------------------

    fn peek(&self) -> &Token {
        self.tokens.get(self.pos).unwrap_or(&self.eof)
    }

    /// Moves past the next token, unless it is the end of the file, and returns it.
    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::Eof {
            self.pos += 1;
        }
        token
    }

    fn at(&self, punct: Punct) -> bool {
        self.peek().kind == TokenKind::Punct(punct)
    }

    fn at_keyword(&self, keyword: Keyword) -> bool {
        self.peek().kind == TokenKind::Keyword(keyword)
    }

    fn eat(&mut self, punct: Punct) -> bool {
        let found = self.at(punct);
        if found {
            self.bump();
        }
        found
    }

    fn eat_keyword(&mut self, keyword: Keyword) -> bool {
        let found = self.at_keyword(keyword);
        if found {
            self.bump();
        }
        found
    }

    /// Whether the next token can begin a type specifier.
    fn starts_type(&self, in_procedure: bool) -> bool {
        match self.peek().kind {
            TokenKind::Ident(_) => true,
            TokenKind::Keyword(keyword) => {
                matches!(
                    keyword,
                    Keyword::Int
                        | Keyword::Unsigned
                        | Keyword::Hyper
                        | Keyword::Float
                        | Keyword::Double
                        | Keyword::Quadruple
                        | Keyword::Bool
                        | Keyword::Enum
                        | Keyword::Struct
                        | Keyword::Union
                ) || (in_procedure && keyword == Keyword::String)
            }
            _ => false,
        }
    }

    /// Whether the next token can begin a declaration.
    fn starts_declaration(&self) -> bool {
        self.starts_type(false)
            || [Keyword::Void, Keyword::Opaque, Keyword::String].into_iter().any(|k| self.at_keyword(k))
    }

    /// Consumes `punct` or reports "expected `punct` {context}, found …".
    fn expect(&mut self, punct: Punct, context: &str) -> Parsed<()> {
        if self.eat(punct) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{}` {context}", punct.as_str())))
        }
    }

    /// The `;` that ends a declaration.
    fn expect_semi_after(&mut self, decl: &Declaration) -> Parsed<()> {
        let context = match decl.ty {
            DeclType::Void => "after `void`".to_owned(),
            _ => format!("after the declaration of `{}`", decl.name),
        };
        self.expect(Punct::Semi, &context)
    }

    /// Records a diagnostic, up to one more than [`MAX_DIAGNOSTICS`]; past that many the
    /// parser stops at the next definition, and [`parse`] says that it gave up.
    fn report(&mut self, diagnostic: Diagnostic) {
        if self.diagnostics.len() <= MAX_DIAGNOSTICS {
            self.diagnostics.push(diagnostic);
        }
    }

    /// Reports "expected {expected}, found …" at the next token.
    fn unexpected(&mut self, expected: &str) -> Reported {
        let token = self.peek();
        if !(self.quiet_at_eof && token.kind == TokenKind::Eof) {
            let message = format!("expected {expected}, found {}", token.kind);
            self.report(Diagnostic::new(token.span, message));
        }
        Reported
    }

    /// The source text of `span`.
    fn text(&self, span: Span) -> &str {
        self.source.get(span.start..span.end).unwrap_or_default()
    }

    /// Whether `token` surely starts a definition, for recovery: `const`, `typedef` or
    /// `program` anywhere, or `struct`, `enum` or `union` in the first column of a line.
    fn starts_definition(&self, token: &Token) -> bool {
        match token.kind {
            TokenKind::Keyword(Keyword::Const | Keyword::Typedef | Keyword::Program) => true,
            TokenKind::Keyword(Keyword::Struct | Keyword::Enum | Keyword::Union) => self.at_column_zero(token),
            _ => false,
        }
    }

    /// Whether `token` is the first thing on its line, in its first column.
    fn at_column_zero(&self, token: &Token) -> bool {
        let start = token.span.start;
        start == 0 || self.source.as_bytes().get(start - 1) == Some(&b'\n')
    }
}

/// The base type rpcgen gives a C type name, if `name` is one.
fn c_type(name: &str) -> Option<TypeSpec> {
    Some(match name {
        "long" | "int32_t" => TypeSpec::Int,
        "u_int" | "u_long" | "uint32_t" => TypeSpec::UnsignedInt,
        "int64_t" | "quad_t" => TypeSpec::Hyper,
        "uint64_t" | "u_quad_t" => TypeSpec::UnsignedHyper,
        "bool_t" => TypeSpec::Bool,
        "char" | "short" => TypeSpec::Char,
        "u_char" | "u_short" => TypeSpec::UnsignedChar,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of the definitions that parsed, and the diagnostics.
    fn parse_partially(source: &str) -> (Vec<String>, Vec<String>) {
        let (mut parser, _) = Parser::new(source);
        let definitions = parser.specification();
        assert_eq!(parser.depth, 0);
        (
            definitions.iter().map(|d| d.name().name.clone()).collect(),
            parser.diagnostics.into_iter().map(|d| d.message).collect(),
        )
    }

    #[test]
    fn recovery_skips_to_the_end_of_the_broken_definition_only() {
        let (names, diagnostics) = parse_partially(
            "program P { version V { void F(void); } = 1; } = 1;\nconst A = 1;\nstruct s { int x = 1; int y; };\nconst B = 2;",
        );
        assert_eq!(names, vec!["A", "B"]);
        assert_eq!(diagnostics.len(), 2, "{diagnostics:?}");
    }

    #[test]
    fn recovery_stops_at_a_definition_keyword_when_a_brace_is_missing() {
        let (names, diagnostics) = parse_partially("struct s {\n    int x;\n\nstruct t {\n    int y;\n};\n");
        assert_eq!(names, vec!["t"]);
        assert_eq!(
            diagnostics,
            vec!["expected a name after the type (a definition cannot stand here: is a `}` missing before it?), found `{`"]
        );
    }

    #[test]
    fn recovery_always_makes_progress_through_garbage() {
        let (names, diagnostics) = parse_partially("} } ; { ; = 5 ) const A = 1; ]");
        assert_eq!(names, vec!["A"]);
        assert_eq!(diagnostics.len(), 3, "{diagnostics:?}");
    }

    #[test]
    fn nesting_depth_is_restored_after_an_error() {
        let deep = format!("typedef {} int x; y;", "struct { ".repeat(MAX_NESTING + 1));
        let (names, diagnostics) = parse_partially(&format!("{deep}\ntypedef struct {{ struct {{ int a; }} b; }} ok;"));
        assert_eq!(names, vec!["ok"]);
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    }

    #[test]
    fn the_end_of_a_file_cut_by_an_unterminated_comment_is_not_reported_twice() {
        let (_, diagnostics) = parse_partially("struct s {\n    int x; /* oops\n};\n");
        assert_eq!(diagnostics, vec!["unterminated comment: this `/*` has no closing `*/`"]);
    }

    #[test]
    fn a_keyword_as_a_name_is_reported_and_parsing_goes_on() {
        let (names, diagnostics) = parse_partially("const int = 1;\nconst B = int;");
        assert_eq!(names, vec!["int"]);
        assert_eq!(
            diagnostics,
            vec![
                "`int` is a keyword and cannot be used as a name",
                "expected a value (a number or a constant's name), found `int`"
            ]
        );
    }

    #[test]
    fn diagnostics_stop_after_the_maximum() {
        let source = "const = 1;\n".repeat(MAX_DIAGNOSTICS * 3);
        let diagnostics = parse(&source).unwrap_err();
        assert_eq!(diagnostics.len(), MAX_DIAGNOSTICS + 1);
        assert_eq!(diagnostics[MAX_DIAGNOSTICS].message, format!("too many errors: stopping after {MAX_DIAGNOSTICS}"));
        let fields = "int int; ".repeat(MAX_DIAGNOSTICS * 3);
        assert_eq!(parse(&format!("struct s {{ {fields} }};")).unwrap_err().len(), MAX_DIAGNOSTICS + 1);
        assert_eq!(parse(&"@".repeat(MAX_DIAGNOSTICS * 3)).unwrap_err().len(), MAX_DIAGNOSTICS + 1);
    }

    #[test]
    fn c_type_names_are_rpcgen_s() {
        assert_eq!(c_type("u_long"), Some(TypeSpec::UnsignedInt));
        assert_eq!(c_type("short"), Some(TypeSpec::Char));
        assert_eq!(c_type("longer"), None);
    }
}
