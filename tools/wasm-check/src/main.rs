//! `wasm-check <file.wasm> [--json]`: exit 0 when the module fits WeChat's WXWebAssembly
//! (MVP + mutable-globals + sign-ext, no exported Global), 1 when it does not, 2 on usage or I/O errors.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut json = false;
    let mut path = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--json" => json = true,
            "-h" | "--help" => {
                println!("usage: wasm-check <file.wasm> [--json]");
                return ExitCode::SUCCESS;
            }
            _ if path.is_none() && !arg.starts_with("--") => path = Some(arg),
            _ => {
                eprintln!("wasm-check: unexpected argument {arg:?}\nusage: wasm-check <file.wasm> [--json]");
                return ExitCode::from(2);
            }
        }
    }
    let Some(path) = path else {
        eprintln!("usage: wasm-check <file.wasm> [--json]");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("wasm-check: cannot read {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let report = wasm_check::check(&bytes);
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text(&path));
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
