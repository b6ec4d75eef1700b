//! A configured `media_secret` is what signs the media URLs: a push URL handed out by one
//! server process is accepted by the next process on the same RTMP port with the same secret,
//! and refused by one with another secret or with none (then each process draws its own).
//! The pushes are real ffmpeg publishes over RTMP; the server's own log lines say whether its
//! media server admitted them (a URL's signature is checked there, before anything else).

use std::process::Command;

use serde_json::json;

mod live;
use live::binary::{self, Pipe, Running};
use live::{answer, connect, join};

const SECRET_A: &str = "media-secret-of-the-tests-0123456789abcdef";
const SECRET_B: &str = "another-media-secret-0123456789abcdef-xyz";

/// The server with `--rtmp-listen rtmp` (a `host:port`, or `:0` for any) and the media secret
/// `secret` from the environment (none if `None`), logging at info.
fn server(rtmp: &str, secret: Option<&str>) -> Running {
    let mut cmd = Command::new(binary::BIN);
    cmd.args(["--listen", "127.0.0.1:0", "--flv-listen", "127.0.0.1:0"])
        .args(["--rtmp-listen", rtmp, "--insecure-app", "dbg"])
        .env("MPRTC_LOG", "info");
    if let Some(s) = secret {
        cmd.env("MPRTC_MEDIA_SECRET", s);
    }
    Running::start(&mut cmd)
}

/// The push URL a member of `dbg` gets from `srv`.
async fn push_url(srv: &Running) -> String {
    let mut ws = connect(&srv.signal()).await;
    let r = answer(&mut ws, join(1, "dbg", "restart", 7, None)).await;
    assert_eq!(r["ok"], true, "{r}");
    let p = json!({"v":1,"id":2,"type":"publish","body":{"video":true,"audio":false}});
    let r = answer(&mut ws, p).await;
    r["body"]["url"].as_str().expect("a push URL").to_owned()
}

/// ffmpeg pushes one second of a test picture to `url`: how it ended.
fn ffmpeg_push(url: &str) -> binary::Outcome {
    binary::output(Command::new("ffmpeg").args([
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=10",
        "-t",
        "1",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-f",
        "flv",
        url,
    ]))
}

/// Waits for the server's verdict on a publish: `true` for admitted, `false` for refused; the
/// refusal's line must name the signature.
fn verdict(srv: &mut Running) -> bool {
    let line = srv
        .wait_line(Pipe::Stderr, |l| {
            l.contains("RTMP publish started") || l.contains("RTMP publish refused")
        })
        .unwrap_or_else(|| panic!("no publish verdict in:\n{}", srv.text()));
    let admitted = line.contains("RTMP publish started");
    if !admitted {
        assert!(line.contains("bad_signature"), "{line}");
    }
    admitted
}

#[tokio::test]
async fn a_push_url_outlives_a_restart_with_the_same_secret_only() {
    let first = server("127.0.0.1:0", Some(SECRET_A));
    let rtmp = first.addr("rtmp");
    let url = push_url(&first).await;
    assert!(url.starts_with(&format!("rtmp://{rtmp}/live/")), "{url}");
    let (status, text) = first.stop_with(libc::SIGTERM);
    assert!(status.success(), "{text}");

    // The same secret: the URL of the process before is good.
    let mut same = server(&rtmp, Some(SECRET_A));
    assert_eq!(same.addr("rtmp"), rtmp);
    // Admitted by the media server; the hub then ends the push, since the member it was for is
    // not in this process's rooms, so ffmpeg's own exit says nothing here.
    let pushed = ffmpeg_push(&url);
    assert!(
        verdict(&mut same),
        "admitted with the same secret: {pushed:?}"
    );
    drop(same);

    // Another secret, or none (a random one per process): the URL is forged to them.
    for secret in [Some(SECRET_B), None] {
        let mut other = server(&rtmp, secret);
        let pushed = ffmpeg_push(&url);
        assert!(!verdict(&mut other), "{secret:?}: refused");
        assert_ne!(pushed.code, Some(0), "{secret:?}: ffmpeg was refused");
        assert!(!other.text().contains("RTMP publish started"), "{secret:?}");
    }
}
