//! The `mprtc-server` binary as operators run it: settings from a TOML file, the environment and
//! flags (in that order of precedence), the `token` subcommand, typed config errors, SIGTERM.

use std::process::{Command, Stdio};

use serde_json::Value;

mod live;
use live::binary::{self, BIN};

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
    let dir = std::env::temp_dir().join(format!("mprtc-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = write_config(
        &dir,
        "listen = \"127.0.0.1:9\"\nurl_ttl_secs = 30\n[[apps]]\nkey = \"fileapp\"\nsecret = \"file-secret\"\n",
    );
    let (child, line, _) = binary::spawn_ready(
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
            .env("MPRTC_LOG", "warn")
            .stderr(Stdio::null()),
    );
    let signal = binary::signal_url(&line);
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
    let out = Command::new(BIN)
        .args([
            "token",
            "--config",
            cfg.to_str().unwrap(),
            "--app",
            "fileapp",
            "--room",
            "cfg",
            "--uid",
            "2",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        join(&url, "fileapp", 2, Some(token.trim())).await["ok"],
        true
    );

    // SIGTERM: clean exit
    let status = binary::terminate(child).await;
    assert!(status.success(), "{status:?}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Starts the binary on loopback ports with `args` and `env`; returns it and its signaling URL.
fn spawn(args: &[&str], env: &[(&str, &str)]) -> (std::process::Child, String) {
    let (child, line, _) = binary::spawn_ready(
        binary::on_loopback()
            .args(["--insecure-app", "dbg"])
            .args(args)
            .envs(env.iter().copied())
            .env("MPRTC_LOG", "warn")
            .stderr(Stdio::null()),
    );
    (child, binary::signal_url(&line))
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
    let dir = std::env::temp_dir().join(format!("mprtc-cli-origins-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
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
        let (mut child, url) = spawn(args, env);
        for o in allowed {
            assert_eq!(upgrade_status(&url, o).await, 101, "{args:?} {env:?}: {o}");
        }
        for o in refused {
            assert_eq!(upgrade_status(&url, o).await, 403, "{args:?} {env:?}: {o}");
        }
        // Without an Origin header (a mini-program), the socket opens and joins.
        assert_eq!(join(&url, "dbg", 1, None).await["ok"], true);
        child.kill().unwrap();
        child.wait().unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_configs_exit_with_a_typed_error() {
    let dir = std::env::temp_dir().join(format!("mprtc-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (text, code) in [
        ("listen = 5\n", "config.parse"),
        ("surprise = true\n", "config.parse"),
        ("[[apps]]\nkey = \"a\"\n", "config.app_without_secret"),
        (
            "allowed_origins = [\"https://a.example/path\"]\n",
            "config.bad_origin",
        ),
        ("media_secret = \"\"\n", "config.bad_media_secret"),
        ("media_secret = \"short\"\n", "config.bad_media_secret"),
    ] {
        let cfg = write_config(&dir, text);
        let out = Command::new(BIN)
            .args(["--config", cfg.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("error[{code}]")), "{text}: {err}");
    }
    // An invalid allowed origin, from a flag or the environment, is named in the error.
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
    let out = Command::new(BIN)
        .args(["--config", "/nonexistent/mprtc.toml"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("error[config.read]"));
    let out = Command::new(BIN)
        .args(["token", "--app", "a", "--room", "r", "--uid", "1"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("error[token.no_secret]"));
    std::fs::remove_dir_all(&dir).ok();
}

/// Secrets on the command line are visible to every local user: the server says so, naming
/// the flag (never the value), and points to the config file or the environment.
#[test]
fn secrets_given_as_flags_are_warned_about() {
    let secret = "flag-secret-0123456789abcdef-0123456789";
    let (mut child, line, _) = binary::spawn_ready(
        binary::on_loopback()
            .args(["--media-secret", secret])
            .env("MPRTC_APPS", format!("envapp:{secret}"))
            .env("MPRTC_LOG", "warn")
            .stderr(Stdio::piped()),
    );
    assert!(line.contains("\"ready\""), "{line}");
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
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
    let mut cmd = Command::new(BIN);
    if let (name, Some(value)) = flag {
        cmd.args([name, value]);
    }
    if let (name, Some(value)) = env {
        cmd.env(name, value);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{flag:?} {env:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}
