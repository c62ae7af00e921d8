//! The parser against every construct of the RPC language, against broken files whose
//! rendered diagnostics are pinned in `tests/broken/*.expected`, and against the real
//! `.x` files that ship with glibc and libtirpc.
//!
//! To rewrite the `.expected` files after a deliberate change of wording, run the tests
//! with `COURIER_BLESS=1` and review the diff.

use std::fs;
use std::path::{Path, PathBuf};

use courier_idl::ast::{
    DeclType, Declaration, Definition, DefinitionKind, Ident, Span, Specification, TypeSpec, Value,
};
use courier_idl::diagnostic::Diagnostic;
use courier_idl::parser::{parse, MAX_NESTING};

fn parse_ok(source: &str) -> Specification {
    match parse(source) {
        Ok(spec) => spec,
        Err(diagnostics) => panic!("{}", render_all("test.x", source, &diagnostics)),
    }
}

fn parse_err(source: &str) -> String {
    match parse(source) {
        Ok(spec) => panic!("parsed without diagnostics: {spec:#?}"),
        Err(diagnostics) => render_all("test.x", source, &diagnostics),
    }
}

fn render_all(file: &str, source: &str, diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(|d| d.render(file, source)).collect()
}

fn only(source: &str) -> Definition {
    let mut spec = parse_ok(source);
    assert_eq!(spec.definitions.len(), 1, "{spec:#?}");
    spec.definitions.remove(0)
}

fn ident(name: &str) -> Ident {
    Ident { name: name.to_owned(), span: Span::default() }
}

fn lit(value: i64) -> Value {
    Value::Literal(value, Span::default())
}

/// A value with its span cleared, for comparisons that ignore places.
fn literal_of(value: &Value) -> Option<i64> {
    match value {
        Value::Literal(v, _) => Some(*v),
        Value::Named(_) => None,
    }
}

fn fields(def: &Definition) -> &[Declaration] {
    match &def.kind {
        DefinitionKind::Struct(_, body) => &body.fields,
        other => panic!("not a struct: {other:?}"),
    }
}

// --- Constructs ---------------------------------------------------------------------

#[test]
fn constants_take_decimal_hex_octal_negative_and_named_values() {
    let spec = parse_ok("const A = 10;\nconst B = 0x20434F55;\nconst C = 017;\nconst D = -5;\nconst E = A;\nconst F = -9223372036854775808;");
    let values: Vec<_> = spec
        .definitions
        .iter()
        .map(|d| match &d.kind {
            DefinitionKind::Const(_, value) => value.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    let literals: Vec<_> = values.iter().map(literal_of).collect();
    assert_eq!(literals, vec![Some(10), Some(0x2043_4F55), Some(15), Some(-5), None, Some(i64::MIN)]);
    assert_eq!(values[4], Value::Named(ident("A")));
    // The span of a negative literal covers its sign.
    let source = "const D = -5;";
    let span = match &only(source).kind {
        DefinitionKind::Const(_, value) => value.span(),
        _ => unreachable!(),
    };
    assert_eq!(&source[span.start..span.end], "-5");
}

#[test]
fn every_declaration_shape_parses() {
    let def = only(
        "struct s {
            int a;
            int b[3];
            int c<4>;
            int d<>;
            opaque e[6];
            opaque f<N>;
            opaque g<>;
            string h<255>;
            string i<>;
            s *next;
        };",
    );
    let shapes: Vec<_> = fields(&def).iter().map(|f| (f.name.name.as_str(), f.ty.clone())).collect();
    assert_eq!(
        shapes,
        vec![
            ("a", DeclType::Plain(TypeSpec::Int)),
            ("b", DeclType::FixedArray(TypeSpec::Int, lit(3))),
            ("c", DeclType::VarArray(TypeSpec::Int, Some(lit(4)))),
            ("d", DeclType::VarArray(TypeSpec::Int, None)),
            ("e", DeclType::FixedOpaque(lit(6))),
            ("f", DeclType::VarOpaque(Some(Value::Named(ident("N"))))),
            ("g", DeclType::VarOpaque(None)),
            ("h", DeclType::String(Some(lit(255)))),
            ("i", DeclType::String(None)),
            ("next", DeclType::Optional(TypeSpec::Named(ident("s")))),
        ]
    );
}

#[test]
fn base_types_and_rpcgen_c_names_map_to_type_specs() {
    let cases = [
        ("int", TypeSpec::Int),
        ("unsigned int", TypeSpec::UnsignedInt),
        ("unsigned", TypeSpec::UnsignedInt),
        ("hyper", TypeSpec::Hyper),
        ("unsigned hyper", TypeSpec::UnsignedHyper),
        ("float", TypeSpec::Float),
        ("double", TypeSpec::Double),
        ("quadruple", TypeSpec::Quadruple),
        ("bool", TypeSpec::Bool),
        ("long", TypeSpec::Int),
        ("int32_t", TypeSpec::Int),
        ("u_int", TypeSpec::UnsignedInt),
        ("u_long", TypeSpec::UnsignedInt),
        ("uint32_t", TypeSpec::UnsignedInt),
        ("unsigned long", TypeSpec::UnsignedInt),
        ("int64_t", TypeSpec::Hyper),
        ("quad_t", TypeSpec::Hyper),
        ("uint64_t", TypeSpec::UnsignedHyper),
        ("u_quad_t", TypeSpec::UnsignedHyper),
        ("bool_t", TypeSpec::Bool),
        ("char", TypeSpec::Char),
        ("short", TypeSpec::Char),
        ("unsigned char", TypeSpec::UnsignedChar),
        ("u_char", TypeSpec::UnsignedChar),
        ("unsigned short", TypeSpec::UnsignedChar),
        ("u_short", TypeSpec::UnsignedChar),
        ("fattr", TypeSpec::Named(ident("fattr"))),
        ("struct fattr", TypeSpec::Named(ident("fattr"))),
        ("enum ftype", TypeSpec::Named(ident("ftype"))),
        ("union res", TypeSpec::Named(ident("res"))),
    ];
    for (written, expected) in cases {
        let def = only(&format!("typedef {written} x;"));
        let DefinitionKind::Typedef(decl) = def.kind else { panic!("{written}") };
        assert_eq!(decl.name, ident("x"), "{written}");
        assert_eq!(decl.ty, DeclType::Plain(expected), "{written}");
    }
}

#[test]
fn enums_keep_their_variants_in_order() {
    let def = only("enum color { RED = 1, GREEN = 2, BLUE = -4, CYAN = RED };");
    let DefinitionKind::Enum(name, body) = def.kind else { panic!() };
    assert_eq!(name, ident("color"));
    assert_eq!(
        body.variants,
        vec![
            (ident("RED"), lit(1)),
            (ident("GREEN"), lit(2)),
            (ident("BLUE"), lit(-4)),
            (ident("CYAN"), Value::Named(ident("RED"))),
        ]
    );
}

#[test]
fn enum_variants_without_values_count_on_as_in_c() {
    let def = only("enum keystatus { KEY_SUCCESS, KEY_NOSECRET, KEY_LATER = 10, KEY_NEXT };");
    let DefinitionKind::Enum(_, body) = def.kind else { panic!() };
    let values: Vec<_> = body.variants.iter().map(|(_, v)| literal_of(v)).collect();
    assert_eq!(values, vec![Some(0), Some(1), Some(10), Some(11)]);
    assert_eq!(body.variants[1].1.span(), body.variants[1].0.span);
    let messages: Vec<_> = parse("enum e { A = B, C };\nenum f { X = 9223372036854775807, Y };")
        .unwrap_err()
        .into_iter()
        .map(|d| d.message)
        .collect();
    assert_eq!(
        messages,
        vec![
            "the variant `C` needs `= value`: the one before it is `B`, a name the parser cannot add 1 to",
            "the variant `Y` would be one more than the largest constant",
        ]
    );
}

#[test]
fn string_constants_are_kept() {
    let spec = parse_ok("const HEXMODULUS = \"d4a0ba02\";\nconst HEXKEYBYTES = 48;");
    let names: Vec<_> = spec.definitions.iter().map(|d| d.name().name.as_str()).collect();
    assert_eq!(names, vec!["HEXMODULUS", "HEXKEYBYTES"]);
    assert!(matches!(&spec.definitions[0].kind, DefinitionKind::StringConst(_, text) if text == "d4a0ba02"));
    assert_eq!(
        parse_err("typedef opaque key[\"48\"];"),
        "test.x:1:20: error: expected a value (a number or a constant's name), found `\"48\"`\n  |\n1 | typedef opaque key[\"48\"];\n  |                    ^^^^\n"
    );
}

#[test]
fn unions_have_shared_void_and_default_arms() {
    let def = only(
        "union shape switch (int kind) {
        case 1:
            double radius;
        case 2:
        case 3:
            int side;
        case -1:
            void;
        default:
            string note<64>;
        };",
    );
    let DefinitionKind::Union(name, body) = def.kind else { panic!() };
    assert_eq!(name, ident("shape"));
    assert_eq!(body.discriminant.name, ident("kind"));
    assert_eq!(body.discriminant.ty, DeclType::Plain(TypeSpec::Int));
    let cases: Vec<Vec<_>> = body.arms.iter().map(|a| a.cases.iter().map(literal_of).collect()).collect();
    assert_eq!(cases, vec![vec![Some(1)], vec![Some(2), Some(3)], vec![Some(-1)]]);
    assert_eq!(body.arms[2].decl.ty, DeclType::Void);
    assert_eq!(body.arms[2].decl.name.name, "");
    let default = body.default.expect("a default arm");
    assert_eq!(default.ty, DeclType::String(Some(lit(64))));
}

#[test]
fn a_union_may_switch_on_an_enum_and_name_cases() {
    let def = only("union r switch (stat s) { case OK: int v; case TRUE: void; };");
    let DefinitionKind::Union(_, body) = def.kind else { panic!() };
    assert_eq!(body.discriminant.ty, DeclType::Plain(TypeSpec::Named(ident("stat"))));
    assert_eq!(body.arms[0].cases, vec![Value::Named(ident("OK"))]);
    assert_eq!(body.default, None);
}

#[test]
fn inline_types_nest() {
    let def = only(
        "struct outer {
            enum { A = 1, B = 2 } tag;
            struct { int x; struct { hyper y; } inner; } pair;
            union switch (bool set) { case TRUE: int v; case FALSE: void; } maybe;
        };",
    );
    let f = fields(&def);
    let DeclType::Plain(TypeSpec::Enum(body)) = &f[0].ty else { panic!("{:?}", f[0]) };
    assert_eq!(body.variants.len(), 2);
    let DeclType::Plain(TypeSpec::Struct(body)) = &f[1].ty else { panic!("{:?}", f[1]) };
    let DeclType::Plain(TypeSpec::Struct(inner)) = &body.fields[1].ty else { panic!() };
    assert_eq!(inner.fields[0].ty, DeclType::Plain(TypeSpec::Hyper));
    let DeclType::Plain(TypeSpec::Union(body)) = &f[2].ty else { panic!("{:?}", f[2]) };
    assert_eq!(body.discriminant.ty, DeclType::Plain(TypeSpec::Bool));
    assert_eq!(body.arms.len(), 2);
}

#[test]
fn typedefs_declare_any_shape() {
    let spec =
        parse_ok("typedef opaque fhandle[32];\ntypedef string name<>;\ntypedef node *list;\ntypedef int vec<10>;");
    let shapes: Vec<_> = spec
        .definitions
        .iter()
        .map(|d| match &d.kind {
            DefinitionKind::Typedef(decl) => (decl.name.name.clone(), decl.ty.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        shapes,
        vec![
            ("fhandle".to_owned(), DeclType::FixedOpaque(lit(32))),
            ("name".to_owned(), DeclType::String(None)),
            ("list".to_owned(), DeclType::Optional(TypeSpec::Named(ident("node")))),
            ("vec".to_owned(), DeclType::VarArray(TypeSpec::Int, Some(lit(10)))),
        ]
    );
}

#[test]
fn programs_have_versions_and_procedures() {
    let def = only(
        "program NFS_PROGRAM {
            version NFS_VERSION {
                void NFSPROC_NULL(void) = 0;
                attrstat NFSPROC_GETATTR(nfs_fh) = 1;
                string DESCRIBE(string) = 2;
                struct sm_stat SM_UNMON(struct mon_id) = 3;
                unsigned int ADD(int, unsigned hyper, bool) = PROC_ADD;
            } = 2;
            version V3 { void NULL3(void) = 0; } = 3;
        } = 100003;",
    );
    let DefinitionKind::Program(program) = def.kind else { panic!() };
    assert_eq!(program.name, ident("NFS_PROGRAM"));
    assert_eq!(program.number, lit(100003));
    assert_eq!(program.versions.len(), 2);
    let v = &program.versions[0];
    assert_eq!((v.name.name.as_str(), literal_of(&v.number)), ("NFS_VERSION", Some(2)));
    let procs: Vec<_> = v.procedures.iter().map(|p| (p.name.name.as_str(), p.result.clone(), p.args.clone())).collect();
    assert_eq!(
        procs,
        vec![
            ("NFSPROC_NULL", None, vec![]),
            ("NFSPROC_GETATTR", Some(TypeSpec::Named(ident("attrstat"))), vec![TypeSpec::Named(ident("nfs_fh"))]),
            ("DESCRIBE", Some(TypeSpec::String), vec![TypeSpec::String]),
            ("SM_UNMON", Some(TypeSpec::Named(ident("sm_stat"))), vec![TypeSpec::Named(ident("mon_id"))]),
            ("ADD", Some(TypeSpec::UnsignedInt), vec![TypeSpec::Int, TypeSpec::UnsignedHyper, TypeSpec::Bool]),
        ]
    );
    assert_eq!(v.procedures[4].number, Value::Named(ident("PROC_ADD")));
}

#[test]
fn names_keep_their_spans() {
    let source = "struct point {\n    int x;\n};";
    let def = only(source);
    let name = def.name();
    assert_eq!(&source[name.span.start..name.span.end], "point");
    let x = &fields(&def)[0].name;
    assert_eq!(&source[x.span.start..x.span.end], "x");
}

#[test]
fn comments_just_above_become_docs() {
    let source = "/*
 * The file header, separated by a blank line.
 */

/* A point in the plane. */
struct point {
    /* Across. */
    int x;
    int y;      /* trailing comments document nothing */
    // Down,
    // in pixels.
    int z;
};

/** Results. */
union res switch (int status) {
/* Success. */
case 0:
    int value;
case 1:
    /* Failure. */
    void;
default:
    void;
};

// The service.
program P {
    /* First version. */
    version V {
        /* Does nothing. */
        void NULLPROC(void) = 0;
        int OTHER(void) = 1;
    } = 1;
} = 1;
";
    let spec = parse_ok(source);
    let docs: Vec<_> = spec.definitions.iter().map(|d| d.doc.as_deref()).collect();
    assert_eq!(docs, vec![Some("A point in the plane."), Some("Results."), Some("The service.")]);
    let field_docs: Vec<_> = fields(&spec.definitions[0]).iter().map(|f| f.doc.as_deref()).collect();
    assert_eq!(field_docs, vec![Some("Across."), None, Some("Down,\nin pixels.")]);
    let DefinitionKind::Union(_, body) = &spec.definitions[1].kind else { panic!() };
    let arm_docs: Vec<_> = body.arms.iter().map(|a| a.decl.doc.as_deref()).collect();
    assert_eq!(arm_docs, vec![Some("Success."), Some("Failure.")]);
    assert_eq!(body.default.as_ref().and_then(|d| d.doc.as_deref()), None);
    let DefinitionKind::Program(program) = &spec.definitions[2].kind else { panic!() };
    assert_eq!(program.versions[0].doc.as_deref(), Some("First version."));
    let proc_docs: Vec<_> = program.versions[0].procedures.iter().map(|p| p.doc.as_deref()).collect();
    assert_eq!(proc_docs, vec![Some("Does nothing."), None]);
}

#[test]
fn pass_through_and_preprocessor_lines_are_ignored_but_includes_are_kept() {
    let source = "%#include <rpc/rpc.h>\n#ifdef RPC_HDR\n%extern int x;\n%#define M (A +\\\n\t\t B)\n#endif\n#include \"nis_object.x\"\nconst A = 1;\n";
    let spec = parse_ok(source);
    assert_eq!(spec.definitions.len(), 1);
    assert_eq!(spec.includes.len(), 1);
    let (file, span) = &spec.includes[0];
    assert_eq!(file, "nis_object.x");
    assert_eq!(&source[span.start..span.end], "\"nis_object.x\"");
}

#[test]
fn an_empty_file_is_an_empty_specification() {
    assert_eq!(parse_ok(""), Specification::default());
    assert_eq!(parse_ok("/* nothing */\n%pass\n#define X\n"), Specification::default());
}

// --- Diagnostics ----------------------------------------------------------------------

#[test]
fn a_missing_semicolon_is_reported_at_the_token_found() {
    assert_eq!(
        parse_err("const A = 1;\nstruct s {\n    int count }\n"),
        "test.x:3:15: error: expected `;` after the declaration of `count`, found `}`\n  |\n3 |     int count }\n  |               ^\n"
    );
}

#[test]
fn a_missing_type_says_what_was_found() {
    assert_eq!(
        parse_err("typedef = 5;"),
        "test.x:1:9: error: expected a type, found `=`\n  |\n1 | typedef = 5;\n  |         ^\n"
    );
}

#[test]
fn a_missing_end_points_just_after_the_last_token() {
    assert_eq!(
        parse_err("struct s {\n    int x;\n\n\n"),
        "test.x:2:11: error: expected another field or `}`, found end of file\n  |\n2 |     int x;\n  |           ^\n"
    );
}

#[test]
fn keywords_cannot_name_things_but_parsing_goes_on() {
    let rendered = parse_err("struct int { opaque string<>; };\nconst A 1;");
    assert_eq!(
        rendered,
        "test.x:1:8: error: `int` is a keyword and cannot be used as a name
  |
1 | struct int { opaque string<>; };
  |        ^^^
test.x:1:21: error: `string` is a keyword and cannot be used as a name
  |
1 | struct int { opaque string<>; };
  |                     ^^^^^^
test.x:2:9: error: expected `=` after `const A`, found `1`
  |
2 | const A 1;
  |         ^
"
    );
}

#[test]
fn errors_in_separate_definitions_are_all_reported() {
    let source = "const A = ;\nstruct s { int x };\ntypedef int;\nconst OK = 1;\nenum e { X = };\n";
    let diagnostics = parse(source).unwrap_err();
    let lines: Vec<_> = diagnostics.iter().map(|d| courier_idl::diagnostic::line_col(source, d.span.start).0).collect();
    assert_eq!(lines, vec![1, 2, 3, 5]);
}

#[test]
fn a_forgotten_brace_does_not_swallow_the_next_definition() {
    let source = "struct a {\n    int x;\n\nconst B = ;\n";
    let diagnostics = parse(source).unwrap_err();
    let messages: Vec<_> = diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            "expected another field or `}`, found `const`",
            "expected a value (a number or a constant's name), found `;`",
        ]
    );
}

#[test]
fn a_value_out_of_range_is_reported_once() {
    let rendered = parse_err("const A = 9223372036854775808;\nconst B = -9223372036854775809;");
    assert_eq!(rendered.matches("error:").count(), 2, "{rendered}");
    assert!(rendered.contains("integer literal `9223372036854775808` is out of range"), "{rendered}");
    assert!(rendered.contains("integer literal `9223372036854775809` is out of range"), "{rendered}");
}

#[test]
fn nesting_beyond_the_limit_is_refused_without_overflowing_the_stack() {
    let depth = MAX_NESTING + 1;
    let source = format!("struct s {{ {} int x; {} }};", "struct { ".repeat(depth), "} y; ".repeat(depth));
    let diagnostics = parse(&source).unwrap_err();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert!(diagnostics[0].message.starts_with("types are nested too deeply"), "{diagnostics:?}");
    // Just below the limit is fine.
    let depth = MAX_NESTING;
    let source = format!("struct s {{ {} int x; {} }};", "struct { ".repeat(depth - 1), "} y; ".repeat(depth - 1));
    parse_ok(&source);
    // Far beyond it, too: no recursion happens past the limit.
    for opening in ["struct { ", "union switch (", "union switch (int k) { case 1: "] {
        let source = format!("typedef {} x;", opening.repeat(100_000));
        let diagnostics = parse(&source).unwrap_err();
        assert_eq!(diagnostics.len(), 1, "{opening}: {diagnostics:?}");
        assert!(diagnostics[0].message.starts_with("types are nested too deeply"), "{diagnostics:?}");
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    let samples = [
        "",
        "{",
        "}",
        ";;;",
        "struct",
        "union x switch",
        "program P { version V { void",
        "const A = -",
        "enum e {",
        "typedef opaque x<",
        "\u{0}\u{ff}",
        "/*",
        "/* */ %",
        "#include \"",
        "union u switch (int x) { default: void; case 1: void; };",
        "program P { version V { int F(int,) = 1; } = 1; } = 1;",
        "struct s { int x[; };",
        "é✓ struct",
    ];
    for sample in samples {
        let _ = parse(sample);
    }
}

proptest::proptest! {
    /// Any text, and especially text made of the language's own pieces, parses or fails
    /// with diagnostics inside the source, never panicking.
    #[test]
    fn any_text_parses_or_fails_cleanly(
        pieces in proptest::collection::vec(
            proptest::sample::select(vec![
                "struct ", "union ", "enum ", "switch ", "case ", "default", "typedef ", "const ", "program ",
                "version ", "void ", "opaque ", "string ", "unsigned ", "int ", "x ", "T ", "1 ", "0x ", "-",
                "{", "}", "(", ")", "[", "]", "<", ">", ";", ",", "=", ":", "*", "/*", "*/", "//", "\n", "%", "#",
                "\"", "@", "é",
            ]),
            0..60,
        ),
        noise in ".{0,40}",
    ) {
        let source = format!("{}{noise}", pieces.concat());
        if let Err(diagnostics) = parse(&source) {
            proptest::prop_assert!(!diagnostics.is_empty());
            for d in &diagnostics {
                proptest::prop_assert!(d.span.start <= d.span.end && d.span.end <= source.len(), "{d:?}");
                let _ = d.render("fuzz.x", &source);
            }
        }
    }
}

// --- Broken files -----------------------------------------------------------------------

/// Every `tests/broken/*.x` renders exactly the diagnostics written in its `.expected`.
#[test]
fn broken_files_render_their_expected_diagnostics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    let bless = std::env::var_os("COURIER_BLESS").is_some();
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "x"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "only {} broken files", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let source = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let actual = match parse(&source) {
            Ok(_) => format!("{name}: parsed without diagnostics\n"),
            Err(diagnostics) => render_all(&name, &source, &diagnostics),
        };
        let expected_path = path.with_extension("expected");
        if bless {
            fs::write(&expected_path, &actual).unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            failures.push(format!("--- {name}: expected\n{expected}--- but got\n{actual}"));
        }
    }
    assert!(failures.is_empty(), "{}\n(COURIER_BLESS=1 rewrites the .expected files)", failures.join("\n"));
}

// --- Real files -------------------------------------------------------------------------

/// The directories holding the `.x` files of glibc's and libtirpc's development packages.
const SYSTEM_DIRS: [&str; 3] = ["/usr/include/rpcsvc", "/usr/include/tirpc/rpcsvc", "/usr/include/tirpc/rpc"];

#[test]
fn every_system_x_file_parses_without_diagnostics() {
    let mut checked = 0;
    let mut failures = String::new();
    for dir in SYSTEM_DIRS {
        let Ok(entries) = fs::read_dir(dir) else {
            eprintln!("skipping {dir}: not installed (install libc6-dev / libtirpc-dev to check it)");
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "x"))
            .collect();
        paths.sort();
        for path in paths {
            failures.push_str(&check_real_file(&path));
            checked += 1;
        }
    }
    eprintln!("parsed {checked} system .x files");
    assert!(failures.is_empty(), "{failures}");
}

#[test]
fn the_interop_specification_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../courier/tests/interop/interop.x");
    assert_eq!(check_real_file(&path), "");
    let source = fs::read_to_string(&path).unwrap_or_default();
    let spec = parse_ok(&source);
    let names: Vec<_> = spec.definitions.iter().map(|d| d.name().name.as_str()).collect();
    assert!(names.contains(&"INTEROP_PROG"), "{names:?}");
}

/// The rendered diagnostics of one real file, or nothing when it parses.
fn check_real_file(path: &Path) -> String {
    let source = match fs::read_to_string(path) {
        Ok(source) => source,
        Err(e) => return format!("{}: {e}\n", path.display()),
    };
    match parse(&source) {
        Ok(spec) if spec.definitions.is_empty() => format!("{}: no definitions\n", path.display()),
        Ok(_) => String::new(),
        Err(diagnostics) => render_all(&path.display().to_string(), &source, &diagnostics),
    }
}
