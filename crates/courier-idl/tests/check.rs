//! The checker's diagnostics, pinned: each broken specification and exactly what it
//! renders, so a change in wording or place shows up here.

use courier_idl::{check_source, Source};

fn check(text: &str) -> Result<courier_idl::check::Model, String> {
    check_source(&Source::from_text("t.x", text)).map_err(|e| e.to_string())
}

fn errors(text: &str) -> String {
    match check(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn an_undefined_type_is_reported_where_it_is_used() {
    assert_eq!(
        errors("struct s {\n    thing x;\n};\n"),
        "t.x:2:5: error: type `thing` is not defined\n  |\n2 |     thing x;\n  |     ^^^^^\n1 error"
    );
}

#[test]
fn a_name_defined_twice_points_at_both() {
    assert_eq!(
        errors("const A = 1;\nenum e { A = 2 };\n"),
        "t.x:2:10: error: `A` is defined more than once\n  |\n2 | enum e { A = 2 };\n  |          ^\nt.x:1:7: note: first defined here\n  |\n1 | const A = 1;\n  |       ^\n1 error"
    );
}

#[test]
fn duplicate_program_version_and_procedure_numbers_are_reported() {
    let text = "program P { version V { void A(void) = 1; void B(void) = 1; } = 1; version W { void C(void) = 2; } = 1; } = 7;\nprogram Q { version X { void D(void) = 1; } = 1; } = 7;\n";
    let e = errors(text);
    assert!(e.contains("procedure number 1 of `V` is used twice"), "{e}");
    assert!(e.contains("version number 1 of `P` is used twice"), "{e}");
    assert!(e.contains("program number 7 is used twice"), "{e}");
    assert!(e.ends_with("3 errors"), "{e}");
}

#[test]
fn a_discriminant_must_be_int_unsigned_bool_or_enum() {
    let e = errors("union u switch (hyper h) {\ncase 1:\n    int x;\n};\n");
    assert!(
        e.starts_with("t.x:1:23: error: the discriminant `h` must be of type `int`, `unsigned int`, `bool` or an enum"),
        "{e}"
    );
    let e = errors("typedef hyper big;\nunion u switch (big h) {\ncase 1:\n    int x;\n};\n");
    assert!(e.contains("the discriminant `h` must be"), "typedefs are followed: {e}");
    check("typedef unsigned int small;\nunion u switch (small h) {\ncase 1:\n    int x;\n};\n").unwrap();
}

#[test]
fn cases_must_fit_the_discriminant() {
    let e = errors("enum a { X = 1 };\nenum b { Y = 1 };\nunion u switch (a d) {\ncase Y:\n    int x;\n};\n");
    assert!(e.contains("`Y` is not a variant of enum `a`"), "{e}");
    let e = errors("union u switch (bool b) {\ncase 1:\n    int x;\n};\n");
    assert!(e.contains("a `bool` discriminant takes the cases `TRUE` and `FALSE`"), "{e}");
    let e = errors("union u switch (unsigned int t) {\ncase -1:\n    int x;\n};\n");
    assert!(e.contains("-1 is out of range for an `unsigned int` case"), "{e}");
    let e = errors("union u switch (int t) {\ncase 1:\n    int x;\ncase 1:\n    void;\n};\n");
    assert!(e.contains("case 1 appears twice in the union"), "{e}");
}

#[test]
fn a_type_may_contain_itself_only_through_optional_data() {
    let e = errors("struct a {\n    int v;\n    b inner;\n};\nstruct b {\n    a outer;\n};\n");
    assert!(e.contains("`a` contains itself (a → b → a)"), "{e}");
    let model = check("struct node {\n    int v;\n    node *next;\n};\ntypedef node *list;\n").unwrap();
    assert!(model.lists.contains("node"), "a `*next` chain is a list");
    check("struct tree {\n    tree *left;\n    tree *right;\n    tree kids<>;\n};\n").unwrap();
}

#[test]
fn sizes_and_numbers_must_be_in_range() {
    let e = errors("const N = -1;\ntypedef int x<N>;\n");
    assert!(e.contains("-1 is out of range for a size (0 to 4294967295)"), "{e}");
    let e = errors("typedef int x[M];\n");
    assert!(e.contains("`M` is not a constant"), "{e}");
    let e = errors("program P { version V { void A(void) = 4294967296; } = 1; } = 1;\n");
    assert!(e.contains("4294967296 is out of range for a procedure number"), "{e}");
}

#[test]
fn every_error_in_a_file_is_reported() {
    let e = errors("struct s {\n    nope a;\n    alsono b;\n};\nconst C = D;\n");
    assert!(e.ends_with("3 errors"), "{e}");
}

#[test]
fn rpcgen_idioms_are_accepted() {
    // `typedef struct x x;`, names from <rpc/rpc.h>, procedure names as constants.
    let model = check(
        "struct x {\n    netobj key;\n    des_block block;\n};\ntypedef struct x x;\n\
         program P { version V { void A(void) = 5; } = 1; } = 9;\nconst LAST = A;\n",
    )
    .unwrap();
    assert_eq!(model.values["LAST"], 5);
    assert!(model.type_def("netobj").is_some() && model.type_def("des_block").is_some());
}
