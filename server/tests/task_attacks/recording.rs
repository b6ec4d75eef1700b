//! Finding 11: recording needs its privilege, and a restart continues the same recording.

use std::time::Duration;

use serde_json::json;

use crate::live::code;
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_needs_the_record_privilege() {
    let srv = Srv::start("").await;
    let mut a = Client::sec(&srv, "rec", 1, json!({}), "broadcaster").await;
    let out = format!("{}/rec", srv.rtmp);
    let mut t = task("r", &out, &[], &[]);
    t["record"] = json!(true);
    let r = a.ask("add-tasks", tasks(t.clone())).await;
    assert_eq!(code(&r), 4014, "{r}");
    let mut b = Client::sec(&srv, "rec", 2, json!({"record": true}), "broadcaster").await;
    let r = b.ask("add-tasks", tasks(t)).await;
    assert_eq!(r["ok"], true, "granted: {r}");
    srv.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_continues_the_same_recording() {
    let srv = Srv::start("").await;
    let mut a = Client::sec(&srv, "seg", 1, json!({"record": true}), "broadcaster").await;
    let push = a
        .ask("publish", json!({"audio": true, "video": true}))
        .await;
    let out = push["body"]["url"].as_str().expect("a push URL").to_owned();
    let mut t = task("r", &out, &[], &[]);
    t["record"] = json!(true);
    a.add_task(t.clone()).await;
    a.status("r", 505).await;
    // A new output encoding restarts the compositor (a layout change would not: it is applied
    // live): its output goes on in the same recording, as its next segment.
    t["config"] = json!({"audioParam": {"bitRate": 96}});
    let r = a.ask("update-tasks", tasks(t)).await;
    assert_eq!(r["ok"], true, "{r}");
    let mut files = Vec::new();
    for _ in 0..600 {
        files = srv.recordings();
        if files.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        files.len() >= 2,
        "a second segment after the restart: {files:?}"
    );
    let r = a.ask("delete-tasks", json!({"taskIds": ["r"]})).await;
    assert_eq!(r["ok"], true, "{r}");
    a.status("r", 511).await;
    let files = srv.recordings();
    let first = files
        .iter()
        .find(|f| f.matches('.').count() == 1)
        .unwrap_or_else(|| panic!("a first segment: {files:?}"));
    let stem = first.trim_end_matches(".flv").to_owned();
    assert!(stem.starts_with("r-"), "{files:?}");
    let mut want: Vec<String> = (1..files.len())
        .map(|n| format!("{stem}.{n}.flv"))
        .collect();
    want.push(first.clone());
    want.sort();
    assert_eq!(files, want, "one recording in segments");
    srv.close().await;
}
