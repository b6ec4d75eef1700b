//! The `token` subcommand as an app backend's script would use it: each privilege flag makes a
//! token whose grant (or denial) the running server honours, with the documented code when it
//! refuses; `--ttl` sets the expiry; malformed flags are refused with a typed error and exit 2.

use base64::Engine as _;
use serde_json::{json, Value};

mod live;
use live::binary::{self, Outcome, Running};
use live::{answer, connect, join, probe, Ws, SECRET};

/// Runs `mprtc-server token` for app `sec` in `room` as `uid` with the extra `flags`, the
/// secret from `MPRTC_APP_SECRET`.
fn token(room: &str, uid: &str, flags: &[&str]) -> Outcome {
    let mut args = vec!["token", "--app", "sec", "--room", room, "--uid", uid];
    args.extend_from_slice(flags);
    binary::run(&args, &[("MPRTC_APP_SECRET", SECRET)])
}

/// The token minted by [`token`], which must succeed.
fn minted(room: &str, uid: u64, flags: &[&str]) -> String {
    let out = token(room, &uid.to_string(), flags);
    assert_eq!(out.code, Some(0), "{out:?}");
    out.stdout.trim().to_owned()
}

/// The claims of a token (its middle part), as JSON.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// A server with app `sec` (secret [`SECRET`]), recording into a scratch directory.
fn server() -> Running {
    let rec = probe::scratch("token-recordings").keep();
    let rec = rec.display().to_string();
    Running::with(
        &["--recordings-dir", &rec],
        &[("MPRTC_APPS", &format!("sec:{SECRET}"))],
    )
}

/// Joins `room` of app `sec` as `uid` in `role` with `token`: the socket and the answer.
async fn join_as(srv: &Running, room: &str, uid: u64, role: &str, token: &str) -> (Ws, Value) {
    let mut ws = connect(&srv.signal()).await;
    let mut j = join(1, "sec", room, uid, Some(token));
    j["body"]["role"] = json!(role);
    let r = answer(&mut ws, j).await;
    (ws, r)
}

/// What a member asks for, and the answer: `Ok(())` or the refusal's code.
async fn try_request(ws: &mut Ws, id: u32, frame: Value) -> Result<(), u64> {
    let mut frame = frame;
    frame["id"] = json!(id);
    let r = answer(ws, frame).await;
    if r["ok"] == true {
        Ok(())
    } else {
        Err(live::code(&r))
    }
}

/// Token flags, the role asked for at join, a request, and the answer it must get.
type Grant<'a> = (&'a [&'a str], &'a str, Value, Result<(), u64>);

#[tokio::test]
async fn each_privilege_flag_is_honoured_by_the_server() {
    let srv = server();
    let room = "grants";
    let out = format!("{}/grants-out", srv.endpoint("rtmp"));
    // A publisher the others may subscribe to and show in their tasks.
    let (mut publisher, r) = join_as(&srv, room, 1, "broadcaster", &minted(room, 1, &[])).await;
    assert_eq!(r["ok"], true, "{r}");
    let publish = json!({"v":1,"id":0,"type":"publish","body":{"video":true,"audio":true}});
    assert_eq!(
        try_request(&mut publisher, 2, publish.clone()).await,
        Ok(())
    );

    let subscribe = json!({"v":1,"id":0,"type":"subscribe","body":{"uid":1,"video":true}});
    // Each task of its own id (letters, digits, '_'): tasks belong to the room.
    let own_task =
        |id: &str, uid: u64| probe::add_tasks(0, vec![probe::task(id, &out, uid, false)]);
    let recorded = |id: &str, uid: u64| probe::add_tasks(0, vec![probe::task(id, &out, uid, true)]);
    let showing_others = |id: &str| probe::add_tasks(0, vec![probe::task(id, &out, 1, false)]);
    // (flags, role asked for at join, request, answer)
    let cases: Vec<Grant> = vec![
        (&[], "broadcaster", publish.clone(), Ok(())),
        (&[], "broadcaster", subscribe.clone(), Ok(())),
        (&[], "broadcaster", own_task("t_default", 12), Ok(())),
        (&[], "broadcaster", recorded("t_norec", 13), Err(4014)),
        (&["--no-publish"], "broadcaster", publish.clone(), Err(4022)),
        (
            &["--no-subscribe"],
            "broadcaster",
            subscribe.clone(),
            Err(4014),
        ),
        (
            &["--no-subscribe"],
            "broadcaster",
            showing_others("t_nosub"),
            Err(4014),
        ),
        (&[], "audience", own_task("t_aud", 17), Err(4014)),
        (&["--tasks"], "audience", own_task("t_granted", 18), Ok(())),
        (
            &["--no-tasks"],
            "broadcaster",
            own_task("t_denied", 19),
            Err(4014),
        ),
        (&["--record"], "broadcaster", recorded("t_rec", 20), Ok(())),
    ];
    for (i, (flags, role, request, want)) in cases.into_iter().enumerate() {
        let uid = 10 + i as u64;
        let (mut ws, r) = join_as(&srv, room, uid, role, &minted(room, uid, flags)).await;
        assert_eq!(r["ok"], true, "{flags:?}: {r}");
        if flags.contains(&"--no-publish") {
            assert_eq!(r["body"]["role"], "audience", "{r}");
        }
        let got = try_request(&mut ws, 2, request.clone()).await;
        assert_eq!(got, want, "{flags:?} as {role}: {request}");
    }
}

#[tokio::test]
async fn the_ttl_flag_sets_the_expiry() {
    for (flags, ttl) in [(&[][..], 3600), (&["--ttl", "120"], 120)] {
        let c = claims(&minted("ttl", 3, flags));
        let (iat, exp) = (c["iat"].as_u64().unwrap(), c["exp"].as_u64().unwrap());
        assert_eq!(exp - iat, ttl, "{flags:?}: {c}");
    }
    // A token that expires as it is made is refused as expired; one with a minute left is not.
    let srv = server();
    for (ttl, refused) in [("0", Some(4013)), ("60", None)] {
        let t = minted("ttl", 3, &["--ttl", ttl]);
        let (_ws, r) = join_as(&srv, "ttl", 3, "broadcaster", &t).await;
        let got = (r["ok"] == false).then(|| live::code(&r));
        assert_eq!(got, refused, "--ttl {ttl}: {r}");
    }
}

#[test]
fn bad_token_flags_are_refused() {
    let long = "u".repeat(65);
    for (room, uid, flags, code) in [
        ("r", "", &[][..], "token.bad_uid"),
        ("r", long.as_str(), &[], "token.bad_uid"),
        ("bad room", "1", &[], "token.bad_room"),
        // The server's own players' uids (the top three of 2^64), which no member may hold.
        ("r", "18446744073709551613", &[], "token.reserved_uid"),
        ("r", "18446744073709551615", &[], "token.reserved_uid"),
    ] {
        token(room, uid, flags).refused_with(code);
    }
    // The uid below them is minted.
    assert_eq!(token("r", "18446744073709551612", &[]).code, Some(0));
    // No secret at all, or a config file without the app.
    let no_secret = ["token", "--app", "sec", "--room", "r", "--uid", "1"];
    binary::run(&no_secret, &[]).refused_with("token.no_secret");
    let dir = probe::scratch("token-flags");
    let cfg = dir.join("other.toml");
    std::fs::write(&cfg, "[[apps]]\nkey = \"other\"\nsecret = \"s\"\n").unwrap();
    let cfg = cfg.display().to_string();
    let mut args = no_secret.to_vec();
    args.extend(["--config", cfg.as_str()]);
    binary::run(&args, &[]).refused_with("token.no_secret");
    let mut args = no_secret.to_vec();
    args.extend(["--config", "/nonexistent/mprtc.toml"]);
    binary::run(&args, &[]).refused_with("config.read");
    // What clap refuses: contradicting flags, a negative ttl, a missing room.
    for flags in [
        &["--tasks", "--no-tasks"][..],
        &["--ttl", "-5"],
        &["--ttl", "soon"],
    ] {
        let out = token("r", "1", flags);
        assert_eq!(out.code, Some(2), "{flags:?}: {out:?}");
        assert!(out.stderr.contains("error:"), "{out:?}");
    }
    let out = binary::run(
        &["token", "--app", "sec", "--uid", "1"],
        &[("MPRTC_APP_SECRET", SECRET)],
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("--room"), "{out:?}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `--any-room`: an app-wide token (room `*`), which the ZEGO seed test's backend mints for
/// its users and the server admits into any room (tests/e2e/seed-zego.test.js); it cannot be
/// combined with `--room`.
#[test]
fn any_room_tokens_name_no_room() {
    let env = [("MPRTC_APP_SECRET", SECRET)];
    let out = binary::run(
        &["token", "--app", "sec", "--any-room", "--uid", "anna"],
        &env,
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let c = claims(out.stdout.trim());
    assert_eq!(
        (c["room"].as_str(), c["uid"].as_str()),
        (Some("*"), Some("anna"))
    );
    let both = [
        "token",
        "--app",
        "sec",
        "--room",
        "r",
        "--any-room",
        "--uid",
        "1",
    ];
    let out = binary::run(&both, &env);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("--any-room"), "{out:?}");
}
