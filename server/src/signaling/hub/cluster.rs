//! What a node of a cluster (`crate::cluster`) asks of its hub: the rooms it holds, whether a
//! connection has joined, and giving up a room another node now owns.
//!
//! Kept apart from the rest of the hub: on a single node none of it runs, and the hub's own
//! rules (events, seqs, resumes) stay where they are.

use super::*;

/// Close code for a member whose room is no longer served by this node (its ownership lease
/// was lost or taken over). Not final: the client reconnects through the same address and is
/// routed to the room's owner, where it resumes.
pub const ROOM_MOVED_CLOSE_CODE: u16 = 4503;

impl Hub {
    /// `(app, room)` of every room held now.
    pub fn room_keys(&self) -> Vec<(String, String)> {
        self.rooms.keys().cloned().collect()
    }

    /// Whether connection `sid` is a member of a room (its first join went through).
    pub fn is_joined(&self, sid: SessionId) -> bool {
        self.sessions.get(&sid).is_some_and(|s| s.joined.is_some())
    }

    /// Drop `app`/`room` without a word to anyone but the sockets: another node owns it now,
    /// and whatever this node would say could contradict what the owner says. Attached
    /// members are closed with [`ROOM_MOVED_CLOSE_CODE`], pushers cut, tasks stopped; no
    /// event and no webhook goes out. False if the room was not here.
    pub fn evict_room(&mut self, app: &str, room: &str, out: &mut Vec<HubOut>) -> bool {
        let key: RoomKey = (app.to_owned(), room.to_owned());
        let Some(mut r) = self.drop_room(&key) else {
            return false;
        };
        self.by_media.remove(&r.media_id);
        for m in r.members.values() {
            if let Some(s) = self.sessions.get_mut(&m.sid) {
                s.joined = None;
            }
        }
        let attached = r.members.values().filter(|m| m.attached);
        out.extend(attached.map(|m| HubOut::Close {
            sid: m.sid,
            code: ROOM_MOVED_CLOSE_CODE,
            reason: "room moved to another node: reconnect".into(),
        }));
        let pushers = r.members.iter().filter(|(_, m)| m.pushing);
        out.extend(pushers.map(|(uid, _)| HubOut::KickPublisher {
            media_room: r.media_id.clone(),
            uid: *uid,
        }));
        tasks::end_all(&mut r, &key, out);
        true
    }
}
