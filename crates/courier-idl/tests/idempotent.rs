//! Procedures declared `@idempotent` in a comment: the generated client calls them
//! at-least-once (no history of replies needed on the server), the others at-most-once.

#[test]
fn annotated_procedures_get_idempotent_calls() {
    let dir = std::env::temp_dir().join(format!("courier-idl-idempotent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let x = dir.join("counter.x");
    std::fs::write(
        &x,
        "program COUNTER {
    version COUNTER_V1 {
        /* Adds one: not idempotent. */
        unsigned int INCREMENT(void) = 1;
        /* The current value. @idempotent */
        unsigned int READ(void) = 2;
    } = 1;
} = 0x20006300;
",
    )
    .unwrap();
    let rust = courier_idl::generate_file(&x).unwrap();
    let method = |name: &str| {
        let start = rust.find(&format!("pub async fn {name}(")).unwrap_or_else(|| panic!("no {name} in\n{rust}"));
        let end = start + rust[start..].find("\n    }").unwrap();
        rust[start..end].split_whitespace().collect::<String>()
    };
    assert!(method("increment").contains("CallOptions::idempotent(false)"), "{}", method("increment"));
    assert!(method("read").contains("CallOptions::idempotent(true)"), "{}", method("read"));
    std::fs::remove_dir_all(&dir).unwrap();
}
