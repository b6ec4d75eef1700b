//! Finding 6: compositor caps per member, app and server, and the restart queue under an
//! update flood.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::live::{self, code};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_start_more_compositors_than_its_cap_and_insecure_apps_none() {
    let srv = Srv::start("").await;
    let mut a = Client::sec(&srv, "cap", 1, json!({}), "broadcaster").await;
    let out = format!("{}/cap", srv.rtmp);
    for i in 0..4 {
        let r = a
            .ask("add-tasks", tasks(task(&format!("t{i}"), &out, &[], &[])))
            .await;
        assert_eq!(r["ok"], true, "task {i}: {r}");
    }
    let r = a.ask("add-tasks", tasks(task("t4", &out, &[], &[]))).await;
    assert_eq!(code(&r), 4029, "the fifth of one member: {r}");
    // Anonymous members of a token-less app run none unless the operator allows it.
    let mut anon = Client::join(&srv, "dbg", "cap", 9, None, "broadcaster").await;
    let r = anon
        .ask("add-tasks", tasks(task("anon", &out, &[], &[])))
        .await;
    assert_eq!(code(&r), 4014, "{r}");
    srv.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_and_app_compositor_caps_hold_across_rooms() {
    let srv = Srv::start(
        "[tasks]\nmax_compositors = 3\nmax_compositors_per_app = 2\ninsecure_apps = true\n",
    )
    .await;
    let mut a = Client::sec(&srv, "ra", 1, json!({}), "broadcaster").await;
    let mut b = Client::sec(&srv, "rb", 1, json!({}), "broadcaster").await;
    let mut d = Client::join(&srv, "dbg", "rd", 1, None, "broadcaster").await;
    let out = format!("{}/caps", srv.rtmp);
    for id in ["a1", "a2"] {
        a.add_task(task(id, &out, &[], &[])).await;
    }
    let r = b.ask("add-tasks", tasks(task("b1", &out, &[], &[]))).await;
    assert_eq!(code(&r), 4029, "app cap: {r}");
    d.add_task(task("d1", &out, &[], &[])).await;
    let r = d.ask("add-tasks", tasks(task("d2", &out, &[], &[]))).await;
    assert_eq!(code(&r), 4029, "server cap: {r}");
    // Deleting one frees its place.
    let r = a.ask("delete-tasks", json!({"taskIds": ["a1"]})).await;
    assert_eq!(r["ok"], true, "{r}");
    b.add_task(task("b1", &out, &[], &[])).await;
    srv.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_flood_is_coalesced_and_nothing_restarts_once_the_room_is_gone() {
    let srv = Srv::start("").await;
    let mut a = Client::sec(&srv, "flood", 1, json!({}), "broadcaster").await;
    let marker = format!("flood-{}-marker", std::process::id());
    let out = format!("{}/{marker}", srv.rtmp);
    a.add_task(task("f", &out, &[], &[])).await;
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let watching = CancellationToken::new();
    let watcher = {
        let (seen, stop, marker) = (seen.clone(), watching.clone(), marker.clone());
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                seen.lock().unwrap().extend(compositors(&marker));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    // 40 different layouts in a burst (under the request rate limit), then the room ends.
    for i in 0..40u32 {
        let mut t = task("f", &out, &[], &[]);
        t["layout"]["canvas"]["color"] = json!(i);
        let r = a.ask("update-tasks", tasks(t)).await;
        assert_eq!(r["ok"], true, "update {i}: {r}");
    }
    let r = a.ask("leave", json!({})).await;
    assert_eq!(r["ok"], true, "{r}");
    // Once the room is gone the supervisor drops the task, and with it every way to start a
    // compositor; then the last one it ran must be gone too (each within 90 s).
    live::until("the supervisor to drop the task", || {
        srv.live.tasks.keys().is_empty()
    })
    .await;
    live::until("the last compositor to end", || {
        compositors(&marker).is_empty()
    })
    .await;
    watching.cancel();
    watcher.await.unwrap();
    let starts = seen.lock().unwrap().len();
    assert!(
        starts <= 5,
        "{starts} compositors for one task and 40 updates"
    );
    srv.close().await;
}
