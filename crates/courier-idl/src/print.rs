//! The canonical printer: a specification back to RPC-language text, in one layout
//! (four-space indents, one declaration per line, doc comments as `/* */` blocks), so
//! that `courier idl fmt` gives every file the same shape. Parsing the printed text
//! gives back the same tree.

use std::fmt::Write;

use crate::ast::*;

/// Prints a whole specification.
pub fn print(spec: &Specification) -> String {
    print_as(spec, false)
}

/// Prints a specification as its calls travel: each remote object program (annotated
/// `@objects`) with the object key as its procedures' first argument and their results
/// wrapped in a status union, preceded by the definitions those need — the `.x` a C
/// programmer gives rpcgen to call courier objects.
pub fn print_wire(spec: &Specification) -> String {
    print_as(spec, true)
}

/// The key, status and reply definitions of remote object programs.
const OBJECT_DEFINITIONS: &str = "struct object_key {
    unsigned hyper incarnation;
    unsigned hyper object;
};

enum object_status {
    OBJECT_OK = 0,
    OBJECT_UNKNOWN = 1,
    OBJECT_STALE = 2
};
";

fn print_as(spec: &Specification, wire: bool) -> String {
    let mut out = String::new();
    let mut defined = false;
    for (i, def) in spec.definitions.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let objects = wire && annotated(def.doc.as_deref(), OBJECTS);
        if let (true, DefinitionKind::Program(program)) = (objects, &def.kind) {
            if !std::mem::replace(&mut defined, true) {
                out.push_str(OBJECT_DEFINITIONS);
                out.push('\n');
            }
            reply_unions(&mut out, program);
            // Spelled out, the program is no longer one to add keys to.
            let note = def.doc.as_deref().map(|d| d.replace(OBJECTS, "(a remote object program)"));
            doc(&mut out, note.as_deref(), 0);
        } else {
            doc(&mut out, def.doc.as_deref(), 0);
        }
        match &def.kind {
            DefinitionKind::Const(name, value) => {
                let _ = writeln!(out, "const {name} = {};", value_text(value));
            }
            DefinitionKind::StringConst(name, text) => {
                let _ = writeln!(out, "const {name} = \"{text}\";");
            }
            DefinitionKind::Typedef(decl) => {
                let _ = writeln!(out, "typedef {};", declaration(decl, 0));
            }
            DefinitionKind::Enum(name, body) => {
                let _ = writeln!(out, "enum {name} {};", enum_body(body, 0));
            }
            DefinitionKind::Struct(name, body) => {
                let _ = writeln!(out, "struct {name} {};", struct_body(body, 0));
            }
            DefinitionKind::Union(name, body) => {
                let _ = writeln!(out, "union {name} {};", union_body(body, 0));
            }
            DefinitionKind::Program(program) => print_program(&mut out, program, objects),
        }
    }
    out
}

/// The name of the reply union of a remote object procedure.
fn reply_name(program: &Program, proc: &Procedure) -> String {
    format!("{}_{}_reply", program.name.name.to_lowercase(), proc.name.name.to_lowercase())
}

/// The reply unions of a remote object program's procedures.
fn reply_unions(out: &mut String, program: &Program) {
    for proc in program.versions.iter().flat_map(|v| &v.procedures) {
        let ok = proc.result.as_ref().map_or("void".to_owned(), |t| format!("{} result", type_spec(t, 1)));
        let name = reply_name(program, proc);
        let _ = writeln!(
            out,
            "union {name} switch (object_status status) {{\ncase OBJECT_OK:\n    {ok};\ndefault:\n    void;\n}};\n"
        );
    }
}

fn indent(level: usize) -> String {
    "    ".repeat(level)
}

fn doc(out: &mut String, doc: Option<&str>, level: usize) {
    let Some(doc) = doc else { return };
    let pad = indent(level);
    let doc = doc.replace("*/", "* /");
    let lines: Vec<&str> = doc.lines().collect();
    if lines.len() <= 1 {
        let _ = writeln!(out, "{pad}/* {} */", lines.first().copied().unwrap_or(""));
    } else {
        let _ = writeln!(out, "{pad}/*");
        for line in lines {
            let _ = writeln!(out, "{pad} * {}", line.trim_end());
        }
        let _ = writeln!(out, "{pad} */");
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::Literal(n, _) if *n > 0xffff => format!("{n:#x}"),
        Value::Literal(n, _) => n.to_string(),
        Value::Named(id) => id.name.clone(),
    }
}

fn type_spec(ty: &TypeSpec, level: usize) -> String {
    match ty {
        TypeSpec::Int => "int".into(),
        TypeSpec::UnsignedInt => "unsigned int".into(),
        TypeSpec::Hyper => "hyper".into(),
        TypeSpec::UnsignedHyper => "unsigned hyper".into(),
        TypeSpec::Float => "float".into(),
        TypeSpec::Double => "double".into(),
        TypeSpec::Quadruple => "quadruple".into(),
        TypeSpec::Bool => "bool".into(),
        TypeSpec::Char => "char".into(),
        TypeSpec::UnsignedChar => "unsigned char".into(),
        TypeSpec::String => "string".into(),
        TypeSpec::Enum(body) => format!("enum {}", enum_body(body, level)),
        TypeSpec::Struct(body) => format!("struct {}", struct_body(body, level)),
        TypeSpec::Union(body) => format!("union {}", union_body(body, level)),
        TypeSpec::Named(id) => id.name.clone(),
    }
}

fn bound(value: &Option<Value>) -> String {
    value.as_ref().map(value_text).unwrap_or_default()
}

fn declaration(decl: &Declaration, level: usize) -> String {
    let name = &decl.name;
    match &decl.ty {
        DeclType::Void => "void".into(),
        DeclType::Plain(ty) => format!("{} {name}", type_spec(ty, level)),
        DeclType::FixedArray(ty, n) => format!("{} {name}[{}]", type_spec(ty, level), value_text(n)),
        DeclType::VarArray(ty, n) => format!("{} {name}<{}>", type_spec(ty, level), bound(n)),
        DeclType::FixedOpaque(n) => format!("opaque {name}[{}]", value_text(n)),
        DeclType::VarOpaque(n) => format!("opaque {name}<{}>", bound(n)),
        DeclType::String(n) => format!("string {name}<{}>", bound(n)),
        DeclType::Optional(ty) => format!("{} *{name}", type_spec(ty, level)),
    }
}

fn enum_body(body: &EnumBody, level: usize) -> String {
    let pad = indent(level + 1);
    let variants: Vec<String> = body.variants.iter().map(|(n, v)| format!("{pad}{n} = {}", value_text(v))).collect();
    format!("{{\n{}\n{}}}", variants.join(",\n"), indent(level))
}

fn struct_body(body: &StructBody, level: usize) -> String {
    let mut out = String::from("{\n");
    for field in &body.fields {
        doc(&mut out, field.doc.as_deref(), level + 1);
        let _ = writeln!(out, "{}{};", indent(level + 1), declaration(field, level + 1));
    }
    out.push_str(&indent(level));
    out.push('}');
    out
}

fn union_body(body: &UnionBody, level: usize) -> String {
    let mut out = format!("switch ({}) {{\n", declaration(&body.discriminant, level));
    let pad = indent(level);
    for arm in &body.arms {
        for case in &arm.cases {
            let _ = writeln!(out, "{pad}case {}:", value_text(case));
        }
        doc(&mut out, arm.decl.doc.as_deref(), level + 1);
        let _ = writeln!(out, "{}{};", indent(level + 1), declaration(&arm.decl, level + 1));
    }
    if let Some(default) = &body.default {
        let _ = writeln!(out, "{pad}default:");
        doc(&mut out, default.doc.as_deref(), level + 1);
        let _ = writeln!(out, "{}{};", indent(level + 1), declaration(default, level + 1));
    }
    out.push_str(&pad);
    out.push('}');
    out
}

fn print_program(out: &mut String, program: &Program, objects: bool) {
    let _ = writeln!(out, "program {} {{", program.name);
    for version in &program.versions {
        doc(out, version.doc.as_deref(), 1);
        let _ = writeln!(out, "    version {} {{", version.name);
        for proc in &version.procedures {
            doc(out, proc.doc.as_deref(), 2);
            let mut result = proc.result.as_ref().map_or("void".to_owned(), |t| type_spec(t, 2));
            let mut args: Vec<String> = proc.args.iter().map(|t| type_spec(t, 2)).collect();
            if objects {
                result = reply_name(program, proc);
                args.insert(0, "object_key".to_owned());
            }
            let args = if args.is_empty() { "void".to_owned() } else { args.join(", ") };
            let _ = writeln!(out, "        {result} {}({args}) = {};", proc.name, value_text(&proc.number));
        }
        let _ = writeln!(out, "    }} = {};", value_text(&version.number));
    }
    let _ = writeln!(out, "}} = {};", value_text(&program.number));
}
