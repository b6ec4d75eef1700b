//! The external media engine's settings (`media`, `media_rtmp_base`, `media_flv_base`,
//! `media_play_bases`, `media_control`, `media_hook_secret`, `media_hook_sources`) reach the
//! binary from each of their three sources — flags, `MPRTC_*` variables, the TOML file — and
//! show there: the URLs handed out point at the engine's origin and edge, and the hook endpoint
//! takes the secret from the addresses allowed. (settings.rs lists them among its `OTHERS`;
//! `nginx_rtmp.rs` runs them against a real engine.)

use std::process::Command;

use serde_json::json;

mod live;
use live::binary::{on_loopback, Running};
use live::http::exchange;
use live::{answer, connect, join, probe};

const HOOK_SECRET: &str = "engine-settings-hook-secret-0123456789";

/// The engine settings as (key, value); lists hold one item, so every source spells them alike.
const ENGINE: &[(&str, &str)] = &[
    ("media", "srs"),
    ("media_rtmp_base", "rtmp://origin.test:1935/live"),
    ("media_flv_base", "http://flv.test:8080/live"),
    ("media_play_bases", "rtmp://edge.test:1936/live"),
    ("media_control", "http://127.0.0.1:9"),
    ("media_hook_secret", HOOK_SECRET),
    ("media_hook_sources", "127.0.0.7"),
];

/// The flag of a setting: lists take one item per flag, named in the singular.
fn flag(key: &str) -> String {
    let key = match key {
        "media_play_bases" => "media_play_base",
        "media_hook_sources" => "media_hook_source",
        k => k,
    };
    format!("--{}", key.replace('_', "-"))
}

/// The binary with the engine settings from one source: "flag", "env" or "file".
fn command(src: &str, dir: &std::path::Path) -> Command {
    let mut cmd = on_loopback();
    cmd.env("MPRTC_LOG", "warn").args(["--insecure-app", "dbg"]);
    match src {
        "flag" => {
            for (k, v) in ENGINE {
                cmd.args([flag(k), (*v).to_owned()]);
            }
        }
        "env" => {
            for (k, v) in ENGINE {
                cmd.env(format!("MPRTC_{}", k.to_uppercase()), v);
            }
        }
        _ => {
            let text: String = ENGINE
                .iter()
                .map(|(k, v)| match *k {
                    "media_play_bases" | "media_control" | "media_hook_sources" => {
                        format!("{k} = [{v:?}]\n")
                    }
                    _ => format!("{k} = {v:?}\n"),
                })
                .collect();
            let file = dir.join("engine.toml");
            std::fs::write(&file, text).unwrap();
            cmd.arg("--config").arg(file);
        }
    }
    cmd
}

#[tokio::test]
async fn the_engine_settings_arrive_from_every_source() {
    let dir = probe::scratch("engine-settings");
    for src in ["flag", "env", "file"] {
        let srv = Running::start(&mut command(src, &dir));
        let signal = srv.signal();
        let mut a = connect(&signal).await;
        assert_eq!(
            answer(&mut a, join(1, "dbg", "e", 1, None)).await["ok"],
            true
        );
        let p = json!({"v":1,"id":2,"type":"publish","body":{"video":true}});
        let push = answer(&mut a, p).await["body"]["url"].to_string();
        assert!(
            push.starts_with("\"rtmp://origin.test:1935/live/"),
            "{src}: {push}"
        );
        let mut b = connect(&signal).await;
        assert_eq!(
            answer(&mut b, join(1, "dbg", "e", 2, None)).await["ok"],
            true
        );
        let s = json!({"v":1,"id":2,"type":"subscribe","body":{"uid":1,"video":true}});
        let r = answer(&mut b, s).await;
        let (play, flv) = (
            r["body"]["url"].to_string(),
            r["body"]["flv_url"].to_string(),
        );
        assert!(
            play.starts_with("\"rtmp://edge.test:1936/live/"),
            "{src}: {play}"
        );
        assert!(
            flv.starts_with("\"http://flv.test:8080/live/"),
            "{src}: {flv}"
        );

        // The hook endpoint: the secret, from the one allowed address, gets past the gate (an
        // empty body is then refused for what it is); from elsewhere, or with another secret,
        // 403.
        let addr = srv.addr("signal");
        let hook = |secret: &str| format!("/hooks/srs/{secret}/0");
        let status = |from, secret: &str| {
            let (addr, path) = (addr.clone(), hook(secret));
            async move {
                exchange(&addr, Some(from), "POST", &path, None, "{}")
                    .await
                    .0
            }
        };
        assert_ne!(status("127.0.0.7", HOOK_SECRET).await, 403, "{src}");
        assert_eq!(status("127.0.0.7", &HOOK_SECRET[1..]).await, 403, "{src}");
        assert_eq!(status("127.0.0.1", HOOK_SECRET).await, 403, "{src}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
