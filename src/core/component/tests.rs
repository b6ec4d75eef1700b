use super::*;
use crate::protocol::json::Json;
use serde_json::{json, Value};

// The readers take the core's `Json`; these tests write reports with serde_json, as text
// through `Json::from` (the way a report crosses from JS).
fn parse_pusher_state(v: &Value) -> Option<PusherState> {
    super::parse_pusher_state(&Json::from(v))
}
fn parse_player_state(v: &Value) -> Option<PlayerState> {
    super::parse_player_state(&Json::from(v))
}
fn parse_net_status(v: &Value) -> Option<NetStatus> {
    super::parse_net_status(&Json::from(v))
}
fn parse_component_error(v: &Value) -> Option<ComponentError> {
    super::parse_component_error(&Json::from(v))
}

const PUSHER_CODES: &[i64] = &[
    1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, -1301, -1302, -1303, -1304, -1305, -1306,
    -1307, -1308, -1309, -1310, -1311, -1312, 1101, 1102, 1103, 1104, 1105, 1106, 3001, 3002, 3003,
    3004, 3005,
];
const PLAYER_CODES: &[i64] = &[
    2001, 2002, 2003, 2004, 2005, 2006, 2007, 2008, 2009, -2301, -2302, 2101, 2102, 2103, 2104,
    2105, 2106, 2107, 2108, 3001, 3002, 3003, 3004, 3005,
];

/// Every documented `<live-pusher>` code maps to its own variant and back, so no code is
/// mistaken for another when the core decides on recoveries.
#[test]
fn every_pusher_code_has_its_own_variant_and_round_trips() {
    let mut seen = std::collections::HashSet::new();
    for &c in PUSHER_CODES {
        let s = PusherState::from_code(c);
        assert!(!matches!(s, PusherState::Unknown(_)), "{c} is documented");
        assert_eq!(s.code(), c);
        assert!(seen.insert(s), "{c} shares a variant");
        assert_eq!(parse_pusher_state(&json!({ "code": c })), Some(s));
        assert_eq!(s.is_fatal(), c < 0, "{c}");
    }
    assert_eq!(
        PusherState::from_code(-1307),
        PusherState::NetworkDisconnected
    );
    assert_eq!(PusherState::from_code(1002), PusherState::PushBegin);
    assert_eq!(PusherState::from_code(3004), PusherState::RtmpServerClosed);
    let renew: Vec<i64> = PUSHER_CODES
        .iter()
        .copied()
        .filter(|c| PusherState::from_code(*c).needs_new_url())
        .collect();
    assert_eq!(renew, vec![-1307]);
}

/// The same for `<live-player>` codes.
#[test]
fn every_player_code_has_its_own_variant_and_round_trips() {
    let mut seen = std::collections::HashSet::new();
    for &c in PLAYER_CODES {
        let s = PlayerState::from_code(c);
        assert!(!matches!(s, PlayerState::Unknown(_)), "{c} is documented");
        assert_eq!(s.code(), c);
        assert!(seen.insert(s), "{c} shares a variant");
        assert_eq!(parse_player_state(&json!({ "code": c })), Some(s));
        assert_eq!(s.is_fatal(), c < 0, "{c}");
    }
    assert_eq!(
        PlayerState::from_code(-2301),
        PlayerState::NetworkDisconnected
    );
    assert_eq!(PlayerState::from_code(2004), PlayerState::PlayBegin);
    let renew: Vec<i64> = PLAYER_CODES
        .iter()
        .copied()
        .filter(|c| PlayerState::from_code(*c).needs_new_url())
        .collect();
    assert_eq!(renew, vec![-2301]);
}

/// WeChat adds codes over time: an unknown one is kept as a number, not dropped or failed.
#[test]
fn unknown_codes_are_kept() {
    for c in [
        0,
        1018,
        1021,
        5000,
        -100018,
        -1326,
        2026,
        6000,
        i64::MAX,
        i64::MIN,
    ] {
        assert_eq!(PusherState::from_code(c), PusherState::Unknown(c));
        assert_eq!(PusherState::Unknown(c).code(), c);
        assert!(!PusherState::Unknown(c).needs_new_url());
    }
    // A pusher code is not a player code and the other way round.
    assert_eq!(PlayerState::from_code(1001), PlayerState::Unknown(1001));
    assert_eq!(PusherState::from_code(2004), PusherState::Unknown(2004));
    assert_eq!(PlayerState::from_code(-1307), PlayerState::Unknown(-1307));
    assert_eq!(
        parse_player_state(&json!({"code": 6000})),
        Some(PlayerState::Unknown(6000))
    );
}

/// Pages forward `e.detail` as they get it: codes as numbers or strings, fields missing;
/// all read, none fatal.
#[test]
fn state_payloads_are_read_leniently() {
    let want = Some(PusherState::NetworkDisconnected);
    for v in [
        json!({"code": -1307, "reason": ""}),
        json!({"code": "-1307"}),
        json!({"code": " -1307 "}),
        json!({"code": -1307.0}),
        json!({"detail": {"code": -1307}}),
        json!(-1307),
        json!("-1307"),
    ] {
        assert_eq!(parse_pusher_state(&v), want, "{v}");
    }
    for junk in [
        json!(null),
        json!({}),
        json!({"code": null}),
        json!({"code": "abc"}),
        json!({"code": 1.5}),
        json!({"code": true}),
        json!({"code": [1002]}),
        json!({"code": {}}),
        json!({"code": "1e400"}),
        json!([]),
        json!(false),
        json!(""),
    ] {
        assert_eq!(parse_pusher_state(&junk), None, "{junk}");
        assert_eq!(parse_player_state(&junk), None, "{junk}");
    }
}

/// Every `bindnetstatus` field the docs list is read under its own name.
#[test]
fn net_status_reads_every_field() {
    let v = json!({
        "videoBitrate": 812, "audioBitrate": 64, "videoFPS": 14.5, "videoGOP": 3,
        "netSpeed": 900, "netJitter": 12, "netQualityLevel": 2, "videoWidth": 360,
        "videoHeight": 640, "videoCache": 300, "audioCache": 250, "vDecCacheSize": 1,
        "vSumCacheSize": 4, "avPlayInterval": -40, "avRecvInterval": 20,
        "audioCacheThreshold": 0.2, "code": 0, "message": "ok"
    });
    assert_eq!(
        parse_net_status(&v),
        Some(NetStatus {
            video_bitrate: Some(812),
            audio_bitrate: Some(64),
            video_fps: Some(14.5),
            video_gop: Some(3.0),
            net_speed: Some(900),
            net_jitter: Some(12),
            net_quality_level: Some(2),
            video_width: Some(360),
            video_height: Some(640),
            video_cache: Some(300),
            audio_cache: Some(250),
            v_dec_cache_size: Some(1),
            v_sum_cache_size: Some(4),
            av_play_interval: Some(-40),
            av_recv_interval: Some(20),
            audio_cache_threshold: Some(0.2),
            code: Some(0),
            message: Some("ok".into()),
        })
    );
}

/// A junk field loses only that field: the rest of a sample is still worth reporting.
#[test]
fn net_status_takes_strings_and_skips_junk_per_field() {
    let v = json!({
        "videoBitrate": "812", "audioBitrate": " 64 ", "videoFPS": "15.2",
        "netQualityLevel": "3", "videoWidth": "wide", "videoHeight": null,
        "netSpeed": -5, "netJitter": [1], "videoCache": {}, "videoGOP": "NaN",
        "avPlayInterval": "-12.4", "unknownField": 7
    });
    let s = parse_net_status(&v).unwrap();
    assert_eq!(s.video_bitrate, Some(812));
    assert_eq!(s.audio_bitrate, Some(64));
    assert_eq!(s.video_fps, Some(15.2));
    assert_eq!(s.net_quality_level, Some(3));
    assert_eq!(s.av_play_interval, Some(-12));
    for missing in [
        s.video_width,
        s.video_height,
        s.net_speed,
        s.net_jitter,
        s.video_cache,
    ] {
        assert_eq!(missing, None);
    }
    assert_eq!(s.video_gop, None);
    // Fractions of whole amounts are rounded; quality outside 0..=6 is dropped.
    let s = parse_net_status(&json!({"videoBitrate": 99.6, "netQualityLevel": 9})).unwrap();
    assert_eq!(s.video_bitrate, Some(100));
    assert_eq!(s.net_quality_level, None);
    // Wrapped as e.detail or e.detail.info.
    let wrapped = parse_net_status(&json!({"info": {"videoBitrate": 5}})).unwrap();
    assert_eq!(wrapped.video_bitrate, Some(5));
    let wrapped = parse_net_status(&json!({"detail": {"info": {"netSpeed": "7"}}})).unwrap();
    assert_eq!(wrapped.net_speed, Some(7));
    // Nothing readable.
    for junk in [
        json!(null),
        json!({}),
        json!("x"),
        json!(12),
        json!([{"videoBitrate": 1}]),
        json!({"videoBitrate": "fast", "info": 3}),
    ] {
        assert_eq!(parse_net_status(&junk), None, "{junk}");
    }
}

/// `binderror` codes are read as documented, and unknown ones kept, as for states.
#[test]
fn errors_read_every_documented_code_and_keep_others() {
    for (c, want) in [
        (10001, ComponentErrorCode::CameraDenied),
        (10002, ComponentErrorCode::RecordDenied),
        (10003, ComponentErrorCode::BgmLoadFailed),
        (10004, ComponentErrorCode::WaitingImageLoadFailed),
    ] {
        assert_eq!(ComponentErrorCode::from_code(c), want);
        assert_eq!(want.code(), c);
        assert_eq!(
            parse_component_error(&json!({"errCode": c, "errMsg": "m"})),
            Some(ComponentError {
                code: Some(want),
                message: Some("m".into())
            })
        );
    }
    assert_eq!(
        parse_component_error(&json!({"errCode": "10001"}))
            .unwrap()
            .code,
        Some(ComponentErrorCode::CameraDenied)
    );
    assert_eq!(
        parse_component_error(&json!({"errCode": 42, "errMsg": 5})),
        Some(ComponentError {
            code: Some(ComponentErrorCode::Unknown(42)),
            message: None
        })
    );
    assert_eq!(
        parse_component_error(&json!({"errMsg": "no camera"})),
        Some(ComponentError {
            code: None,
            message: Some("no camera".into())
        })
    );
    assert_eq!(
        parse_component_error(&json!({"detail": {"errCode": 10002}}))
            .unwrap()
            .code,
        Some(ComponentErrorCode::RecordDenied)
    );
    for junk in [
        json!(null),
        json!({}),
        json!({"errCode": "x", "errMsg": null}),
        json!("err"),
        json!(10001),
    ] {
        assert_eq!(parse_component_error(&junk), None, "{junk}");
    }
}

/// Report kinds and event names come from the app's code, not from WeChat: a typo is an
/// `invalid_argument` error rather than a report silently ignored.
#[test]
fn names_are_strict_and_errors_typed() {
    assert_eq!("push".parse::<ComponentKind>(), Ok(ComponentKind::Push));
    assert_eq!("pull".parse::<ComponentKind>(), Ok(ComponentKind::Pull));
    for bad in ["", "Push", "pusher", "player"] {
        let e = bad.parse::<ComponentKind>().unwrap_err();
        assert_eq!(e.code, crate::protocol::ErrorCode::InvalidArgument);
        assert!(e.message.contains("'push'"), "{}", e.message);
    }
    for ev in [
        ReportEvent::StateChange,
        ReportEvent::NetStatus,
        ReportEvent::Error,
    ] {
        assert_eq!(ev.name().parse::<ReportEvent>(), Ok(ev));
    }
    for bad in ["", "statechange", "bindStateChange", "binderrors"] {
        let e = bad.parse::<ReportEvent>().unwrap_err();
        assert_eq!(e.code, crate::protocol::ErrorCode::InvalidArgument);
        assert!(e.message.contains("bindnetstatus"), "{}", e.message);
    }
    assert_eq!(ComponentKind::Push.name(), "push");
}
