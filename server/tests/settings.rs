//! Every setting of `mprtc-server` reaches the binary from each of its three sources — its flag,
//! its `MPRTC_*` variable and the TOML file — and shows there by what the server then does:
//! the addresses it prints, what a join answers, the URLs it hands out, the connections it
//! serves, a config it refuses. The table is checked against `--help`, so a setting added
//! without a row here fails. Then the precedence (flag > environment > file), the settings that
//! have only some of the sources, and a table of refused configurations with their codes.

use std::path::Path;
use std::process::Command;

use mprtc_server::media::{MediaSigner, UrlKind};
use mprtc_server::token::Privileges;
use serde_json::{json, Value};

mod live;
use live::binary::{self, on_loopback, Running};
use live::{answer, ask, connect, join, probe, SECRET};

/// Where a setting is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Flag,
    Env,
    File,
}

/// What giving a setting its row's value must do.
#[derive(Clone, Copy, Debug)]
enum Effect {
    /// The server starts and [`observe`] sees the value at work.
    Seen,
    /// The value is out of range: the server refuses to start with this error code (how the
    /// settings whose effect takes a clock to see show that they arrive).
    Refused(&'static str),
}

/// `(setting, value, effect)`: every setting of the `Settings` struct whose flag and variable
/// are its name (`max_rooms`: `--max-rooms`, `MPRTC_MAX_ROOMS`). An empty value is made for
/// each run: a picked loopback address, a fresh directory, a script (see [`value_for`]).
const TABLE: &[(&str, &str, Effect)] = &[
    ("listen", "", SEEN),
    ("rtmp_listen", "", SEEN),
    ("flv_listen", "", SEEN),
    ("public_host", "media.test", SEEN),
    (
        "media_secret",
        "settings-media-secret-0123456789abcdef",
        SEEN,
    ),
    ("url_ttl_secs", "120", SEEN),
    ("max_frame_bytes", "300", SEEN),
    ("max_rooms", "1", SEEN),
    ("max_members_per_room", "1", SEEN),
    ("max_requests_per_sec", "1", SEEN),
    ("max_queued_bytes", "65535", BAD_QUEUE),
    ("max_connections", "1", SEEN),
    ("max_connections_per_ip", "1", SEEN),
    ("rtmp_max_connections", "1", SEEN),
    ("rtmp_max_connections_per_ip", "1", SEEN),
    ("flv_max_connections", "1", SEEN),
    ("flv_max_connections_per_ip", "1", SEEN),
    ("http_header_timeout_ms", "99", BAD_TIMEOUT),
    ("rtmp_admission_timeout_ms", "600001", BAD_TIMEOUT),
    ("ping_interval_ms", "1500", SEEN),
    ("ping_timeout_ms", "25000", SEEN),
    ("resume_window_ms", "0", SEEN),
    ("debug_token_endpoint", "true", SEEN),
    ("recordings_dir", "", SEEN),
    ("ffmpeg", "", SEEN),
    (
        "metrics_token",
        "settings-metrics-token-0123456789abcdef",
        SEEN,
    ),
];

const SEEN: Effect = Effect::Seen;
const BAD_QUEUE: Effect = Effect::Refused("config.bad_queue_limit");
const BAD_TIMEOUT: Effect = Effect::Refused("config.bad_listen_timeout");

/// Settings whose flag or variable is not named like the others, or that have no file key:
/// each is tested by its own test below.
const OTHERS: &[(&str, &str)] = &[
    ("--config", "MPRTC_CONFIG"),
    ("--app", "MPRTC_APPS"),
    ("--insecure-app", "MPRTC_INSECURE_APPS"),
    ("--allowed-origin", "MPRTC_ALLOWED_ORIGINS"), // cli.rs
    // The external engine's, which need one another: engine_settings.rs.
    ("--media", "MPRTC_MEDIA"),
    ("--media-rtmp-base", "MPRTC_MEDIA_RTMP_BASE"),
    ("--media-flv-base", "MPRTC_MEDIA_FLV_BASE"),
    ("--media-play-base", "MPRTC_MEDIA_PLAY_BASES"),
    ("--media-control", "MPRTC_MEDIA_CONTROL"),
    ("--media-hook-source", "MPRTC_MEDIA_HOOK_SOURCES"),
    ("--media-hook-secret", "MPRTC_MEDIA_HOOK_SECRET"),
    // A proxy's header believed by the login throttle: tls_proxy.rs, throttle.rs's unit tests.
    ("--trusted-proxy", "MPRTC_TRUSTED_PROXIES"),
    ("--log-format", "MPRTC_LOG_FORMAT"), // logs.rs
];

fn flag(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

fn var(key: &str) -> String {
    format!("MPRTC_{}", key.to_uppercase())
}

/// `key = value` as a TOML line: numbers and booleans bare, the rest a string.
fn toml_line(key: &str, value: &str) -> String {
    if value.parse::<u64>().is_ok() || value == "true" || value == "false" {
        format!("{key} = {value}\n")
    } else {
        format!("{key} = {value:?}\n")
    }
}

/// The binary with `key = value` given from `src` (a file in `dir` for [`Source::File`]), app
/// `sec` (secret [`SECRET`]) and insecure app `dbg` from the environment, and the listeners not
/// under test on loopback ports the system picks.
fn command(dir: &Path, key: &str, value: &str, src: Source) -> Command {
    let mut cmd = Command::new(binary::BIN);
    for (listener, f) in [
        ("listen", "--listen"),
        ("rtmp_listen", "--rtmp-listen"),
        ("flv_listen", "--flv-listen"),
    ] {
        if listener != key {
            cmd.args([f, "127.0.0.1:0"]);
        }
    }
    cmd.env("MPRTC_APPS", format!("sec:{SECRET}"))
        .env("MPRTC_INSECURE_APPS", "dbg")
        .env("MPRTC_LOG", "warn");
    match src {
        Source::Flag => {
            cmd.args([flag(key), value.to_owned()]);
        }
        Source::Env => {
            cmd.env(var(key), value);
        }
        Source::File => {
            let path = dir.join(format!("{key}.toml"));
            std::fs::write(&path, toml_line(key, value)).unwrap();
            cmd.arg("--config").arg(path);
        }
    }
    cmd
}

/// The real ffmpeg behind a script that first notes its arguments in `dir/ran`, so a test sees
/// which binary the server ran and with what.
fn noting_ffmpeg(dir: &Path) -> String {
    let note = dir.join("ran");
    let prelude = format!("echo \"$@\" >> '{}'", note.display());
    probe::ffmpeg_script(dir, "ffmpeg-noted.sh", &prelude)
}

/// The value of a row for one run: the row's, or a fresh one where the row leaves it empty.
fn value_for(key: &str, row: &str, dir: &Path) -> String {
    match (key, row) {
        (_, v) if !v.is_empty() => v.to_owned(),
        ("recordings_dir", _) => dir.join("recordings").display().to_string(),
        ("ffmpeg", _) => noting_ffmpeg(dir),
        _ => probe::picked_addr(),
    }
}

#[test]
fn every_setting_in_help_has_a_row() {
    let help = binary::run(&["serve", "--help"], &[]);
    assert_eq!(help.code, Some(0), "{help:?}");
    let words = |prefix: &str| -> Vec<String> {
        help.stdout
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .filter(|w| w.starts_with(prefix) && w.len() > prefix.len())
            .map(str::to_owned)
            .collect()
    };
    let known_flags: Vec<String> = TABLE
        .iter()
        .map(|r| flag(r.0))
        .chain(OTHERS.iter().map(|o| o.0.to_owned()))
        .chain(["--help".to_owned()])
        .collect();
    let known_vars: Vec<String> = TABLE
        .iter()
        .map(|r| var(r.0))
        .chain(OTHERS.iter().map(|o| o.1.to_owned()))
        .collect();
    for f in words("--") {
        assert!(known_flags.contains(&f), "{f} has no row in TABLE");
    }
    for v in words("MPRTC_") {
        assert!(known_vars.contains(&v), "{v} has no row in TABLE");
    }
    for f in &known_flags {
        assert!(help.stdout.contains(f.as_str()), "{f} is not in --help");
    }
    for v in &known_vars {
        assert!(help.stdout.contains(v.as_str()), "{v} is not in --help");
    }
}

#[tokio::test]
async fn every_setting_reaches_the_server_by_flag_by_env_and_by_file() {
    let dir = probe::scratch("settings");
    for &(key, row, effect) in TABLE {
        for src in [Source::Flag, Source::Env, Source::File] {
            let run_dir = dir.join(format!("{key}-{src:?}"));
            std::fs::create_dir_all(&run_dir).unwrap();
            let value = value_for(key, row, &run_dir);
            let mut cmd = command(&run_dir, key, &value, src);
            match effect {
                Effect::Refused(code) => {
                    let out = binary::output(&mut cmd);
                    out.refused_with(code);
                }
                Effect::Seen => {
                    let srv = Running::start(&mut cmd);
                    observe(key, &value, &srv, &run_dir).await;
                    eprintln!("{key} by {src:?}: seen");
                }
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A fresh connection joined to `room` of the insecure app `dbg` as `uid`: the socket and the
/// answer.
async fn join_dbg(srv: &Running, room: &str, uid: u64) -> (live::Ws, Value) {
    let mut ws = connect(&srv.signal()).await;
    let r = answer(&mut ws, join(1, "dbg", room, uid, None)).await;
    (ws, r)
}

/// A member of app `sec` in `room` joined with a token of `privileges`.
async fn join_sec_with(srv: &Running, room: &str, uid: u64, privileges: Privileges) -> live::Ws {
    let mut ws = connect(&srv.signal()).await;
    let t = live::token_for(room, &uid.to_string(), privileges);
    let r = answer(&mut ws, join(1, "sec", room, uid, Some(&t))).await;
    assert_eq!(r["ok"], true, "{r}");
    ws
}

/// The push URL a fresh member of `dbg` gets when it publishes.
async fn push_url(srv: &Running) -> String {
    let (mut ws, r) = join_dbg(srv, "urls", 1).await;
    assert_eq!(r["ok"], true, "{r}");
    let p = json!({"v":1,"id":2,"type":"publish","body":{"video":true,"audio":true}});
    let r = answer(&mut ws, p).await;
    r["body"]["url"].as_str().expect("a push URL").to_owned()
}

/// The value of `name` in a URL's query.
fn query_param(url: &str, name: &str) -> String {
    let q = url.split_once('?').expect("a query").1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {url}"))
        .to_owned()
}

/// Checks that the server `srv`, started with `key = value`, does what the setting says.
async fn observe(key: &str, value: &str, srv: &Running, dir: &Path) {
    let join_answer = || async {
        let (_ws, r) = join_dbg(srv, "seen", 1).await;
        assert_eq!(r["ok"], true, "{r}");
        r["body"].clone()
    };
    match key {
        "listen" => assert_eq!(srv.addr("signal"), value),
        "rtmp_listen" => assert_eq!(srv.addr("rtmp"), value),
        "flv_listen" => assert_eq!(srv.addr("flv"), value),
        "public_host" => {
            for e in ["signal", "rtmp", "flv"] {
                let host = binary::host_port(&srv.endpoint(e));
                assert!(host.starts_with("media.test:"), "{e}: {host}");
            }
        }
        "media_secret" => {
            let url = push_url(srv).await;
            let (path, query) = url.split_once('?').unwrap();
            let name = path.rsplit('/').next().unwrap();
            let now = live::now_s();
            let ours = MediaSigner::new(value.as_bytes().to_vec(), "", "", 60);
            assert!(ours.verify(UrlKind::Push, name, query, now).is_ok());
            let other = MediaSigner::new(vec![7u8; 40], "", "", 60);
            assert!(other.verify(UrlKind::Push, name, query, now).is_err());
        }
        "url_ttl_secs" => {
            let before = live::now_s();
            let url = push_url(srv).await;
            let after = live::now_s();
            let e: u64 = query_param(&url, "e").parse().unwrap();
            assert!((before + 120..=after + 120).contains(&e), "{url}");
        }
        "max_frame_bytes" => {
            let (mut ws, _) = join_dbg(srv, "frames", 1).await;
            let big = json!({"v":1,"id":2,"type":"ping","body":{"ts":1,"pad":"x".repeat(400)}});
            // Too large to be read for its id: the refusal answers no request id.
            assert_eq!(live::code(&ask(&mut ws, big).await), 4004);
            let small = json!({"v":1,"id":3,"type":"ping","body":{"ts":1}});
            assert_eq!(answer(&mut ws, small).await["ok"], true);
        }
        "max_rooms" => {
            let (_a, r) = join_dbg(srv, "room-a", 1).await;
            assert_eq!(r["ok"], true, "{r}");
            let (_b, r) = join_dbg(srv, "room-b", 2).await;
            assert_eq!(live::code(&r), 4029);
        }
        "max_members_per_room" => {
            let (_a, r) = join_dbg(srv, "full", 1).await;
            assert_eq!(r["ok"], true, "{r}");
            let (_b, r) = join_dbg(srv, "full", 2).await;
            assert_eq!(live::code(&r), 4029);
        }
        "max_requests_per_sec" => {
            // The join took the one request of this second; a burst of pings gets one 4029.
            let (mut ws, _) = join_dbg(srv, "rate", 1).await;
            for id in 2..12 {
                let ping = json!({"v":1,"id":id,"type":"ping","body":{"ts":1}});
                ask_nothing(&mut ws, ping).await;
            }
            loop {
                let v = live::recv(&mut ws).await;
                if v["ok"] == false {
                    assert_eq!(live::code(&v), 4029);
                    break;
                }
            }
        }
        "max_connections" | "max_connections_per_ip" => {
            let seen =
                probe::two_connections(&srv.addr("signal"), &probe::http_get("/healthz")).await;
            assert_eq!(seen, (true, false), "{key}");
        }
        "rtmp_max_connections" | "rtmp_max_connections_per_ip" => {
            let seen = probe::two_connections(&srv.addr("rtmp"), &probe::rtmp_c0c1()).await;
            assert_eq!(seen, (true, false), "{key}");
        }
        "flv_max_connections" | "flv_max_connections_per_ip" => {
            let seen =
                probe::two_connections(&srv.addr("flv"), &probe::http_get("/live/x.flv")).await;
            assert_eq!(seen, (true, false), "{key}");
        }
        "ping_interval_ms" => {
            let b = join_answer().await;
            assert_eq!(
                (
                    b["ping_interval_ms"].as_u64(),
                    b["ping_timeout_ms"].as_u64()
                ),
                (Some(1500), Some(3000))
            );
        }
        "ping_timeout_ms" => {
            assert_eq!(join_answer().await["ping_timeout_ms"], 25000);
        }
        "resume_window_ms" => resume_window_zero(srv).await,
        "debug_token_endpoint" => {
            let (status, _, body) = live::http::exchange(
                &srv.addr("signal"),
                None,
                "GET",
                "/api/v1/debug/token?appkey=sec&room=r&uid=1",
                None,
                "",
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
        "recordings_dir" | "ffmpeg" => compositor_started(srv, key, value, dir).await,
        "metrics_token" => {
            let scrape = |token: &str| {
                let auth = format!("Authorization: Bearer {token}\r\n");
                let req =
                    format!("GET /metrics HTTP/1.1\r\nHost: t\r\n{auth}Connection: close\r\n\r\n");
                let addr = srv.addr("signal");
                async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                    s.write_all(req.as_bytes()).await.unwrap();
                    let mut resp = String::new();
                    s.read_to_string(&mut resp).await.unwrap();
                    resp
                }
            };
            let ok = scrape(value).await;
            assert!(
                ok.starts_with("HTTP/1.1 200") && ok.contains("mprtc_rooms"),
                "{ok}"
            );
            let wrong = scrape("settings-metrics-token-0123456789abcdeX").await;
            assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
        }
        other => panic!("no observation for {other}"),
    }
}

/// Sends `frame` without waiting for anything.
async fn ask_nothing(ws: &mut live::Ws, frame: Value) {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
}

/// With a resume window of 0 a dropped connection is a leave: the room hears it at once and
/// the member's resume finds nothing to resume.
async fn resume_window_zero(srv: &Running) {
    let (mut stay, r) = join_dbg(srv, "drops", 1).await;
    assert_eq!(r["ok"], true, "{r}");
    let (gone, r) = join_dbg(srv, "drops", 2).await;
    let session = r["body"]["session"].as_str().unwrap().to_owned();
    // Dropped without a close frame: a lost connection, which a resume window would cover.
    drop(gone);
    let (left, _) = live::until_event(&mut stay, "member-left").await;
    assert_eq!(left["body"]["uid"], 2, "{left}");
    let mut back = connect(&srv.signal()).await;
    let mut j = join(1, "dbg", "drops", 2, None);
    j["body"]["resume"] = json!({"session": session, "last_seq": 0});
    let r = answer(&mut back, j).await;
    // A fresh join, or told that the session ended: either way nothing was resumed.
    let fresh = r["ok"] == true && r["body"]["resumed"] != true;
    assert!(fresh || live::code(&r) == 4030, "nothing to resume: {r}");
}

/// A member of app `sec` allowed to record adds a recorded task pushed to the server's own RTMP
/// listener: the compositor the server starts is the configured binary (which notes its
/// arguments in `dir/ran`) and records into the configured directory.
async fn compositor_started(srv: &Running, key: &str, value: &str, dir: &Path) {
    let p = Privileges {
        record: Some(true),
        ..Default::default()
    };
    let mut ws = join_sec_with(srv, "tasks", 1, p).await;
    let out = format!("{}/task-out", srv.endpoint("rtmp"));
    let mut task = probe::task("t1", &out, 1, key == "recordings_dir");
    // ffmpeg composes nothing since the live compositor (mprtc-compositor): it runs the
    // passthrough of `singleVideoNoTrans`, which needs the member live.
    let _pusher = if key == "ffmpeg" {
        let publish = json!({"v":1,"id":3,"type":"publish","body":{"video":true,"audio":true}});
        let url = answer(&mut ws, publish).await["body"]["url"]
            .as_str()
            .expect("a push URL")
            .to_owned();
        task["config"] = json!({"singleVideoNoTrans": true});
        Some(probe::pusher(&url))
    } else {
        None
    };
    let r = answer(&mut ws, probe::add_tasks(2, vec![task])).await;
    assert_eq!(r["ok"], true, "{r}");
    // The first status comes once the compositor ran: pushing (505) or failed (506).
    let status = loop {
        let v = live::recv_within(&mut ws, binary::BOUND).await;
        if v["type"] == "task-status" {
            break v;
        }
    };
    assert!(
        [505, 506].contains(&status["body"]["code"].as_u64().unwrap_or(0)),
        "{status}"
    );
    match key {
        "ffmpeg" => {
            // Once the member is live, the task runs as its passthrough.
            live::until("the configured ffmpeg", || dir.join("ran").exists()).await;
            let ran = std::fs::read_to_string(dir.join("ran")).expect("the configured ffmpeg ran");
            assert!(ran.contains("task-out"), "{ran}");
        }
        _ => {
            let rec = Path::new(value);
            assert!(rec.is_dir(), "{} made for the recording", rec.display());
        }
    }
}

/// The same setting from two or three sources: the flag wins over the environment, which
/// wins over the file (seen in the heartbeat a join is told).
#[tokio::test]
async fn flags_win_over_the_environment_which_wins_over_the_file() {
    let dir = probe::scratch("precedence");
    let file = dir.join("mprtc.toml");
    std::fs::write(&file, "ping_interval_ms = 1100\n").unwrap();
    for (env, flag, want) in [
        (None, None, 1100),
        (Some("1200"), None, 1200),
        (Some("1200"), Some("1300"), 1300),
        (None, Some("1300"), 1300),
    ] {
        let mut cmd = on_loopback();
        cmd.arg("--config").arg(&file);
        cmd.env("MPRTC_INSECURE_APPS", "dbg")
            .env("MPRTC_LOG", "warn");
        if let Some(e) = env {
            cmd.env("MPRTC_PING_INTERVAL_MS", e);
        }
        if let Some(f) = flag {
            cmd.args(["--ping-interval-ms", f]);
        }
        let srv = Running::start(&mut cmd);
        let mut ws = connect(&srv.signal()).await;
        let r = ask(&mut ws, join(1, "dbg", "p", 1, None)).await;
        assert_eq!(r["body"]["ping_interval_ms"], want, "{env:?} {flag:?}: {r}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Flags, environment, the secure app and the insecure app they configure.
type AppsCase<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str, &'a str);

/// The apps: `--app` / `MPRTC_APPS` / `[[apps]]` with a secret (a join needs a token), and
/// `--insecure-app` / `MPRTC_INSECURE_APPS` / `insecure = true` (a join needs none); the file
/// found by `--config` or `MPRTC_CONFIG`; and an app's own `max_rooms`, which only the file has.
#[tokio::test]
async fn apps_and_the_config_file_from_every_source() {
    let dir = probe::scratch("apps");
    let file = dir.join("apps.toml");
    std::fs::write(
        &file,
        format!(
            "[[apps]]\nkey = \"fileapp\"\nsecret = \"{SECRET}\"\n\
             [[apps]]\nkey = \"filedbg\"\ninsecure = true\nmax_rooms = 1\n"
        ),
    )
    .unwrap();
    let cfg = file.display().to_string();
    let secure = format!("flagapp:{SECRET}");
    let env_secure = format!("envapp:{SECRET}");
    // (flags, environment, the secure app, the insecure app) each started alone
    let cases: [AppsCase; 4] = [
        (
            vec!["--app", &secure, "--insecure-app", "flagdbg"],
            vec![],
            "flagapp",
            "flagdbg",
        ),
        (
            vec![],
            vec![
                ("MPRTC_APPS", env_secure.as_str()),
                ("MPRTC_INSECURE_APPS", "envdbg"),
            ],
            "envapp",
            "envdbg",
        ),
        (vec!["--config", &cfg], vec![], "fileapp", "filedbg"),
        (vec![], vec![("MPRTC_CONFIG", &cfg)], "fileapp", "filedbg"),
    ];
    for (args, env, app, dbg) in cases {
        let srv = Running::with(&args, &env);
        let url = srv.signal();
        let mut ws = connect(&url).await;
        let r = answer(&mut ws, join(1, app, "r1", 5, None)).await;
        assert_eq!(live::code(&r), 4011, "{app} needs a token");
        let t = mprtc_server::token::mint(
            SECRET.as_bytes(),
            app,
            "r1",
            5,
            Privileges::default(),
            live::now_s(),
            60,
        );
        let r = answer(&mut ws, join(2, app, "r1", 5, Some(&t))).await;
        assert_eq!(r["ok"], true, "{app}: {r}");
        let mut ws = connect(&url).await;
        let r = answer(&mut ws, join(1, dbg, "r1", 6, None)).await;
        assert_eq!(r["ok"], true, "{dbg}: {r}");
        // The file's insecure app may hold one room; the others the default 100.
        let mut other = connect(&url).await;
        let r = answer(&mut other, join(1, dbg, "r2", 6, None)).await;
        if dbg == "filedbg" {
            assert_eq!(live::code(&r), 4029, "[[apps]] max_rooms: {r}");
        } else {
            assert_eq!(r["ok"], true, "{dbg}: {r}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `MPRTC_LOG` filters what the server logs: a connection's debug line at `debug`, not even the
/// info line that it is ready at `error`, and `info` when it is not set.
#[tokio::test]
async fn the_log_filter_comes_from_the_environment() {
    let all = ["mprtc-server ready", "DEBUG", "connected"];
    for (filter, shown, hidden) in [
        (Some("debug"), &all[..], &[][..]),
        (Some("error"), &[], &all[..]),
        (None, &all[..1], &all[1..]),
    ] {
        let mut cmd = on_loopback();
        cmd.args(["--insecure-app", "dbg"]).env_remove("MPRTC_LOG");
        if let Some(f) = filter {
            cmd.env("MPRTC_LOG", f);
        }
        let srv = Running::start(&mut cmd);
        let mut ws = connect(&srv.signal()).await;
        assert_eq!(
            answer(&mut ws, join(1, "dbg", "l", 1, None)).await["ok"],
            true
        );
        drop(ws);
        let (status, text) = srv.stop_with(libc::SIGTERM);
        assert!(status.success(), "{text}");
        for s in shown {
            assert!(text.contains(s), "{filter:?}: no {s:?} in\n{text}");
        }
        for s in hidden {
            assert!(!text.contains(s), "{filter:?}: {s:?} in\n{text}");
        }
    }
}

/// `public_host` names the host of every URL the server hands out: the push URL a member gets
/// and the RTMP and HTTP-FLV play URLs another member gets for it.
#[tokio::test]
async fn the_public_host_is_in_push_and_play_urls() {
    let srv = Running::with(
        &["--public-host", "rtc.example.test", "--insecure-app", "dbg"],
        &[],
    );
    // The public host need not resolve here: the test reaches the server on loopback.
    let signal = srv.signal();
    let local = format!("ws://127.0.0.1:{}", signal.rsplit(':').next().unwrap());
    let (rtmp_port, flv_port) = (
        port_of(&srv.endpoint("rtmp")),
        port_of(&srv.endpoint("flv")),
    );
    let mut a = connect(&local).await;
    assert_eq!(
        answer(&mut a, join(1, "dbg", "ph", 1, None)).await["ok"],
        true
    );
    let p = json!({"v":1,"id":2,"type":"publish","body":{"video":true,"audio":true}});
    let push = answer(&mut a, p).await["body"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        push.starts_with(&format!("rtmp://rtc.example.test:{rtmp_port}/live/")),
        "{push}"
    );
    let mut b = connect(&local).await;
    assert_eq!(
        answer(&mut b, join(1, "dbg", "ph", 2, None)).await["ok"],
        true
    );
    let s = json!({"v":1,"id":2,"type":"subscribe","body":{"uid":1,"video":true}});
    let r = answer(&mut b, s).await;
    let (play, flv) = (
        r["body"]["url"].as_str().unwrap(),
        r["body"]["flv_url"].as_str().unwrap(),
    );
    assert!(
        play.starts_with(&format!("rtmp://rtc.example.test:{rtmp_port}/live/")),
        "{play}"
    );
    assert!(
        flv.starts_with(&format!("http://rtc.example.test:{flv_port}/live/")),
        "{flv}"
    );
}

/// The port of a URL (`scheme://host:port/...`).
fn port_of(url: &str) -> String {
    let hp = binary::host_port(url);
    hp.rsplit(':').next().unwrap().to_owned()
}

/// Configurations the server refuses to start with, from each source: the exit status is 2
/// and stderr names the error's stable code (clap's own refusals of a malformed value or an
/// unknown flag, before any config is read, say `error:` and name the flag).
#[test]
fn refused_configurations_exit_2_with_their_code() {
    let dir = probe::scratch("refusals");
    let toml = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let file_cases: &[(&str, &str)] = &[
        ("surprise = true\n", "config.parse"),
        ("listen = 5\n", "config.parse"),
        ("config = \"other.toml\"\n", "config.parse"),
        ("[tasks]\nsurprise = 1\n", "config.parse"),
        (
            "[[apps]]\nkey = \"a\"\nsecret = \"s\"\nsurprise = 1\n",
            "config.parse",
        ),
        ("[[apps]]\nkey = \"a\"\n", "config.app_without_secret"),
        (
            "[[apps]]\nkey = \"a\"\nsecret = \"\"\n",
            "config.app_without_secret",
        ),
        (
            "[[apps]]\nkey = \"a b\"\ninsecure = true\n",
            "config.bad_app_key",
        ),
        (
            "[[apps]]\nkey = \"a\"\ninsecure = true\n[[apps]]\nkey = \"a\"\ninsecure = true\n",
            "config.duplicate_app",
        ),
        (
            "allowed_origins = [\"https://a.example/p\"]\n",
            "config.bad_origin",
        ),
        ("media_secret = \"\"\n", "config.bad_media_secret"),
        ("media_secret = \"short\"\n", "config.bad_media_secret"),
        ("max_frame_bytes = 255\n", "config.bad_frame_limit"),
        ("url_ttl_secs = 604801\n", "config.bad_ttl"),
        ("ping_interval_ms = 99\n", "config.bad_heartbeat"),
        ("resume_window_ms = 600001\n", "config.bad_resume_window"),
        ("max_rooms = 0\n", "config.bad_limit"),
    ];
    for (i, (text, code)) in file_cases.iter().enumerate() {
        let path = toml(&format!("bad-{i}.toml"), text);
        binary::refusal(&["--config", &path], &[]).refused_with(code);
    }
    let env_cases: &[(&str, &str, &str)] = &[
        ("MPRTC_APPS", "no-colon-here", "config.bad_app_flag"),
        ("MPRTC_APPS", "bad key:secret", "config.bad_app_key"),
        ("MPRTC_INSECURE_APPS", "a,a", "config.duplicate_app"),
        ("MPRTC_MEDIA_SECRET", "", "config.bad_media_secret"),
        ("MPRTC_MAX_MEMBERS_PER_ROOM", "0", "config.bad_limit"),
        ("MPRTC_URL_TTL_SECS", "0", "config.bad_ttl"),
        ("MPRTC_PING_TIMEOUT_MS", "120001", "config.bad_heartbeat"),
        ("MPRTC_CONFIG", "/nonexistent/mprtc.toml", "config.read"),
    ];
    for (name, value, code) in env_cases {
        binary::refusal(&[], &[(name, value)]).refused_with(code);
    }
    let flag_cases: &[(&[&str], &str)] = &[
        (&["--max-requests-per-sec", "0"], "config.bad_limit"),
        (&["--max-frame-bytes", "1048577"], "config.bad_frame_limit"),
        (
            &["--ping-interval-ms", "1000", "--ping-timeout-ms", "500"],
            "config.bad_heartbeat",
        ),
        (
            &["--max-queued-bytes", "1073741825"],
            "config.bad_queue_limit",
        ),
        (
            &[
                "--flv-max-connections",
                "4",
                "--flv-max-connections-per-ip",
                "5",
            ],
            "config.bad_connection_limit",
        ),
        (
            &["--media-secret", "0123456789abcdef"],
            "config.bad_media_secret",
        ),
        (&["--allowed-origin", "*"], "config.bad_origin"),
        (&["--config", "/nonexistent/mprtc.toml"], "config.read"),
    ];
    for (args, code) in flag_cases {
        binary::refusal(args, &[]).refused_with(code);
    }
    // Values clap cannot read, and flags it does not know.
    for (args, named) in [
        (&["--max-rooms", "many"][..], "--max-rooms"),
        (&["--listen", "not-an-address"], "--listen"),
        (
            &["--debug-token-endpoint", "maybe"],
            "--debug-token-endpoint",
        ),
        (&["--no-such-setting", "1"], "--no-such-setting"),
    ] {
        let out = binary::run(args, &[]);
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert!(
            out.stderr.contains("error:") && out.stderr.contains(named),
            "{out:?}"
        );
    }
    let out = binary::run(&[], &[("MPRTC_MAX_ROOMS", "many")]);
    assert_eq!(out.code, Some(2), "{out:?}");
    std::fs::remove_dir_all(&dir).ok();
}
