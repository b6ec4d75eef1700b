//! The lease loop of a node: every third of the lease it renews its registry entry and the
//! ownership of each room its hub holds, drops the rooms it no longer owns, and releases
//! the ones its hub has let go of. On shutdown it gives everything up at once, so that the
//! members it closed are taken in by another node without waiting out a lease.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Cluster, RoomKey};
use crate::signaling::ws::Signaling;

impl Cluster {
    /// Runs the lease loop for `sig`'s hub until `stop`, then unregisters and releases.
    pub async fn run_leases(self: Arc<Self>, sig: Signaling, stop: CancellationToken) {
        let _ = self.signaling.set(sig.clone());
        let commits = tokio::spawn(self.clone().run_commits(sig.clone(), stop.clone()));
        let every = self.lease() / 3;
        loop {
            self.round(&sig).await;
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = stop.cancelled() => break,
            }
        }
        let _ = commits.await;
        self.give_up_all().await;
    }

    /// One round: the registry entry, then each owned room.
    async fn round(&self, sig: &Signaling) {
        let r = self
            .store
            .register(&self.node, &self.advertise, self.lease_ms)
            .await;
        match self.seen(r) {
            Ok(nodes) => self.set_peers(&nodes),
            Err(e) => {
                tracing::warn!(code = e.code(), error = %e, "cluster: cannot renew the node lease")
            }
        }
        let held: HashSet<RoomKey> = sig.api(|h, _| h.room_keys()).into_iter().collect();
        let owned: Vec<(RoomKey, String)> = {
            let mut owned = self.owned.lock().unwrap_or_else(|p| p.into_inner());
            for (key, o) in owned.iter_mut() {
                o.absent = if held.contains(key) { 0 } else { o.absent + 1 };
            }
            owned
                .iter()
                .map(|(k, o)| (k.clone(), o.value.clone()))
                .collect()
        };
        // Rooms the hub holds that this node does not own: only if ownership was lost
        // between a claim and its join; never served without a lease.
        let strays: Vec<RoomKey> = held
            .iter()
            .filter(|k| !owned.iter().any(|(o, _)| o == *k))
            .cloned()
            .collect();
        let asked = Instant::now();
        let pairs: Vec<(&RoomKey, &str)> = owned.iter().map(|(k, v)| (k, v.as_str())).collect();
        let renewed = self.seen(self.store.renew(&pairs, self.lease_ms).await);
        let mut lost = strays;
        {
            let mut map = self.owned.lock().unwrap_or_else(|p| p.into_inner());
            match &renewed {
                Ok(held_still) => {
                    for ((key, value), ok) in owned.iter().zip(held_still) {
                        match map.get_mut(key) {
                            // Re-claimed with another epoch meanwhile: that claim decides.
                            Some(o) if o.value != *value => {}
                            Some(o) if *ok => o.confirmed = o.confirmed.max(asked),
                            Some(_) => {
                                map.remove(key);
                                lost.push(key.clone());
                            }
                            None => {}
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(code = e.code(), error = %e, "cluster: cannot renew room leases");
                    // Believed for two thirds of the lease after the last confirmation; the
                    // key outlives that by a third, so no other node speaks before we stop.
                    let limit = self.lease() * 2 / 3;
                    map.retain(|key, o| {
                        let keep = o.confirmed.elapsed() < limit;
                        if !keep {
                            lost.push(key.clone());
                        }
                        keep
                    });
                }
            }
        }
        for (app, room) in lost {
            tracing::info!(%app, %room, "cluster: room no longer owned here; dropped");
            sig.api(|h, out| h.evict_room(&app, &room, out));
        }
        self.release_absent().await;
    }

    /// Releases rooms the hub has not held for two rounds in a row (they ended).
    async fn release_absent(&self) {
        let gone: Vec<(RoomKey, String)> = {
            let mut map = self.owned.lock().unwrap_or_else(|p| p.into_inner());
            let gone: Vec<_> = map
                .iter()
                .filter(|(_, o)| o.absent >= 2)
                .map(|(k, o)| (k.clone(), o.value.clone()))
                .collect();
            for (k, _) in &gone {
                map.remove(k);
            }
            gone
        };
        for ((app, room), value) in gone {
            let r = self.store.release(&app, &room, &value, true).await;
            let _ = self.seen(r);
        }
    }

    /// The node stops: its rooms and its registry entry go now.
    async fn give_up_all(&self) {
        let all: Vec<(RoomKey, String)> = {
            let mut map = self.owned.lock().unwrap_or_else(|p| p.into_inner());
            map.drain().map(|(k, o)| (k, o.value)).collect()
        };
        for ((app, room), value) in all {
            let _ = self.store.release(&app, &room, &value, false).await;
        }
        let _ = self.store.unregister(&self.node).await;
    }
}
