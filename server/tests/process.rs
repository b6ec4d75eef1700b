//! The server as a process: the `serve` subcommand, a taken port refused with a typed error,
//! SIGINT and SIGTERM closing every member with 1001 and exiting 0, and the ffmpeg compositors
//! of push tasks dying with the server whether it is stopped (SIGTERM) or killed (SIGKILL).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::Value;

mod live;
use live::binary::{self, on_loopback, Running, BOUND};
use live::{answer, connect, join, probe, Ws, SECRET};

#[tokio::test]
async fn the_serve_subcommand_serves() {
    let mut cmd = std::process::Command::new(binary::BIN);
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--rtmp-listen",
        "127.0.0.1:0",
    ])
    .args(["--flv-listen", "127.0.0.1:0", "--insecure-app", "dbg"]);
    let srv = Running::start(&mut cmd);
    let mut ws = connect(&srv.signal()).await;
    assert_eq!(
        answer(&mut ws, join(1, "dbg", "s", 1, None)).await["ok"],
        true
    );
    let (status, text) = srv.stop_with(libc::SIGTERM);
    assert!(status.success(), "{text}");
}

/// A port another process holds: the listener that wanted it names itself in the error code.
#[test]
fn a_taken_port_stops_the_server_with_a_typed_error() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = held.local_addr().unwrap().to_string();
    for (flag, code) in [
        ("--listen", "serve.bind_failed"),
        ("--rtmp-listen", "media.bind_failed"),
        ("--flv-listen", "media.bind_failed"),
    ] {
        // The flag given last wins over on_loopback's `:0` for the same listener.
        let mut cmd = std::process::Command::new(binary::BIN);
        for (f, _) in [("--listen", 0), ("--rtmp-listen", 0), ("--flv-listen", 0)] {
            let addr = if f == flag {
                taken.as_str()
            } else {
                "127.0.0.1:0"
            };
            cmd.args([f, addr]);
        }
        let out = binary::output(&mut cmd);
        let err = out.refused_with(code);
        assert!(err.contains(&taken), "{flag}: {err}");
    }
    drop(held);
}

/// Reads until the server ends the connection: the close code, if a close frame came. Then
/// reads on, as a client does, so that its answer to the close goes out and the server's
/// connection ends.
async fn close_code(ws: &mut Ws) -> Option<u16> {
    use futures_util::StreamExt;
    let code = live::closed_with(ws).await;
    let drained = tokio::time::timeout(BOUND, async { while ws.next().await.is_some() {} });
    drained.await.expect("the connection ends after the close");
    code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_and_sigterm_close_every_member_with_1001_and_exit_0() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let srv = Running::with(&["--insecure-app", "dbg"], &[("MPRTC_LOG", "info")]);
        let url = srv.signal();
        let mut members = Vec::new();
        for uid in 1..=3 {
            let mut ws = connect(&url).await;
            assert_eq!(
                answer(&mut ws, join(1, "dbg", "bye", uid, None)).await["ok"],
                true
            );
            members.push(ws);
        }
        // The process is waited for on its own thread while the members read their sockets.
        let stopped = tokio::task::spawn_blocking(move || srv.stop_with(signal));
        for ws in &mut members {
            assert_eq!(close_code(ws).await, Some(1001), "signal {signal}");
        }
        let (status, text) = stopped.await.unwrap();
        assert_eq!(status.code(), Some(0), "signal {signal}: {text}");
        assert!(text.contains("shutting down"), "{text}");
    }
}

/// `(ppid, state, command name)` of a process, `None` once it is gone.
fn stat(pid: u32) -> Option<(u32, char, String)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
    let (head, rest) = s.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_owned();
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    Some((ppid, state, comm))
}

/// Every live process descended from `root`.
fn descendants(root: u32) -> HashSet<u32> {
    let all: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(|pid| stat(pid).filter(|s| s.1 != 'Z').map(|s| (pid, s.0)))
        .collect();
    let mut found: HashSet<u32> = HashSet::new();
    let mut grew = true;
    while grew {
        grew = false;
        for &(pid, ppid) in &all {
            if (ppid == root || found.contains(&ppid)) && found.insert(pid) {
                grew = true;
            }
        }
    }
    found
}

/// Whether `pid` has ended (gone, or a zombie nobody has reaped yet).
fn ended(pid: u32) -> bool {
    stat(pid).is_none_or(|s| s.1 == 'Z')
}

/// Checks `done` every 20 ms until it holds or [`BOUND`] passes: whether it held. The event is
/// a process appearing or ending; the interval only says how soon it is seen.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + BOUND;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

/// How the compositor under test runs.
#[derive(Clone, Copy)]
enum Compositor<'a> {
    /// The usual ffmpeg, pushing to a member's push URL on the server itself.
    Usual,
    /// Pushing to another server (`sink`), so that its output goes on when the server is
    /// killed; `--ffmpeg` is a script that ignores SIGPIPE (ffmpeg runs only `singleVideoNoTrans`
    /// tasks now, so this task's compositor is `mprtc-compositor`, which also ends when its
    /// stdin closes, and by the parent-death signal).
    Deaf(&'a Running),
}

/// The push URL a member of app `sec` in room `compose` of `srv` gets.
async fn member_push_url(srv: &Running, uid: u64) -> (Ws, String) {
    let mut ws = live::join_sec(&srv.signal(), "compose", uid).await;
    let publish = serde_json::json!({"v":1,"id":2,"type":"publish","body":{"video":true}});
    let url = answer(&mut ws, publish).await["body"]["url"]
        .as_str()
        .expect("a push URL")
        .to_owned();
    (ws, url)
}

/// A server with app `sec` whose member runs a push task, reported pushing (505): the server,
/// the members and the server's descendants (the compositor among them).
async fn server_with_a_compositor(
    tag: &str,
    how: Compositor<'_>,
) -> (Running, [Ws; 2], HashSet<u32>) {
    // Kept: the server records and runs its ffmpeg script from here after this returns.
    let dir = probe::scratch(tag).keep();
    let rec = dir.display().to_string();
    let apps = format!("sec:{SECRET}");
    let mut args = vec!["--recordings-dir".to_owned(), rec];
    if let Compositor::Deaf(_) = how {
        let cfg = dir.join("private-outputs.toml");
        std::fs::write(&cfg, "[tasks]\noutput_allow_private = true\n").unwrap();
        let ffmpeg = probe::ffmpeg_script(&dir, "ffmpeg-deaf.sh", "trap '' PIPE");
        args.extend(["--config".to_owned(), cfg.display().to_string()]);
        args.extend(["--ffmpeg".to_owned(), ffmpeg]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let srv = Running::with(&args, &[("MPRTC_APPS", &apps)]);
    let mut ws = live::join_sec(&srv.signal(), "compose", 1).await;
    // The output: another member's push URL, here or on the sink.
    let (sink, out) = member_push_url(
        match how {
            Compositor::Usual => &srv,
            Compositor::Deaf(sink) => sink,
        },
        2,
    )
    .await;
    let r = answer(
        &mut ws,
        probe::add_tasks(2, vec![probe::task("t1", &out, 1, false)]),
    )
    .await;
    assert_eq!(r["ok"], true, "{r}");
    let pushing = wait_status(&mut ws, 505).await;
    assert_eq!(pushing["body"]["task_id"], "t1");
    let pid = srv.pid();
    // The live compositor (`mprtc-compositor`, 15 characters of it in /proc) or ffmpeg.
    let seen = eventually(|| {
        descendants(pid)
            .into_iter()
            .any(|p| stat(p).is_some_and(|s| s.2 == "ffmpeg" || s.2.starts_with("mprtc-composit")))
    });
    assert!(seen, "no compositor under the server {pid}");
    (srv, [ws, sink], descendants(pid))
}

/// The next `task-status` event with `code` (others passed over), within [`BOUND`].
async fn wait_status(ws: &mut Ws, code: u64) -> Value {
    loop {
        let v = live::recv_within(ws, BOUND).await;
        if v["type"] == "task-status" && v["body"]["code"] == code {
            return v;
        }
    }
}

#[tokio::test]
async fn compositors_die_with_the_server_on_sigkill_and_sigterm() {
    let sink = Running::with(&[], &[("MPRTC_APPS", &format!("sec:{SECRET}"))]);
    for (signal, how, tag) in [
        (libc::SIGKILL, Compositor::Usual, "kill"),
        (libc::SIGTERM, Compositor::Usual, "term"),
        (libc::SIGKILL, Compositor::Deaf(&sink), "kill-deaf"),
    ] {
        let (srv, _ws, children) = server_with_a_compositor(&format!("compose-{tag}"), how).await;
        let (status, text) = srv.stop_with(signal);
        if signal == libc::SIGTERM {
            assert_eq!(status.code(), Some(0), "{text}");
        }
        for pid in &children {
            assert!(
                eventually(|| ended(*pid)),
                "{tag}: process {pid} outlived the server"
            );
        }
    }
}

/// A stop signal sent the moment the ready line is out is already a clean stop (exit 0, the
/// shutdown logged), not the default action of a signal nobody handles.
#[test]
fn a_signal_right_after_the_ready_line_stops_cleanly() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let srv = Running::with(&[], &[("MPRTC_LOG", "info")]);
        let (status, text) = srv.stop_with(signal);
        assert_eq!(
            status.code(),
            Some(0),
            "signal {signal}: {status:?}\n{text}"
        );
        assert!(text.contains("shutting down"), "{text}");
    }
}

/// Started with a soft open-files limit below the hard one, the server raises the soft limit
/// to the hard one (each connection costs a descriptor; SECURITY.md, "Running it safely").
#[test]
fn the_open_files_limit_is_raised_to_the_hard_limit() {
    let limits = |pid: u32| -> (String, String) {
        let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap();
        let f: Vec<&str> = line.split_whitespace().collect();
        (f[3].to_owned(), f[4].to_owned())
    };
    let (_, hard) = limits(std::process::id());
    // `prlimit` lowers the soft limit and executes the server in its own place (same pid).
    let mut cmd = std::process::Command::new("prlimit");
    cmd.arg(format!("--nofile=256:{hard}"))
        .arg("--")
        .arg(binary::BIN)
        .args(["--listen", "127.0.0.1:0", "--rtmp-listen", "127.0.0.1:0"])
        .args(["--flv-listen", "127.0.0.1:0"]);
    let srv = Running::start(&mut cmd);
    assert_ne!(
        hard, "256",
        "the hard limit must be above the lowered soft one"
    );
    assert_eq!(limits(srv.pid()), (hard.clone(), hard));
}

/// The ready line is the first thing on stdout, also when logs are verbose (they go to stderr).
#[test]
fn the_ready_line_names_the_endpoints() {
    let srv = Running::start(on_loopback().env("MPRTC_LOG", "debug"));
    for e in ["signal", "rtmp", "flv"] {
        assert!(srv.endpoint(e).contains("127.0.0.1:"), "{}", srv.ready);
    }
    assert_eq!(srv.ready["event"], "ready");
}
