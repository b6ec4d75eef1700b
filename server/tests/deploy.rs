//! The files of `deploy/` as an operator installs them: the example `mprtc.toml` starts the
//! server as it is and lists every setting of `serve --help` and every key the file reader
//! knows, `[tasks]` and `[[apps]]` included (so it cannot fall behind the server), each of its
//! commented settings is a real key with a value of the right type, systemd accepts
//! `mprtc-server.service` with its hardening, and what runs under it works without
//! writable-executable memory. (The TLS proxy configuration is tls_proxy.rs's.)

use std::path::{Path, PathBuf};
use std::process::Command;

use mprtc_server::config::FileConfig;

mod live;
use live::binary::{self, Running, BIN};
use live::probe;

/// A file of `deploy/`.
fn deploy(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(name)
}

fn example() -> String {
    std::fs::read_to_string(deploy("mprtc.toml")).unwrap()
}

/// The server binary `cmd` run as `serve --config deploy/mprtc.toml`, only its listeners moved
/// to loopback ports the system picks, up to its ready line.
fn example_server(cmd: &mut Command) -> Running {
    Running::start(
        cmd.arg("serve")
            .arg("--config")
            .arg(deploy("mprtc.toml"))
            .args(["--listen", "127.0.0.1:0"])
            .args(["--rtmp-listen", "127.0.0.1:0"])
            .args(["--flv-listen", "127.0.0.1:0"])
            .env("MPRTC_LOG", "warn"),
    )
}

#[test]
fn the_example_config_starts_the_server_as_it_is() {
    let srv = example_server(&mut Command::new(BIN));
    // The file's public_host is in the URLs, so the file was read.
    assert!(
        srv.endpoint("rtmp").starts_with("rtmp://rtc.example.com:"),
        "{}",
        srv.ready
    );
}

/// `--flag` of `serve --help` → the file key that sets it (the flag's name with `_`, but for
/// the repeatable flags, whose keys are plural lists, and `--app` / `--insecure-app`, which are
/// `[[apps]]` tables with `key`, `secret` and `insecure`).
fn key_of(flag: &str) -> Option<String> {
    let name = flag.strip_prefix("--")?.replace('-', "_");
    Some(match name.as_str() {
        "help" | "version" | "config" => return None,
        "app" => "[[apps]]".into(),
        "insecure_app" => "insecure".into(),
        "allowed_origin" | "media_play_base" | "media_hook_source" => format!("{name}s"),
        "trusted_proxy" => "trusted_proxies".into(),
        _ => name,
    })
}

/// Whether `text` sets or shows `key` on a line of its own, commented or not.
fn has_key(text: &str, key: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start_matches('#').trim();
        l == key || l.starts_with(&format!("{key} = "))
    })
}

#[test]
fn the_example_config_lists_every_setting_of_help() {
    let help = binary::run(&["serve", "--help"], &[]);
    assert_eq!(help.code, Some(0), "{help:?}");
    let text = example();
    let flags: Vec<&str> = help
        .stdout
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .collect();
    assert!(flags.len() > 30, "too few flags in --help: {flags:?}");
    for flag in flags {
        if let Some(key) = key_of(flag) {
            assert!(
                has_key(&text, &key),
                "{flag}: no `{key} = ` in deploy/mprtc.toml"
            );
        }
    }
    // The `[[apps]]` table's own keys and the `[tasks]` table.
    for key in ["[tasks]", "key", "secret", "insecure", "max_rooms"] {
        assert!(has_key(&text, key), "no `{key}` in deploy/mprtc.toml");
    }
}

/// The keys the server's file reader knows in `table` (`""`: the top level), as serde lists them
/// when refusing an unknown one: the file's own truth, beyond what `--help` shows.
fn known_keys(dir: &Path, table: &str) -> Vec<String> {
    let path = dir.join("probe.toml");
    std::fs::write(&path, format!("{table}\nno_such_key = 1\n")).unwrap();
    let err = FileConfig::load(&path).expect_err("an unknown key is refused");
    let text = err.to_string();
    let list = text
        .split_once("expected one of ")
        .unwrap_or_else(|| panic!("no key list in {text}"))
        .1;
    list.split(", ")
        .map(|k| k.trim().trim_matches('`').to_owned())
        .collect()
}

#[test]
fn the_example_config_lists_every_key_the_file_reader_knows() {
    let text = example();
    let dir = probe::scratch("deploy-keys");
    for table in ["", "[tasks]", "[[apps]]"] {
        let keys = known_keys(&dir, table);
        assert!(keys.len() > 3, "{table}: {keys:?}");
        for key in keys {
            let shown = match (table, key.as_str()) {
                ("", "apps") => "[[apps]]".to_owned(),
                ("", "tasks") => "[tasks]".to_owned(),
                _ => key,
            };
            assert!(
                has_key(&text, &shown),
                "{table} {shown}: not in deploy/mprtc.toml"
            );
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The example with every `# key = value` and `# [table]` line uncommented.
fn uncommented(text: &str) -> String {
    text.lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if rest.starts_with('[')
                    || rest.split_once(" = ").is_some_and(|(k, _)| {
                        !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    }) =>
            {
                rest
            }
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_commented_setting_of_the_example_is_a_key_the_server_reads() {
    let text = uncommented(&example());
    let dir = probe::scratch("deploy-toml");
    let path = dir.join("all.toml");
    std::fs::write(&path, &text).unwrap();
    // Unknown keys and values of the wrong type are refused here (deny_unknown_fields).
    let all = FileConfig::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(all.file_apps.len(), 1, "the [[apps]] example");
    assert!(!all.tasks.output_hosts.is_empty(), "the [tasks] examples");
    assert!(
        !all.media_control.is_empty(),
        "the external engine's examples"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The unit checked by systemd's own `systemd-analyze verify` (every directive known and well
/// formed, the binary present, the dependencies resolvable) in a private root holding the
/// built binary where the unit expects it, and its exposure scored by `systemd-analyze
/// security`.
#[test]
fn systemd_accepts_the_unit_and_scores_it_hardened() {
    const ANALYZE: &str = "/usr/bin/systemd-analyze";
    if !Path::new(ANALYZE).exists() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{ANALYZE} missing under CI=true: scripts/setup installs systemd");
        }
        eprintln!("skipping: {ANALYZE} is not installed (scripts/setup installs systemd)");
        return;
    }
    let root = probe::scratch("deploy-unit");
    let units = root.join("etc/systemd/system");
    let bin = root.join("usr/local/bin");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(root.join("usr/lib/systemd")).unwrap();
    // The targets the unit orders itself after.
    let copy = Command::new("cp")
        .arg("-a")
        .arg("/usr/lib/systemd/system")
        .arg(root.join("usr/lib/systemd/"))
        .status()
        .unwrap();
    assert!(copy.success());
    std::fs::copy(BIN, bin.join("mprtc-server")).unwrap();
    let unit = units.join("mprtc-server.service");
    std::fs::copy(deploy("mprtc-server.service"), &unit).unwrap();
    let root_arg = format!("--root={}", root.display());
    let verify = Command::new(ANALYZE)
        .args(["verify", &root_arg])
        .arg(&unit)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verify.stderr);
    // A misspelt directive or syscall group is only a warning: none may be printed.
    assert!(
        verify.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );
    let security = Command::new(ANALYZE)
        .args([
            "security",
            "--offline=yes",
            &root_arg,
            "mprtc-server.service",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&security.stdout);
    let level: f64 = out
        .lines()
        .find_map(|l| l.split("mprtc-server.service: ").nth(1))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level: {out}"));
    // 0 is locked down, 10 is unprotected; systemd calls below 2 "OK".
    assert!(level < 2.0, "exposure {level}: {out}");
    let _ = std::fs::remove_dir_all(root);
}

/// `cmd` with the kernel's rule behind `MemoryDenyWriteExecute=yes` set for it before it runs
/// (prctl `PR_SET_MDWE`, kept across exec and by its children): no memory mapped writable and
/// executable, none made executable later.
fn without_wx_memory(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    let refuse = libc::c_ulong::from(libc::PR_MDWE_REFUSE_EXEC_GAIN);
    // SAFETY: prctl(2) with integer arguments only, between fork and exec; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_MDWE, refuse, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// What the unit's `MemoryDenyWriteExecute=yes` demands, run without systemd: the server starts
/// under the kernel's same rule, and ffmpeg composes as a push task's compositor does (a scaled
/// and padded overlay, libx264 tuned for live, AAC, FLV) under it.
#[test]
fn the_server_and_ffmpeg_run_without_writable_executable_memory() {
    let probe = without_wx_memory(&mut Command::new("true")).status();
    if let Err(e) = probe {
        // Kernels before 6.3 have no PR_SET_MDWE (systemd then enforces the rule with seccomp).
        eprintln!("skipping: PR_SET_MDWE is not available here: {e}");
        return;
    }
    let srv = example_server(without_wx_memory(&mut Command::new(BIN)));
    assert!(srv.ready["endpoints"]["signal"].is_string());
    let dir = probe::scratch("deploy-mdwe");
    let out = dir.join("composed.flv");
    let graph = "[0:v]scale=320:180[a];[1:v]pad=640:360[b];[b][a]overlay=x=320:y=180[vout]";
    let ffmpeg = without_wx_memory(&mut Command::new("ffmpeg"))
        .args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args(["-f", "lavfi", "-i", "testsrc2=s=640x360:r=15:d=2"])
        .args(["-f", "lavfi", "-i", "smptebars=s=320x180:r=15:d=2"])
        .args(["-f", "lavfi", "-i", "sine=d=2"])
        .args(["-filter_complex", graph, "-map", "[vout]", "-map", "2:a"])
        .args(["-c:v", "libx264", "-preset", "veryfast"])
        .args(["-tune", "zerolatency"])
        .args(["-profile:v", "main", "-pix_fmt", "yuv420p", "-g", "30"])
        .args(["-c:a", "aac", "-f", "flv", "-y"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(ffmpeg.status.success(), "ffmpeg under MDWE: {ffmpeg:?}");
    assert!(std::fs::metadata(&out).unwrap().len() > 1000);
    let _ = std::fs::remove_dir_all(dir);
}
