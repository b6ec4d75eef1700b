//! The `mprtc-server` binary as operators run it: settings from a TOML file, the environment and
//! flags (in that order of precedence), the `token` subcommand, typed config errors, SIGTERM.

use std::process::Command;

use serde_json::Value;

mod live;
use live::binary::{self, Running, BIN};
use live::probe;

fn write_config(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("mprtc.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Joins room `cfg` on a fresh socket: the answer.
async fn join(url: &str, app: &str, uid: u64, token: Option<&str>) -> Value {
    let mut ws = live::connect(url).await;
    live::ask(&mut ws, live::join(1, app, "cfg", uid, token)).await
}

#[tokio::test]
async fn file_env_and_flags_combine_and_sigterm_stops_cleanly() {
    let dir = probe::scratch("cli");
    let cfg = write_config(
        &dir,
        "listen = \"127.0.0.1:9\"\nurl_ttl_secs = 30\n[[apps]]\nkey = \"fileapp\"\nsecret = \"file-secret\"\n",
    );
    let srv = Running::start(
        Command::new(BIN)
            .args([
                "--config",
                cfg.to_str().unwrap(),
                "--public-host",
                "localhost",
                "--rtmp-listen",
                "127.0.0.1:0",
            ])
            .env("MPRTC_LISTEN", "127.0.0.1:0") // env beats the file's port 9
            .env("MPRTC_FLV_LISTEN", "127.0.0.1:0")
            .env("MPRTC_INSECURE_APPS", "envapp")
            .env("MPRTC_LOG", "warn"),
    );
    let signal = srv.signal();
    assert!(
        signal.starts_with("ws://localhost:"),
        "flag --public-host applies: {signal}"
    );
    assert!(
        !signal.ends_with(":9/ws"),
        "env MPRTC_LISTEN overrides the file"
    );
    let url = signal.replace("localhost", "127.0.0.1");

    // the env app joins without a token
    assert_eq!(join(&url, "envapp", 1, None).await["ok"], true);
    // the file app needs a token; one minted by the token subcommand from the same file works
    assert_eq!(join(&url, "fileapp", 2, None).await["err"]["code"], 4011);
    let cfg = cfg.to_str().unwrap();
    let out = binary::run(
        &[
            "token", "--config", cfg, "--app", "fileapp", "--room", "cfg", "--uid", "2",
        ],
        &[],
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        join(&url, "fileapp", 2, Some(out.stdout.trim())).await["ok"],
        true
    );

    // SIGTERM: clean exit
    let (status, text) = srv.stop_with(libc::SIGTERM);
    assert!(status.success(), "{status:?}: {text}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Starts the binary on loopback ports with `args` and `env` and insecure app `dbg`.
fn spawn(args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut all = vec!["--insecure-app", "dbg"];
    all.extend_from_slice(args);
    Running::with(&all, env)
}

/// The HTTP status of a WebSocket upgrade from a page of `origin`: 101 or the refusal.
async fn upgrade_status(url: &str, origin: &str) -> u16 {
    use tokio_tungstenite::tungstenite::{ClientRequestBuilder, Error};
    let req = ClientRequestBuilder::new(url.parse().unwrap()).with_header("Origin", origin);
    match tokio_tungstenite::connect_async(req).await {
        Ok((_, resp)) => resp.status().as_u16(),
        Err(Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("{origin}: {e}"),
    }
}

#[tokio::test]
async fn allowed_origins_come_from_file_env_or_flags() {
    let dir = probe::scratch("cli-origins");
    let cfg = write_config(
        &dir,
        "allowed_origins = [\"https://file.example\", \"http://127.0.0.1:3000\"]\n",
    );
    let cfg = cfg.to_str().unwrap();
    let env = [(
        "MPRTC_ALLOWED_ORIGINS",
        "https://env.example, https://env2.example:8443/",
    )];
    // (flags, environment, origins accepted, origins refused)
    type Case<'a> = (
        &'a [&'a str],
        &'a [(&'a str, &'a str)],
        &'a [&'a str],
        &'a [&'a str],
    );
    let cases: [Case; 3] = [
        // the file alone
        (
            &["--config", cfg],
            &[],
            &["https://file.example", "http://127.0.0.1:3000"],
            &["https://env.example"],
        ),
        // the environment (comma-separated) replaces the file's list
        (
            &["--config", cfg],
            &env,
            &["https://env.example", "https://ENV2.example:8443"],
            &["https://file.example", "https://env2.example"],
        ),
        // flags (repeatable) replace both
        (
            &[
                "--config",
                cfg,
                "--allowed-origin",
                "https://flag.example",
                "--allowed-origin",
                "https://flag2.example",
            ],
            &env,
            &["https://flag.example", "https://flag2.example"],
            &["https://env.example", "https://file.example"],
        ),
    ];
    for (args, env, allowed, refused) in cases {
        let srv = spawn(args, env);
        let url = srv.signal();
        for o in allowed {
            assert_eq!(upgrade_status(&url, o).await, 101, "{args:?} {env:?}: {o}");
        }
        for o in refused {
            assert_eq!(upgrade_status(&url, o).await, 403, "{args:?} {env:?}: {o}");
        }
        // Without an Origin header (a mini-program), the socket opens and joins.
        assert_eq!(join(&url, "dbg", 1, None).await["ok"], true);
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// An invalid allowed origin or media secret, from a flag or the environment, stops the server
/// with its code (the file's forms are in `settings.rs`'s table of refusals).
#[test]
fn bad_origins_and_media_secrets_exit_with_a_typed_error() {
    // An invalid allowed origin is named in the error.
    for (flag, env, entry) in [
        (Some("ftp://files.example"), None, "ftp://files.example"),
        (Some("https://"), None, "https://"),
        (
            None,
            Some("https://ok.example,https://user@x.example"),
            "https://user@x.example",
        ),
        (None, Some("https://ok.example,*"), "*"),
    ] {
        let err = refused(("--allowed-origin", flag), ("MPRTC_ALLOWED_ORIGINS", env));
        assert!(
            err.contains("error[config.bad_origin]") && err.contains(&format!("{entry:?}")),
            "{entry}: {err}"
        );
    }
    // An empty or short media secret from a flag or the environment (an `.env` template's
    // `MPRTC_MEDIA_SECRET=`) stops the server: with it anyone could sign media URLs.
    for (flag, env) in [
        (Some(""), None),
        (Some("0123456789abcdef"), None),
        (None, Some("")),
        (None, Some("short")),
    ] {
        let err = refused(("--media-secret", flag), ("MPRTC_MEDIA_SECRET", env));
        assert!(
            err.contains("error[config.bad_media_secret]"),
            "{flag:?} {env:?}: {err}"
        );
    }
}

/// `--version` names the binary and its version (what a vulnerability report gives, SECURITY.md).
#[test]
fn the_version_flag_prints_the_version() {
    let out = binary::run(&["--version"], &[]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let want = format!("mprtc-server {}", env!("CARGO_PKG_VERSION"));
    assert_eq!(out.stdout.trim(), want);
}

/// Secrets on the command line are visible to every local user: the server says so, naming
/// the flag (never the value), and points to the config file or the environment.
#[test]
fn secrets_given_as_flags_are_warned_about() {
    let secret = "flag-secret-0123456789abcdef-0123456789";
    let app = format!("envapp:{secret}");
    let srv = Running::with(&["--media-secret", secret], &[("MPRTC_APPS", &app)]);
    let (_, err) = srv.stop_with(libc::SIGKILL);
    assert!(
        err.contains("--media-secret") && err.contains("visible to every local user"),
        "{err}"
    );
    assert!(
        !err.contains("flag=\"--app\""),
        "MPRTC_APPS is not a flag: {err}"
    );
    assert!(!err.contains(secret), "{err}");
}

/// Runs the server with the flag and the environment variable set where given (name, value):
/// it must refuse to start (exit 2). What it printed on stderr.
fn refused(flag: (&str, Option<&str>), env: (&str, Option<&str>)) -> String {
    let mut args = Vec::new();
    if let (name, Some(value)) = flag {
        args.extend([name, value]);
    }
    let mut vars = Vec::new();
    if let (name, Some(value)) = env {
        vars.push((name, value));
    }
    let out = binary::refusal(&args, &vars);
    assert_eq!(out.code, Some(2), "{flag:?} {env:?}: {out:?}");
    out.stderr
}
