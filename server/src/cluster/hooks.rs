//! An external media engine's hooks (nginx-rtmp, SRS) reaching any node of a cluster.
//!
//! A hook names a stream `{media room}.{uid}`; only the room's owner knows which room a media
//! room id stands for, who may play there and who publishes. So the owner records
//! `mprtc:media:{media room}` = `[app, room]` in Redis, written by a script only while the
//! room's owner key still holds this node's `{node}:{epoch}` (the fence of `store.rs`), with
//! the lease as its life and renewed every third of it: the record expires with the room's
//! ownership. A node receiving a hook about a media room its hub does not hold reads the
//! record, reads the room's owner, and sends the hook on to the owner's registered address
//! with the cluster secret ([`Cluster::send_to`], the server API's forwarding), answering the
//! engine with the owner's answer. No record, or no owner: this node answers, and refuses an
//! unknown room as a single node does.
//!
//! The media room is checked for the shape this server gives media rooms before it becomes
//! part of a key (`crate::media::external::is_media_room`); the hook body was already capped
//! and parsed at this node, the owner caps and parses it again; the owner has
//! [`HOOK_DEADLINE`] to answer, after which the engine is refused.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use redis::Script;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::store::{call, owner_key, RENEW_BATCH};
use super::{Cluster, ClusterError, RoomKey, Route};
use crate::media::external::HookForward;
use crate::signaling::ws::Signaling;

/// How long the owner has to answer a forwarded hook: well under the engines' own wait for an
/// answer, so the engine hears a refusal rather than giving up.
const HOOK_DEADLINE: Duration = Duration::from_secs(5);
/// How often, after a claim, the records are tried again while the hub has not yet taken the
/// claimed room in (its join is handled right after the claim).
const CLAIM_RETRY: Duration = Duration::from_millis(10);
/// Tries after a claim before waiting for the next round.
const CLAIM_TRIES: u32 = 100;

/// Writes each media record whose room's owner key still holds the value given for it.
/// `KEYS`: owner key, media key, ...; `ARGV`: life (ms), then owner value, record, ...
const RECORD: &str = r"
for i = 1, #KEYS, 2 do
  if redis.call('GET', KEYS[i]) == ARGV[i + 1] then
    redis.call('SET', KEYS[i + 1], ARGV[i + 2], 'PX', ARGV[1])
  end
end
return 0
";

/// [`RECORD`], hashed once for `EVALSHA`.
static RECORD_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RECORD));

fn media_key(media_room: &str) -> String {
    format!("mprtc:media:{media_room}")
}

/// The media rooms of the rooms this node owns and has recorded, and the signal that a room
/// was just claimed (its record is due at once, not at the next round).
#[derive(Default)]
pub struct MediaRecords {
    /// Media room id -> room, as last recorded by this node. Replaced whole every round, so it
    /// holds no more than the rooms the hub holds.
    here: Mutex<HashMap<String, RoomKey>>,
    wake: Notify,
}

impl MediaRecords {
    /// A room was claimed by this node.
    pub(super) fn claimed(&self) {
        self.wake.notify_one();
    }

    fn holds(&self, media_room: &str) -> bool {
        self.here
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(media_room)
    }
}

/// The forwarding `crate::media::external` calls for hooks of rooms this node may not own.
pub fn hook_forward(cluster: &Arc<Cluster>) -> Arc<dyn HookForward> {
    Arc::new(Forward(cluster.clone()))
}

struct Forward(Arc<Cluster>);

impl HookForward for Forward {
    fn forward(&self, media_room: String, req: Request) -> BoxFuture<'static, Option<Response>> {
        let c = self.0.clone();
        Box::pin(async move { c.forward_hook(&media_room, req).await })
    }
}

impl Cluster {
    /// The owner's answer to hook `req` about `media_room`, or `None` to answer here.
    async fn forward_hook(&self, media_room: &str, req: Request) -> Option<Response> {
        if self.media.holds(media_room) {
            return None;
        }
        let refuse = |e: ClusterError| {
            tracing::warn!(code = e.code(), error = %e, "media hook not forwarded: refused");
            Some(e.into_response())
        };
        let (app, room) = match self.media_record(media_room).await {
            Ok(Some(k)) => k,
            Ok(None) => return None,
            Err(e) => return refuse(e),
        };
        match self.owner_of(&app, &room).await {
            Ok(Some(Route::Owner { node, authority })) => {
                tracing::debug!(%node, media_room, "media hook forwarded to the room's owner");
                match tokio::time::timeout(HOOK_DEADLINE, self.send_to(&node, &authority, req))
                    .await
                {
                    Ok(Ok(resp)) => Some(resp),
                    Ok(Err(e)) => refuse(e),
                    Err(_) => refuse(ClusterError::Relay("no answer within 5 s".into())),
                }
            }
            Ok(_) => None,
            Err(e) => refuse(e),
        }
    }

    /// The room a media room id was recorded for, if a live owner recorded it.
    async fn media_record(&self, media_room: &str) -> Result<Option<RoomKey>, ClusterError> {
        let mut con = self.store.con.clone();
        let cmd = redis::cmd("GET").arg(media_key(media_room)).clone();
        let raw = self.seen(call(cmd.query_async::<Option<String>>(&mut con)).await)?;
        let key = raw.and_then(|r| serde_json::from_str::<RoomKey>(&r).ok());
        Ok(key.filter(|(app, room)| self.routable(app, room)))
    }

    /// Records the media rooms of the rooms this node owns and its hub holds, each under the
    /// fence of its owner value; `true` if a room just claimed is not in the hub yet.
    async fn record_media(&self, sig: &Signaling) -> bool {
        let owned: Vec<(RoomKey, String, bool)> = {
            let owned = self.owned.lock().unwrap_or_else(|p| p.into_inner());
            let fresh = self.lease() / 3;
            owned
                .iter()
                .map(|(k, o)| (k.clone(), o.value.clone(), o.confirmed.elapsed() < fresh))
                .collect()
        };
        let ids: Vec<Option<String>> = sig.api(|h, _| {
            owned
                .iter()
                .map(|((app, room), _, _)| h.media_id(app, room).map(str::to_owned))
                .collect()
        });
        let pending = owned
            .iter()
            .zip(&ids)
            .any(|((_, _, fresh), id)| *fresh && id.is_none());
        let rows: Vec<(String, RoomKey, String)> = owned
            .into_iter()
            .zip(ids)
            .filter_map(|((key, value, _), id)| id.map(|id| (id, key, value)))
            .collect();
        for batch in rows.chunks(RENEW_BATCH) {
            let mut inv = RECORD_SCRIPT.prepare_invoke();
            inv.arg(self.lease_ms);
            for (id, (app, room), value) in batch {
                let record = serde_json::json!([app, room]).to_string();
                inv.key(owner_key(app, room))
                    .key(media_key(id))
                    .arg(value)
                    .arg(record);
            }
            let mut con = self.store.con.clone();
            if let Err(e) = self.seen(call(inv.invoke_async::<i64>(&mut con)).await) {
                tracing::warn!(code = e.code(), error = %e, "cluster: cannot record media rooms");
                return pending;
            }
        }
        let here = rows.into_iter().map(|(id, key, _)| (id, key)).collect();
        *self.media.here.lock().unwrap_or_else(|p| p.into_inner()) = here;
        pending
    }

    /// Keeps the media records of `sig`'s rooms until `stop`: every third of the lease, and at
    /// once when a room is claimed (retried briefly until the hub has taken the room in).
    pub async fn run_media_records(self: Arc<Self>, sig: Signaling, stop: CancellationToken) {
        let every = self.lease() / 3;
        loop {
            let mut tries = 0;
            while self.record_media(&sig).await && tries < CLAIM_TRIES {
                tries += 1;
                tokio::select! {
                    () = tokio::time::sleep(CLAIM_RETRY) => {}
                    () = stop.cancelled() => return,
                }
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = self.media.wake.notified() => {}
                () = stop.cancelled() => return,
            }
        }
    }
}
