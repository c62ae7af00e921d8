//! The canonical printer: parse → print → parse gives the same tree, for every real
//! `.x` file and for generated specifications (a proptest); and printing is stable.

use courier_idl::ast::Specification;
use courier_idl::{parser, print, Source};
use proptest::prelude::*;

fn round_trip(spec: &Specification) -> Specification {
    let printed = print::print(spec);
    parser::parse(&printed).unwrap_or_else(|d| panic!("the printed text does not parse: {d:?}\n{printed}"))
}

fn corpus() -> Vec<std::path::PathBuf> {
    let mut files = vec![
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../courier/tests/interop/interop.x"),
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/filerw/filerw.x"),
    ];
    for dir in ["/usr/include/rpcsvc", "/usr/include/tirpc/rpcsvc", "/usr/include/tirpc/rpc"] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            files.extend(
                entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "x")),
            );
        }
    }
    files
}

#[test]
fn printing_any_real_file_and_parsing_it_again_gives_the_same_tree() {
    for file in corpus() {
        let source = Source::load(&file).unwrap();
        let spec = parser::parse(&source.text).unwrap();
        let again = round_trip(&spec);
        assert_eq!(again.definitions, spec.definitions, "{}", file.display());
        assert_eq!(print::print(&again), print::print(&spec), "printing is not stable for {}", file.display());
    }
}

const BASES: &[&str] = &["int", "unsigned int", "hyper", "unsigned hyper", "float", "double", "bool"];

/// Random but valid specifications: constants, enums, structs with every declaration
/// shape, unions, typedefs and a program.
fn spec_text() -> impl Strategy<Value = String> {
    let consts = proptest::collection::vec(0i64..100_000, 1..4);
    let fields = proptest::collection::vec((0usize..BASES.len(), 0usize..7, 1u32..40), 1..6);
    let enum_values = proptest::collection::btree_set(-50i64..50, 1..5);
    (consts, fields, enum_values, any::<bool>()).prop_map(|(consts, fields, enum_values, with_default)| {
        let mut t = String::new();
        for (i, c) in consts.iter().enumerate() {
            t.push_str(&format!("const C{i} = {c};\n"));
        }
        let variants: Vec<String> = enum_values.iter().enumerate().map(|(i, v)| format!("V{i} = {v}")).collect();
        t.push_str(&format!("/* an enum */\nenum e {{ {} }};\n", variants.join(", ")));
        t.push_str("struct s {\n");
        for (i, (base, shape, n)) in fields.iter().enumerate() {
            let base = BASES[*base];
            let decl = match shape {
                0 => format!("{base} f{i}"),
                1 => format!("{base} f{i}[{n}]"),
                2 => format!("{base} f{i}<{n}>"),
                3 => format!("opaque f{i}[C0]"),
                4 => format!("string f{i}<>"),
                5 => format!("{base} *f{i}"),
                _ => format!("e f{i}<>"),
            };
            t.push_str(&format!("    {decl};\n"));
        }
        t.push_str("};\n");
        t.push_str("union u switch (e d) {\ncase V0:\n    s value;\n");
        if with_default {
            t.push_str("default:\n    void;\n");
        }
        t.push_str("};\ntypedef u many<C0>;\n");
        t.push_str("program P {\n    version V {\n        many GET(s, int) = 1;\n        void PUT(many) = 2;\n    } = 1;\n} = 0x20000001;\n");
        t
    })
}

proptest! {
    #[test]
    fn parse_print_parse_is_the_identity(text in spec_text()) {
        let spec = parser::parse(&text).unwrap();
        prop_assert_eq!(&round_trip(&spec).definitions, &spec.definitions);
        courier_idl::check::check(&spec).unwrap();
    }
}
