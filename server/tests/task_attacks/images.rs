//! Finding 1: layout images are never fetched from internal addresses, and allowed hosts
//! still refuse redirects and non-images.

use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layout_images_are_never_fetched_from_internal_addresses() {
    let internal = Internal::start().await;
    let srv = Srv::start("").await;
    let mut a = Client::sec(&srv, "ssrf", 1, json!({}), "broadcaster").await;
    // The output is the server's own RTMP listener (always allowed); the images are not.
    let out = format!("{}/probe", srv.rtmp);
    for (id, url) in [
        ("by_ip", format!("http://{}/creds?.ans", internal.addr)),
        (
            "by_name",
            format!("http://localhost:{}/creds?.ans", internal.addr.port()),
        ),
    ] {
        a.add_task(task(id, &out, &[], &[url])).await;
        let st = a.status(id, 506).await;
        assert_eq!(
            internal.hits(),
            Vec::<String>::new(),
            "{id}: the internal service was reached"
        );
        let msg = st["msg"].as_str().unwrap();
        assert!(msg.starts_with("image_refused"), "{id}: {st}");
        assert_sanitized(msg);
    }
    srv.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_image_hosts_still_refuse_redirects_and_non_images_and_composite_pngs() {
    let internal = Internal::start().await;
    // Tests only have loopback: the operator allows private image hosts here.
    let srv = Srv::start("[tasks]\nimage_allow_private = true\n").await;
    let mut a = Client::sec(&srv, "img", 1, json!({}), "broadcaster").await;
    let push = a
        .ask("publish", json!({"audio": true, "video": true}))
        .await;
    let out = push["body"]["url"].as_str().expect("a push URL").to_owned();
    let base = format!("http://{}", internal.addr);

    a.add_task(task("redir", &out, &[], &[format!("{base}/redir")]))
        .await;
    assert_image_refused(&a.status("redir", 506).await, "a redirect");
    assert_eq!(
        internal.hits(),
        vec!["GET /redir HTTP/1.1".to_owned()],
        "the redirect was not followed"
    );

    a.add_task(task("text", &out, &[], &[format!("{base}/creds?.ans")]))
        .await;
    assert_image_refused(&a.status("text", 506).await, "a text body is no image");

    // A real PNG from an allowed host is composited: ffmpeg runs and pushes.
    a.add_task(task("png", &out, &[], &[format!("{base}/logo.png")]))
        .await;
    a.status("png", 505).await;
    srv.close().await;
}
