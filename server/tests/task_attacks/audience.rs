//! Findings 3 and 7: a token that may not subscribe cannot show others through a task, and
//! the audience hears task status without push secrets or engine text.

use serde_json::json;

use crate::live::code;
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_may_not_subscribe_cannot_show_others_in_a_task() {
    let srv = Srv::start("").await;
    let _victim = Client::sec(&srv, "sub", 2, json!({}), "broadcaster").await;
    let mut a = Client::sec(&srv, "sub", 1, json!({"subscribe": false}), "broadcaster").await;
    let out = format!("{}/nosub", srv.rtmp);
    let r = a
        .ask("add-tasks", tasks(task("steal", &out, &[2], &[])))
        .await;
    assert_eq!(code(&r), 4014, "{r}");
    // Itself it may show.
    a.add_task(task("self", &out, &[1], &[])).await;
    // Nor may an update sneak the other member in.
    let r = a
        .ask("update-tasks", tasks(task("self", &out, &[1, 2], &[])))
        .await;
    assert_eq!(code(&r), 4014, "{r}");
    srv.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audience_hears_task_status_without_push_secrets_or_engine_text() {
    let srv = Srv::start("").await;
    let mut manager = Client::sec(&srv, "leak", 1, json!({}), "broadcaster").await;
    let mut viewer = Client::sec(&srv, "leak", 2, json!({}), "audience").await;
    // The own RTMP listener refuses this unsigned push: the task fails with a reason.
    let secret_url = format!(
        "{}/room?txSecret=TOPSECRET-PUSH-KEY&txTime=6a000000",
        srv.rtmp
    );
    manager.add_task(task("cdn", &secret_url, &[], &[])).await;
    let seen = viewer.status("cdn", 506).await;
    let shown = seen["stream_url"].as_str().unwrap();
    assert!(
        !shown.contains("TOPSECRET") && !shown.contains("/room"),
        "{seen}"
    );
    assert!(shown.starts_with("rtmp://"), "scheme and host stay: {seen}");
    assert_sanitized(seen["msg"].as_str().unwrap());
    // The one who manages tasks gets the URL it gave, and the same typed reason.
    let own = manager.status("cdn", 506).await;
    assert_eq!(own["stream_url"], secret_url.as_str());
    assert_sanitized(own["msg"].as_str().unwrap());
    srv.close().await;
}
