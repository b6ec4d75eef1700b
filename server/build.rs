//! Embeds the operator console's FLV player into the server at build time.
//!
//! The player is `mpegts.js`, pinned in `tests/package.json` and installed by `scripts/setup`
//! (`npm ci` in `tests/`); its built file is copied into `OUT_DIR`, and `console/assets.rs`
//! includes it. The repository holds none of its source. A plain `cargo build` where npm has
//! not run still builds: the player is left empty, and the console says that previews need a
//! build after `scripts/setup` (everything else in the console works).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let player = manifest.join("../tests/node_modules/mpegts.js/dist/mpegts.js");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("mpegts.js");
    println!("cargo:rerun-if-changed={}", player.display());
    // npm extracts files with their packaged times (1985), which would not look newer than
    // this script's last run: the lock npm writes at every install is what changes.
    let installed = manifest.join("../tests/node_modules/.package-lock.json");
    println!("cargo:rerun-if-changed={}", installed.display());
    let bytes = match std::fs::read(&player) {
        Ok(b) => b,
        Err(_) => {
            println!(
                "cargo:warning=console previews off: {} not found (run scripts/setup, then build again)",
                player.display()
            );
            Vec::new()
        }
    };
    if let Err(e) = std::fs::write(&out, bytes) {
        println!("cargo:warning=cannot write {}: {e}", out.display());
        std::process::exit(1);
    }
}
