//! The binary's contract: exit 0 / 1 / 2, text by default, one JSON line with --json.

use std::process::Command;

fn run(wat: &str, json: bool) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("wasm-check-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("m{}.wasm", wat.len()));
    std::fs::write(&file, wat::parse_str(wat).unwrap()).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasm-check"));
    cmd.arg(&file);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn ok_module_exits_zero() {
    let (code, text) = run(
        r#"(module (func (export "s") (param i32) (result i32) local.get 0 i32.extend16_s))"#,
        false,
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("used:      mvp, sign-ext") && text.contains("OK"),
        "{text}"
    );
}

#[test]
fn refused_module_exits_one_and_json_names_the_feature() {
    let (code, json) = run(
        r#"(module (memory 1) (func (export "f") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.fill))"#,
        true,
    );
    assert_eq!(code, 1);
    assert!(json.starts_with("{\"ok\":false"), "{json}");
    assert!(json.contains("\"disallowed\":[\"bulk-memory\""), "{json}");
}

#[test]
fn missing_file_exits_two() {
    let out = Command::new(env!("CARGO_BIN_EXE_wasm-check"))
        .arg("/nonexistent/x.wasm")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
