//! The committer: one task per node that writes what changed in the rooms it owns to Redis
//! (`state.rs`), and the takeover that reads it back.
//!
//! Writes are asynchronous: frames go out at once, and what they came from reaches Redis
//! within [`COMMIT_EVERY`]. The rule that keeps both sides agreeing when an owner dies in
//! between is the hub's: a member read back may resume only up to the seq that was written
//! (`resume_ceiling`), so a client that saw an unwritten event rejoins from a snapshot of
//! what the new owner knows, never onto a history that contradicts what it saw. Each room is
//! written in one fenced script call taken from one reading of the hub, so what is written
//! is always a state the room really was in (a member's `member-joined` is never written
//! without that member).
//!
//! Cost is bounded: a room is read only for what changed since its last write (a fingerprint
//! per member), a round writes at most [`ROUND_BYTES`] (the rest waits for the next round),
//! and a quiet room is only touched to extend its key's life.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Cluster, ClusterError, RoomKey};
use crate::signaling::hub::{RestoreError, RoomDelta, Written};
use crate::signaling::ws::{now_ms, Signaling};

/// How often the committer writes what changed: the most a takeover loses, in time.
pub const COMMIT_EVERY: Duration = Duration::from_millis(100);
/// The longest the server API's kick or room close waits for its write before answering
/// anyway (Redis not answering; the round logs that).
const COMMIT_WAIT: Duration = Duration::from_secs(3);
/// The most bytes one round writes; rooms beyond wait for the next round.
const ROUND_BYTES: usize = 8 << 20;

/// What the committer knows of one room it wrote.
struct Committed {
    /// The owner value it was written under: a new epoch is written in full.
    value: String,
    written: Written,
    /// When Redis last took a write of it (a quiet room is touched every third of a lease).
    at: Option<Instant>,
    /// Its kick memory as last written to `mprtc:kicks:…` (`kicks.rs`), sorted.
    kicks: Vec<(u64, u64)>,
}

impl Cluster {
    /// Writes the owned rooms' changes every [`COMMIT_EVERY`] until `stop`, and once more
    /// then: a node that stops hands its rooms over with everything it sent written.
    pub(super) async fn run_commits(self: Arc<Self>, sig: Signaling, stop: CancellationToken) {
        let mut rooms: HashMap<RoomKey, Committed> = HashMap::new();
        loop {
            let stopping = tokio::select! {
                () = tokio::time::sleep(COMMIT_EVERY) => false,
                () = self.commit_now.notified() => false,
                () = stop.cancelled() => true,
            };
            self.commit_round(&sig, &mut rooms).await;
            self.commits.send_modify(|n| *n += 1);
            if stopping {
                break;
            }
        }
    }

    /// Waits until a commit round that read the hub after this call has ended (at most
    /// [`COMMIT_WAIT`]): what the hub holds now is then in Redis, unless Redis failed (the
    /// round logs it). The round running at the call may have read the hub before it, so the
    /// one after it is waited for, called at once.
    pub(super) async fn committed(&self) {
        let mut rounds = self.commits.subscribe();
        let start = *rounds.borrow_and_update();
        self.commit_now.notify_one();
        let after = rounds.wait_for(|n| *n >= start + 2);
        let _ = tokio::time::timeout(COMMIT_WAIT, after).await;
    }

    /// One round: the deltas of every owned room, read under one lock, then written.
    async fn commit_round(&self, sig: &Signaling, rooms: &mut HashMap<RoomKey, Committed>) {
        let owned: Vec<(RoomKey, String)> = {
            let map = self.owned.lock().unwrap_or_else(|p| p.into_inner());
            map.iter()
                .map(|(k, o)| (k.clone(), o.value.clone()))
                .collect()
        };
        // Rooms no longer owned are another node's business now.
        rooms.retain(|k, c| owned.iter().any(|(o, v)| o == k && *v == c.value));
        let quiet = self.lease() / 3;
        type Read = (RoomKey, String, Option<RoomDelta>, Vec<(u64, u64)>);
        let deltas: Vec<Read> = sig.api(|h, _| {
            let mut budget = ROUND_BYTES;
            let mut out = Vec::new();
            let kicks = h.kicks_by_room();
            for (key, value) in &owned {
                if budget == 0 {
                    break;
                }
                let c = rooms.entry(key.clone()).or_insert_with(|| Committed {
                    value: value.clone(),
                    written: Written::default(),
                    at: None,
                    kicks: Vec::new(),
                });
                let d = h.room_delta(key, &kicks, &mut c.written);
                let size = d.as_ref().map_or(0, delta_bytes);
                budget = budget.saturating_sub(size);
                let mut room_kicks = kicks.of(key).to_vec();
                room_kicks.sort_unstable();
                out.push((key.clone(), value.clone(), d, room_kicks));
            }
            out
        });
        for (key, value, delta, room_kicks) in deltas {
            let (app, room) = (key.0.as_str(), key.1.as_str());
            // Before anything else: the kick memory must outlive the room (`kicks.rs`).
            if let Some(c) = rooms.get_mut(&key) {
                if c.kicks != room_kicks {
                    let new: Vec<_> = room_kicks
                        .iter()
                        .filter(|k| !c.kicks.contains(k))
                        .copied()
                        .collect();
                    match self.seen(self.store.remember_kicks(app, room, &new).await) {
                        Ok(()) => c.kicks = room_kicks,
                        Err(e) => {
                            tracing::warn!(code = e.code(), error = %e, %app, %room, "cluster: kicks not written");
                        }
                    }
                }
            }
            let Some(delta) = delta else {
                // Not in the hub: it ended (closed, or its last member went), or it was never
                // joined here. What was written of a room that ended goes now, not when the
                // lease loop releases the room: a node taking the room over in between would
                // bring its members back.
                if rooms.remove(&key).is_some_and(|c| c.at.is_some()) {
                    if let Err(e) = self.seen(self.store.drop_state(app, room, &value).await) {
                        tracing::warn!(code = e.code(), error = %e, %app, %room, "cluster: state of an ended room not deleted");
                    }
                }
                continue;
            };
            let due = rooms
                .get(&key)
                .and_then(|c| c.at)
                .is_none_or(|at| at.elapsed() >= quiet);
            if delta.is_empty() && !due {
                continue;
            }
            let ttl = self.lease_ms + super::state::STATE_TTL_MS;
            let asked = Instant::now();
            match self.seen(self.store.commit((app, room), &value, &delta, ttl).await) {
                Ok(true) => {
                    if let Some(c) = rooms.get_mut(&key) {
                        c.at = Some(asked);
                    }
                }
                // The fence refused: the lease loop finds out and drops the room.
                Ok(false) => {
                    rooms.remove(&key);
                }
                Err(e) => {
                    tracing::warn!(code = e.code(), error = %e, %app, %room, "cluster: room state not written");
                    // Written again in full next round.
                    rooms.remove(&key);
                }
            }
        }
    }

    /// This node just claimed `key` with a new epoch (`value`): the room's members, tasks and
    /// kicks as its last owner wrote them join the hub here, every member detached. State
    /// that is refused (corrupt, oversized) is logged with its code and deleted, and the room
    /// starts empty. False when this node is at its room limit: the claim is given back and
    /// the state kept for the node that takes the room next.
    pub(super) async fn take_over(&self, key: &RoomKey, value: &str) -> bool {
        let Some(sig) = self.signaling.get() else {
            return true;
        };
        let (app, room) = (key.0.as_str(), key.1.as_str());
        // The kick memory first: it outlives the room's state (`kicks.rs`).
        match self.seen(self.store.kicks(app, room).await) {
            Ok(kicks) if !kicks.is_empty() => {
                sig.api(|h, _| h.remember_kicks(app, room, &kicks, now_ms()));
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(code = e.code(), error = %e, %app, %room, "cluster: kick memory not read");
            }
        }
        let refused = match self.seen(self.store.load(app, room).await) {
            Ok(None) => return true,
            Ok(Some(s)) => {
                let restored =
                    sig.api(|h, out| h.restore_room(key, &s.room, &s.members, now_ms(), out));
                match restored {
                    Ok(n) => {
                        tracing::info!(%app, %room, members = n, "cluster: room taken over with its state");
                        return true;
                    }
                    // This node's hub still serves the room (its own, re-claimed): what
                    // Redis holds is what this node wrote, and stays.
                    Err(RestoreError::AlreadyHeld) => return true,
                    Err(e @ RestoreError::RoomLimit) => {
                        tracing::info!(code = e.code(), %app, %room, "cluster: room not taken over: this node is full");
                        let r = self.store.release(app, room, value, false).await;
                        let _ = self.seen(r);
                        return false;
                    }
                    Err(e) => ClusterError::BadState(e.code()),
                }
            }
            Err(e @ ClusterError::BadState(_)) => e,
            Err(e) => {
                tracing::warn!(code = e.code(), error = %e, %app, %room, "cluster: room state not read; starts empty");
                return true;
            }
        };
        tracing::warn!(code = refused.code(), error = %refused, %app, %room, "cluster: room state refused; starts empty");
        let r = self.store.drop_state(app, room, value).await;
        let _ = self.seen(r);
        true
    }
}

/// About how many bytes writing `d` sends.
fn delta_bytes(d: &RoomDelta) -> usize {
    let members: usize = d.members.iter().map(|(_, r)| r.len() + 24).sum();
    d.room.as_ref().map_or(0, String::len) + members + d.gone.len() * 24
}
