//! Nodes of one cluster in this process: real servers on loopback ports sharing one Redis.
#![allow(dead_code)] // each suite uses its own part of it

use std::time::Duration;

use crate::live::probe::picked_addr;
use crate::live::{start_with, Live, SECRET};
use mprtc_server::config::Overrides;

/// The cluster secret of the tests' nodes.
pub const CLUSTER_SECRET: &str = "cluster-suite-node-to-node-secret-0123456789";
/// The lease of the tests' nodes (ms): short, so a takeover is quick.
pub const LEASE_MS: u64 = 3_000;

/// A node on a picked loopback port, advertising it, in the cluster of `redis_url`; it has
/// answered `/readyz` with 200 (it is registered) before this returns.
pub async fn node(redis_url: &str) -> Live {
    node_with(redis_url, |_| {}).await
}

/// [`node`] with `tune` applied to its settings.
pub async fn node_with(redis_url: &str, tune: impl FnOnce(&mut Overrides)) -> Live {
    let addr = picked_addr();
    let url = redis_url.to_owned();
    let live = start_with(|o| {
        o.listen = Some(addr.parse().unwrap());
        o.redis_url = Some(url.into());
        o.cluster_advertise = Some(format!("http://{addr}"));
        o.cluster_secret = Some(CLUSTER_SECRET.into());
        o.cluster_lease_ms = Some(LEASE_MS);
        // The media secret is shared so that any node's URLs are good on any node.
        o.media_secret = Some(format!("{SECRET}-media").into());
        tune(o);
    })
    .await;
    until_ready(&live.addr(), 200).await;
    live
}

/// Waits until `GET /readyz` on `addr` answers `status` (90 s at most); its body.
pub async fn until_ready(addr: &str, status: u16) -> String {
    for _ in 0..900 {
        let (s, _, body) = crate::live::scrape::get(addr, "/readyz", None).await;
        if s == status {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/readyz of {addr} never answered {status}");
}
