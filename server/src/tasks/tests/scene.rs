//! What a task becomes for `mprtc-compositor` (no process started): the stacking order, the
//! host's big picture, exact big uids, and which member `singleVideoNoTrans` passes through.

use super::*;
use crate::tasks::live::scene;

const URL: &str = "rtmp://127.0.0.1:1/live/out";

fn live(uids: &[u64]) -> Vec<(u64, String)> {
    uids.iter()
        .map(|u| (*u, format!("rtmp://127.0.0.1:1/live/r.{u}?s=x")))
        .collect()
}

#[test]
fn users_stack_by_z_order_and_the_host_fills_the_canvas_beneath() {
    let big = 9_007_199_254_740_993; // 2^53 + 1: no double holds it
    let mut t = task(
        "s",
        URL,
        vec![
            user(1, 0, 0, 320, 180, ADAPTION_FIT, 5),
            user(big, 320, 0, 320, 180, ADAPTION_FILL, 1),
            user(u64::MAX, 0, 180, 320, 180, ADAPTION_FIT, 9),
        ],
    );
    t.host_uid = Some(u64::MAX);
    let v = scene::scene(&spec(t, &live(&[1, big, u64::MAX])), &[]);
    let m = v["members"].as_array().unwrap();
    let got: Vec<(u64, u64)> = m
        .iter()
        .map(|m| {
            (
                m["uid"].as_u64().unwrap(),
                m["video"]["z"].as_u64().unwrap(),
            )
        })
        .collect();
    // The host first (lowest), then by zOrder: big (1), then 1 (5).
    assert_eq!(got, vec![(u64::MAX, 1), (big, 2), (1, 3)]);
    // The host's own rectangle gives way to the whole canvas.
    assert_eq!(
        (
            &m[0]["video"]["width"],
            &m[0]["video"]["height"],
            &m[0]["video"]["x"]
        ),
        (&json_num(1280), &json_num(720), &json_num(0))
    );
    assert_eq!(m[1]["video"]["fill"], true);
    assert_eq!(v["canvas"], 0x0000FF);
    // The JSON text carries the uids as integers, exactly.
    let text = v.to_string();
    assert!(
        text.contains("9007199254740993") && text.contains("18446744073709551615"),
        "{text}"
    );
}

fn json_num(n: u64) -> serde_json::Value {
    serde_json::Value::from(n)
}

#[test]
fn users_not_live_or_not_shown_are_left_out_and_the_output_follows_the_task() {
    let mut hidden = user(2, 0, 0, 320, 180, ADAPTION_FIT, 1);
    hidden.push_video = false;
    let mut t = task(
        "s",
        URL,
        vec![
            user(1, 0, 0, 320, 180, ADAPTION_FIT, 1),
            hidden,
            user(3, 0, 0, 9, 9, 0, 1),
        ],
    );
    t.config.audio_param = audio(96, 1, 0);
    let s = spec(t, &live(&[1, 2]));
    let v = scene::scene(&s, &[]);
    let m = v["members"].as_array().unwrap();
    assert_eq!(m.len(), 2, "user 3 is not live: {v}");
    assert!(m[1]["video"].is_null() && m[1]["audio"] == true, "{v}");
    let out = scene::output(&s, None, 30);
    assert_eq!(out["audio"]["kbps"], 96);
    assert_eq!(out["audio"]["channels"], 1);
    assert_eq!(out["fps"], 30);
    assert_eq!(out["video_kbps"], scene::video_kbps(1280, 720, 30));
    // The task's own frame rate and bit rate (ZEGO's outputFPS / outputBitrate) win.
    let mut t = s.task.clone();
    t.config.video_fps = Some(25);
    t.config.video_bitrate = Some(1200);
    let out = scene::output(&spec(t, &live(&[1])), None, 30);
    assert_eq!(
        (out["fps"].clone(), out["video_kbps"].clone()),
        (json_num(25), json_num(1200))
    );
    // A frame rate alone gives the canvas's bit rate at that rate.
    let mut t = s.task.clone();
    t.config.video_fps = Some(10);
    let out = scene::output(&spec(t, &live(&[1])), None, 30);
    assert_eq!(out["video_kbps"], scene::video_kbps(1280, 720, 10));
}

#[test]
fn no_trans_passes_the_host_through_else_the_first_drawn_live_user() {
    let users = vec![
        user(1, 0, 0, 320, 180, ADAPTION_FIT, 1),
        user(2, 0, 0, 320, 180, ADAPTION_FIT, 2),
    ];
    let mut t = task("s", URL, users);
    assert!(
        passthrough_input(&spec(t.clone(), &live(&[1, 2]))).is_none(),
        "not asked"
    );
    t.config.single_video_no_trans = true;
    let first = spec(t.clone(), &live(&[2]));
    assert_eq!(passthrough_input(&first).map(|(i, _)| i.uid), Some(2));
    t.host_uid = Some(1);
    let host = spec(t.clone(), &live(&[1, 2]));
    assert_eq!(passthrough_input(&host).map(|(i, _)| i.uid), Some(1));
    // Nobody live: composed like any other task.
    assert!(passthrough_input(&spec(t, &[])).is_none());
}
