//! The checker: names, values and types of a parsed specification, resolved and verified.
//!
//! It first hoists inline types (`struct { … } field;` inside a struct or union) into
//! top-level definitions named after where they stood, so everything later sees only
//! named types. Then it gathers the names — in the RPC language, as in C, constants,
//! enum variants and types share one namespace — and reports every problem it finds, not
//! just the first: undefined or duplicate names, values that do not fit, duplicate
//! program, version, procedure and case numbers, discriminants of the wrong type, and
//! types that contain themselves other than through optional data (`*`) or a
//! variable-length array.

use std::collections::{HashMap, HashSet};

use crate::ast::*;
use crate::diagnostic::Diagnostic;

/// A checked specification: the definitions (inline types hoisted) and what the
/// checker resolved about them.
#[derive(Debug, Clone)]
pub struct Model {
    /// The definitions, with inline types hoisted to the top level.
    pub spec: Specification,
    /// The value of every constant and enum variant.
    pub values: HashMap<String, i64>,
    /// Which enum each enum variant belongs to.
    pub variant_of: HashMap<String, String>,
    /// Structs of the linked-list shape `struct s { …; s *next; }` that are only ever
    /// used through a pointer: they are generated as `OptionalList` items.
    pub lists: HashSet<String>,
}

/// What a type name stands for.
#[derive(Debug, Clone, Copy)]
pub enum TypeDef<'a> {
    /// An enum.
    Enum(&'a EnumBody),
    /// A struct.
    Struct(&'a StructBody),
    /// A union.
    Union(&'a UnionBody),
    /// A typedef.
    Typedef(&'a Declaration),
}

impl Model {
    /// The definition of type `name`, if there is one.
    pub fn type_def(&self, name: &str) -> Option<TypeDef<'_>> {
        self.spec.definitions.iter().find_map(|d| match &d.kind {
            DefinitionKind::Enum(n, b) if n.name == name => Some(TypeDef::Enum(b)),
            DefinitionKind::Struct(n, b) if n.name == name => Some(TypeDef::Struct(b)),
            DefinitionKind::Union(n, b) if n.name == name => Some(TypeDef::Union(b)),
            DefinitionKind::Typedef(d) if d.name.name == name => Some(TypeDef::Typedef(d)),
            _ => None,
        })
    }

    /// The value of a checked value.
    pub fn value(&self, v: &Value) -> i64 {
        match v {
            Value::Literal(n, _) => *n,
            Value::Named(id) => self.values.get(&id.name).copied().unwrap_or(0),
        }
    }

    /// Follows typedefs of plain declarations (`typedef int count;`) to the base type.
    pub fn resolve<'a>(&'a self, ty: &'a TypeSpec) -> &'a TypeSpec {
        let mut ty = ty;
        for _ in 0..64 {
            match ty {
                TypeSpec::Named(n) => match self.type_def(&n.name) {
                    Some(TypeDef::Typedef(Declaration { ty: DeclType::Plain(inner), .. })) => ty = inner,
                    _ => return ty,
                },
                _ => return ty,
            }
        }
        ty
    }
}

/// Names that rpcgen's C output takes from `<rpc/rpc.h>` rather than from the `.x`
/// file, as the C library encodes them. A specification that uses one without defining
/// it gets the definition from here.
const PRELUDE: &str = "
const MAXNETNAMELEN = 255;
const MAX_NETOBJ_SZ = 1024;
typedef opaque des_block[8];
typedef opaque netobj<MAX_NETOBJ_SZ>;
typedef unsigned int rpcprog_t;
typedef unsigned int rpcvers_t;
typedef unsigned int rpcproc_t;
typedef unsigned int rpcport_t;
typedef int rpc_inline_t;
struct netbuf {
    unsigned int maxlen;
    opaque buf<>;
};
";

/// Adds the prelude definitions that `spec` uses but does not define (and those they
/// use in turn).
fn with_prelude(spec: &Specification) -> Specification {
    let Ok(prelude) = crate::parser::parse(PRELUDE) else { return spec.clone() };
    let mut spec = spec.clone();
    loop {
        let defined: HashSet<String> = spec.definitions.iter().map(|d| d.name().name.clone()).collect();
        let used = used_names(&spec);
        let missing: Vec<Definition> = prelude
            .definitions
            .iter()
            .filter(|d| used.contains(&d.name().name) && !defined.contains(&d.name().name))
            .map(|d| {
                let mut d = d.clone();
                d.doc = Some(format!("`{}`, as `<rpc/rpc.h>` defines it for rpcgen's C.", d.name()));
                d
            })
            .collect();
        if missing.is_empty() {
            return spec;
        }
        spec.definitions.splice(0..0, missing);
    }
}

/// Every type and value name a specification refers to.
fn used_names(spec: &Specification) -> HashSet<String> {
    fn value(v: &Value, out: &mut HashSet<String>) {
        if let Value::Named(id) = v {
            out.insert(id.name.clone());
        }
    }
    fn spec_type(t: &TypeSpec, out: &mut HashSet<String>) {
        match t {
            TypeSpec::Named(id) => {
                out.insert(id.name.clone());
            }
            TypeSpec::Enum(body) => body.variants.iter().for_each(|(_, v)| value(v, out)),
            TypeSpec::Struct(body) => body.fields.iter().for_each(|f| decl(f, out)),
            TypeSpec::Union(body) => union(body, out),
            _ => {}
        }
    }
    fn decl(d: &Declaration, out: &mut HashSet<String>) {
        match &d.ty {
            DeclType::Void => {}
            DeclType::Plain(t) | DeclType::Optional(t) => spec_type(t, out),
            DeclType::FixedArray(t, n) => {
                spec_type(t, out);
                value(n, out);
            }
            DeclType::VarArray(t, n) => {
                spec_type(t, out);
                n.iter().for_each(|n| value(n, out));
            }
            DeclType::FixedOpaque(n) => value(n, out),
            DeclType::VarOpaque(n) | DeclType::String(n) => n.iter().for_each(|n| value(n, out)),
        }
    }
    fn union(u: &UnionBody, out: &mut HashSet<String>) {
        decl(&u.discriminant, out);
        for arm in &u.arms {
            arm.cases.iter().for_each(|c| value(c, out));
            decl(&arm.decl, out);
        }
        u.default.iter().for_each(|d| decl(d, out));
    }
    let mut out = HashSet::new();
    for def in &spec.definitions {
        match &def.kind {
            DefinitionKind::Const(_, v) => value(v, &mut out),
            DefinitionKind::StringConst(..) => {}
            DefinitionKind::Typedef(d) => decl(d, &mut out),
            DefinitionKind::Enum(_, body) => body.variants.iter().for_each(|(_, v)| value(v, &mut out)),
            DefinitionKind::Struct(_, body) => body.fields.iter().for_each(|f| decl(f, &mut out)),
            DefinitionKind::Union(_, body) => union(body, &mut out),
            DefinitionKind::Program(p) => {
                value(&p.number, &mut out);
                for v in &p.versions {
                    value(&v.number, &mut out);
                    for proc in &v.procedures {
                        value(&proc.number, &mut out);
                        proc.args.iter().chain(&proc.result).for_each(|t| spec_type(t, &mut out));
                    }
                }
            }
        }
    }
    out
}

/// Checks a specification; every problem found is reported.
pub fn check(spec: &Specification) -> Result<Model, Vec<Diagnostic>> {
    let spec = hoist(&with_prelude(spec));
    let mut errors = Vec::new();

    // One namespace for constants, enum variants and types, as in C.
    let mut names: HashMap<String, Span> = HashMap::new();
    let mut declare = |id: &Ident, errors: &mut Vec<Diagnostic>| {
        if let Some(first) = names.get(&id.name) {
            errors.push(
                Diagnostic::new(id.span, format!("`{}` is defined more than once", id.name))
                    .with_note(*first, "first defined here"),
            );
        } else {
            names.insert(id.name.clone(), id.span);
        }
    };
    let mut variant_of = HashMap::new();
    for def in &spec.definitions {
        declare(def.name(), &mut errors);
        if let DefinitionKind::Enum(name, body) = &def.kind {
            for (variant, _) in &body.variants {
                declare(variant, &mut errors);
                variant_of.insert(variant.name.clone(), name.name.clone());
            }
        }
    }

    let values = evaluate_values(&spec, &mut errors);
    let mut model = Model { spec, values, variant_of, lists: HashSet::new() };
    let mut checker = Checker { model: &model, errors: &mut errors };
    checker.definitions();
    let lists = find_lists(&model);
    if !errors.is_empty() {
        return Err(errors);
    }
    model.lists = lists;
    Ok(model)
}

/// Evaluates every constant and enum variant, in any order of definition.
fn evaluate_values(spec: &Specification, errors: &mut Vec<Diagnostic>) -> HashMap<String, i64> {
    let mut pending: Vec<(&Ident, &Value)> = Vec::new();
    for def in &spec.definitions {
        match &def.kind {
            DefinitionKind::Const(name, value) => pending.push((name, value)),
            DefinitionKind::Enum(_, body) => pending.extend(body.variants.iter().map(|(n, v)| (n, v))),
            // Program, version and procedure names are constants too (rpcgen #defines
            // them); the same procedure name in two versions is the same constant.
            DefinitionKind::Program(p) => {
                pending.push((&p.name, &p.number));
                for v in &p.versions {
                    pending.push((&v.name, &v.number));
                    pending.extend(v.procedures.iter().map(|proc| (&proc.name, &proc.number)));
                }
            }
            _ => {}
        }
    }
    let mut values = HashMap::new();
    // Resolve in rounds: a value may name one defined later.
    loop {
        let before = pending.len();
        pending.retain(|(name, value)| match value {
            Value::Literal(n, _) => {
                values.entry(name.name.clone()).or_insert(*n);
                false
            }
            Value::Named(other) => match values.get(&other.name).copied() {
                Some(n) => {
                    values.entry(name.name.clone()).or_insert(n);
                    false
                }
                None => true,
            },
        });
        if pending.is_empty() || pending.len() == before {
            break;
        }
    }
    for (name, value) in pending {
        if let Value::Named(other) = value {
            errors.push(Diagnostic::new(
                other.span,
                format!("`{}` is not a constant (in the value of `{}`)", other.name, name.name),
            ));
        }
    }
    values
}

struct Checker<'m, 'e> {
    model: &'m Model,
    errors: &'e mut Vec<Diagnostic>,
}

impl Checker<'_, '_> {
    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.errors.push(Diagnostic::new(span, message));
    }

    fn definitions(&mut self) {
        let model = self.model;
        let mut programs: HashMap<i64, Span> = HashMap::new();
        for def in &model.spec.definitions {
            match &def.kind {
                DefinitionKind::Const(..) | DefinitionKind::StringConst(..) => {}
                DefinitionKind::Typedef(decl) => self.declaration(decl),
                DefinitionKind::Enum(name, body) => {
                    for (variant, value) in &body.variants {
                        self.value_in(
                            value,
                            i64::from(i32::MIN),
                            i64::from(i32::MAX),
                            &format!("the value of `{variant}`"),
                        );
                    }
                    let _ = name;
                }
                DefinitionKind::Struct(_, body) => {
                    for field in &body.fields {
                        self.declaration(field);
                    }
                }
                DefinitionKind::Union(_, body) => self.union(body),
                DefinitionKind::Program(program) => {
                    if let Some(n) = self.number(&program.number, "program number") {
                        if let Some(first) = programs.insert(n, program.name.span) {
                            self.errors.push(
                                Diagnostic::new(program.number.span(), format!("program number {n} is used twice"))
                                    .with_note(first, "first used here"),
                            );
                        }
                    }
                    self.program(program);
                }
            }
            self.recursion(def);
        }
    }

    fn program(&mut self, program: &Program) {
        let mut versions: HashMap<i64, Span> = HashMap::new();
        for version in &program.versions {
            if let Some(n) = self.number(&version.number, "version number") {
                if let Some(first) = versions.insert(n, version.name.span) {
                    self.errors.push(
                        Diagnostic::new(
                            version.number.span(),
                            format!("version number {n} of `{}` is used twice", program.name),
                        )
                        .with_note(first, "first used here"),
                    );
                }
            }
            let mut procs: HashMap<i64, Span> = HashMap::new();
            for proc in &version.procedures {
                if let Some(n) = self.number(&proc.number, "procedure number") {
                    if let Some(first) = procs.insert(n, proc.name.span) {
                        self.errors.push(
                            Diagnostic::new(
                                proc.number.span(),
                                format!("procedure number {n} of `{}` is used twice", version.name),
                            )
                            .with_note(first, "first used here"),
                        );
                    }
                    if n == 0 && (proc.result.is_some() || !proc.args.is_empty()) {
                        self.error(proc.number.span(), "procedure 0 is NULL: it takes and returns `void`");
                    }
                }
                for ty in proc.args.iter().chain(&proc.result) {
                    self.type_spec(ty);
                }
            }
        }
    }

    /// A program, version or procedure number: a u32.
    fn number(&mut self, value: &Value, what: &str) -> Option<i64> {
        self.value_in(value, 0, i64::from(u32::MAX), &format!("a {what}"))
    }

    /// Checks that a value is defined and within `lo..=hi`.
    fn value_in(&mut self, value: &Value, lo: i64, hi: i64, what: &str) -> Option<i64> {
        let n = match value {
            Value::Literal(n, _) => *n,
            Value::Named(id) => match self.model.values.get(&id.name) {
                Some(n) => *n,
                None => {
                    self.error(id.span, format!("`{id}` is not a constant"));
                    return None;
                }
            },
        };
        if n < lo || n > hi {
            self.error(value.span(), format!("{n} is out of range for {what} ({lo} to {hi})"));
            return None;
        }
        Some(n)
    }

    fn declaration(&mut self, decl: &Declaration) {
        let size = |this: &mut Self, v: &Value| this.value_in(v, 0, i64::from(u32::MAX), "a size");
        match &decl.ty {
            DeclType::Void => {}
            DeclType::Plain(ty) | DeclType::Optional(ty) => self.type_spec(ty),
            DeclType::FixedArray(ty, n) => {
                self.type_spec(ty);
                size(self, n);
            }
            DeclType::VarArray(ty, n) => {
                self.type_spec(ty);
                if let Some(n) = n {
                    size(self, n);
                }
            }
            DeclType::FixedOpaque(n) => {
                size(self, n);
            }
            DeclType::VarOpaque(n) | DeclType::String(n) => {
                if let Some(n) = n {
                    size(self, n);
                }
            }
        }
    }

    fn type_spec(&mut self, ty: &TypeSpec) {
        if let TypeSpec::Named(name) = ty {
            if self.model.type_def(&name.name).is_none() {
                let what =
                    if self.model.values.contains_key(&name.name) { "a constant, not a type" } else { "not defined" };
                self.error(name.span, format!("type `{name}` is {what}"));
            }
        }
    }

    fn union(&mut self, body: &UnionBody) {
        let model = self.model;
        let DeclType::Plain(disc_ty) = &body.discriminant.ty else {
            self.error(
                body.discriminant.name.span,
                "a union's discriminant must be a plain `int`, `unsigned int`, `bool` or enum",
            );
            return;
        };
        self.type_spec(disc_ty);
        let resolved = model.resolve(disc_ty);
        let enum_name = match resolved {
            TypeSpec::Int | TypeSpec::UnsignedInt | TypeSpec::Bool => None,
            TypeSpec::Named(n) if matches!(model.type_def(&n.name), Some(TypeDef::Enum(_))) => Some(n.name.clone()),
            TypeSpec::Named(n) if model.type_def(&n.name).is_none() => return,
            _ => {
                self.error(
                    body.discriminant.name.span,
                    format!(
                        "the discriminant `{}` must be of type `int`, `unsigned int`, `bool` or an enum",
                        body.discriminant.name
                    ),
                );
                return;
            }
        };
        let mut seen: HashMap<i64, Span> = HashMap::new();
        for arm in &body.arms {
            for case in &arm.cases {
                let value = match (resolved, case) {
                    (TypeSpec::Bool, Value::Named(id)) if id.name == "TRUE" || id.name == "FALSE" => {
                        Some(i64::from(id.name == "TRUE"))
                    }
                    (TypeSpec::Bool, _) => {
                        self.error(case.span(), "a `bool` discriminant takes the cases `TRUE` and `FALSE`");
                        None
                    }
                    (_, Value::Named(id)) if enum_name.is_some() => {
                        if model.variant_of.get(&id.name) != enum_name.as_ref() {
                            let e = enum_name.as_deref().unwrap_or_default();
                            self.error(id.span, format!("`{id}` is not a variant of enum `{e}`"));
                            None
                        } else {
                            model.values.get(&id.name).copied()
                        }
                    }
                    (_, Value::Literal(..)) if enum_name.is_some() => {
                        let e = enum_name.as_deref().unwrap_or_default();
                        self.error(case.span(), format!("a case of an enum discriminant names a variant of `{e}`"));
                        None
                    }
                    (TypeSpec::UnsignedInt, v) => self.value_in(v, 0, i64::from(u32::MAX), "an `unsigned int` case"),
                    (_, v) => self.value_in(v, i64::from(i32::MIN), i64::from(i32::MAX), "an `int` case"),
                };
                if let Some(v) = value {
                    if let Some(first) = seen.insert(v, case.span()) {
                        self.errors.push(
                            Diagnostic::new(case.span(), format!("case {v} appears twice in the union"))
                                .with_note(first, "first here"),
                        );
                    }
                }
            }
            self.declaration(&arm.decl);
        }
        if let Some(default) = &body.default {
            self.declaration(default);
        }
    }

    /// A type may contain itself only through optional data or a variable-length array.
    fn recursion(&mut self, def: &Definition) {
        let name = &def.name().name;
        let mut seen = HashSet::new();
        if let Some(path) = self.contains_by_value(name, name, &mut seen) {
            self.error(
                def.name().span,
                format!("`{name}` contains itself ({path}); recursion is allowed only through `*` (optional data)"),
            );
        }
    }

    /// Whether type `ty` holds `target` by value (not behind `*` or `<>`); returns the
    /// path of types that does.
    fn contains_by_value(&self, target: &str, ty: &str, seen: &mut HashSet<String>) -> Option<String> {
        if !seen.insert(ty.to_owned()) {
            return None;
        }
        let decls: Vec<&Declaration> = match self.model.type_def(ty)? {
            TypeDef::Enum(_) => return None,
            TypeDef::Struct(body) => body.fields.iter().collect(),
            TypeDef::Union(body) => body.arms.iter().map(|a| &a.decl).chain(&body.default).collect(),
            TypeDef::Typedef(decl) => vec![decl],
        };
        for decl in decls {
            let inner = match &decl.ty {
                DeclType::Plain(TypeSpec::Named(n)) | DeclType::FixedArray(TypeSpec::Named(n), _) => n,
                _ => continue,
            };
            if inner.name == target {
                return Some(format!("{ty} → {target}"));
            }
            if let Some(path) = self.contains_by_value(target, &inner.name, seen) {
                return Some(format!("{ty} → {path}"));
            }
        }
        None
    }
}

/// The structs `struct s { …; s *next; }` (the link possibly through `typedef s *list`)
/// that appear nowhere by value: only such can be represented as list items.
fn find_lists(model: &Model) -> HashSet<String> {
    let mut candidates = HashSet::new();
    for def in &model.spec.definitions {
        if let DefinitionKind::Struct(name, body) = &def.kind {
            if body.fields.len() >= 2 && body.fields.last().is_some_and(|last| points_to(model, &last.ty, &name.name)) {
                candidates.insert(name.name.clone());
            }
        }
    }
    // A list struct used by value anywhere (as a field, an array element, an argument)
    // keeps the plain recursive form.
    let mut by_value = HashSet::new();
    let mut note = |ty: &TypeSpec| {
        if let TypeSpec::Named(n) = ty {
            by_value.insert(n.name.clone());
        }
    };
    for def in &model.spec.definitions {
        let decls: Vec<&Declaration> = match &def.kind {
            DefinitionKind::Struct(_, body) => body.fields.iter().collect(),
            DefinitionKind::Union(_, body) => body.arms.iter().map(|a| &a.decl).chain(&body.default).collect(),
            DefinitionKind::Typedef(decl) => vec![decl],
            DefinitionKind::Program(p) => {
                for proc in p.versions.iter().flat_map(|v| &v.procedures) {
                    proc.args.iter().chain(&proc.result).for_each(&mut note);
                }
                continue;
            }
            _ => continue,
        };
        for decl in decls {
            match &decl.ty {
                DeclType::Plain(ty) | DeclType::FixedArray(ty, _) | DeclType::VarArray(ty, _) => note(ty),
                _ => {}
            }
        }
    }
    // Typedefs of plain declarations pass the use on: `typedef s t;` then `t x;`.
    candidates.retain(|c| !by_value.contains(c) && !aliased_by_value(model, c, &by_value));
    candidates
}

fn aliased_by_value(model: &Model, name: &str, by_value: &HashSet<String>) -> bool {
    model.spec.definitions.iter().any(|d| match &d.kind {
        DefinitionKind::Typedef(Declaration { name: alias, ty: DeclType::Plain(TypeSpec::Named(n)), .. }) => {
            n.name == name && (by_value.contains(&alias.name) || aliased_by_value(model, &alias.name, by_value))
        }
        _ => false,
    })
}

/// Whether a declaration is `name *` (optional data of `name`), directly or through a
/// typedef of it.
pub(crate) fn points_to(model: &Model, ty: &DeclType, name: &str) -> bool {
    match ty {
        DeclType::Optional(TypeSpec::Named(n)) => n.name == name,
        DeclType::Plain(TypeSpec::Named(n)) => match model.type_def(&n.name) {
            Some(TypeDef::Typedef(d)) => matches!(&d.ty, DeclType::Optional(TypeSpec::Named(t)) if t.name == name),
            _ => false,
        },
        _ => false,
    }
}

/// Moves inline enum, struct and union types to the top level, named
/// `{outer}_{field}`, so that every type has a name.
fn hoist(spec: &Specification) -> Specification {
    let mut out = Vec::new();
    for def in &spec.definitions {
        // C's `typedef struct name name;` names nothing new.
        if let DefinitionKind::Typedef(Declaration { name, ty: DeclType::Plain(TypeSpec::Named(n)), .. }) = &def.kind {
            if n.name == name.name {
                continue;
            }
        }
        let mut def = def.clone();
        // `typedef struct { … } name;` is simply `struct name { … };`.
        if let DefinitionKind::Typedef(Declaration { name, ty: DeclType::Plain(ty), .. }) = &def.kind {
            let name = name.clone();
            match ty.clone() {
                TypeSpec::Enum(body) => def.kind = DefinitionKind::Enum(name, body),
                TypeSpec::Struct(body) => def.kind = DefinitionKind::Struct(name, body),
                TypeSpec::Union(body) => def.kind = DefinitionKind::Union(name, body),
                _ => {}
            }
        }
        let owner = def.name().name.clone();
        let mut hoisted = Vec::new();
        match &mut def.kind {
            DefinitionKind::Typedef(decl) => hoist_decl(&owner, decl, &mut hoisted),
            DefinitionKind::Struct(_, body) => {
                for field in &mut body.fields {
                    hoist_decl(&owner, field, &mut hoisted);
                }
            }
            DefinitionKind::Union(_, body) => hoist_union(&owner, body, &mut hoisted),
            _ => {}
        }
        out.extend(hoisted);
        out.push(def);
    }
    Specification { definitions: out, includes: spec.includes.clone() }
}

fn hoist_union(owner: &str, body: &mut UnionBody, hoisted: &mut Vec<Definition>) {
    hoist_decl(owner, &mut body.discriminant, hoisted);
    for arm in &mut body.arms {
        hoist_decl(owner, &mut arm.decl, hoisted);
    }
    if let Some(default) = &mut body.default {
        hoist_decl(owner, default, hoisted);
    }
}

/// Replaces an inline type in `decl` by a reference to a new top-level definition
/// named `{owner}_{field}`.
fn hoist_decl(owner: &str, decl: &mut Declaration, hoisted: &mut Vec<Definition>) {
    let ty = match &mut decl.ty {
        DeclType::Plain(ty) | DeclType::Optional(ty) | DeclType::FixedArray(ty, _) | DeclType::VarArray(ty, _) => ty,
        _ => return,
    };
    if !matches!(ty, TypeSpec::Enum(_) | TypeSpec::Struct(_) | TypeSpec::Union(_)) {
        return;
    }
    let name = Ident { name: format!("{owner}_{}", decl.name.name), span: decl.name.span };
    let inline = std::mem::replace(ty, TypeSpec::Named(name.clone()));
    let mut nested = Vec::new();
    let kind = match inline {
        TypeSpec::Enum(body) => DefinitionKind::Enum(name, body),
        TypeSpec::Struct(mut body) => {
            for field in &mut body.fields {
                hoist_decl(&name.name, field, &mut nested);
            }
            DefinitionKind::Struct(name, body)
        }
        TypeSpec::Union(mut body) => {
            hoist_union(&name.name, &mut body, &mut nested);
            DefinitionKind::Union(name, body)
        }
        _ => return,
    };
    hoisted.append(&mut nested);
    hoisted.push(Definition { doc: decl.doc.clone(), kind });
}
