//! Extra info (`set-extra-info`): a short text a member hangs on its stream (ZEGO's stream
//! extra info) and keyed texts on the room (room extra info). The hub keeps the current ones
//! per room, tells the others of each change as an `extra-info` event (ordered, once, resumed
//! like every event), and tells a joiner the current ones right after its join answer.
//!
//! Each change is a frame to every other member, as a room message is; so changes are held to
//! the messages' rates (per member and per room, in budgets of their own so that chat does not
//! starve a stream's info or the reverse): without them one member at the connection's request
//! rate would make the server write 50 frames a second to each of a thousand members.

use std::collections::BTreeMap;

use super::messages::{MEMBER_MESSAGES_PER_SEC, ROOM_MESSAGES_PER_SEC};
use super::*;

/// A room's extra info: keyed room values and member streams' values, each with who set it
/// and when.
#[derive(Debug, Default)]
pub(super) struct RoomInfo {
    /// key -> (who set it, value, when); written with the room in a cluster (`persist.rs`).
    pub(super) room: BTreeMap<String, (u64, String, u64)>,
    /// uid -> (value, when); written with each member in a cluster (`persist.rs`).
    pub(super) streams: BTreeMap<u64, (String, u64)>,
    /// The room's and its members' budgets of changes, at the messages' rates (not written:
    /// a takeover starts them full; a member's is dropped when it leaves).
    rates: RoomRates,
}

impl Hub {
    /// `set-extra-info`: check, keep, and tell the others.
    pub(super) fn set_extra_info(
        &mut self,
        sid: SessionId,
        r: SetExtraInfoReq,
        id: u32,
        now_ms: u64,
        out: &mut Vec<HubOut>,
    ) -> Result<String, WireError> {
        if r.value.len() > MAX_INFO_VALUE_BYTES {
            return Err(err(ErrorCode::InvalidParams, "value: at most 1024 bytes"));
        }
        if r.key
            .as_ref()
            .is_some_and(|k| k.is_empty() || k.len() > MAX_INFO_KEY_BYTES)
        {
            return Err(err(ErrorCode::InvalidParams, "key: 1 to 32 bytes"));
        }
        let (key, uid) = self.room_key_of(sid)?;
        let info = self.infos.entry(key.clone()).or_default();
        let (member, room) = (MEMBER_MESSAGES_PER_SEC, ROOM_MESSAGES_PER_SEC);
        if !info.rates.take(uid, member, room, now_ms) {
            return Err(err(
                ErrorCode::LimitExceeded,
                "too many extra info changes: 10 a second per member, 50 per room",
            ));
        }
        match &r.key {
            Some(k) => {
                if !info.room.contains_key(k) && info.room.len() >= MAX_ROOM_INFO_KEYS {
                    return Err(err(
                        ErrorCode::LimitExceeded,
                        "a room holds at most 10 extra info keys",
                    ));
                }
                info.room.insert(k.clone(), (uid, r.value.clone(), now_ms));
            }
            None => {
                info.streams.insert(uid, (r.value.clone(), now_ms));
            }
        }
        let room = self.rooms.get_mut(&key).ok_or_else(not_in_room)?;
        let ev = Event::ExtraInfo {
            uid,
            key: r.key,
            value: r.value,
            ts: now_ms,
        };
        Self::broadcast(room, Some(uid), &ev, out);
        Ok(encode_ok(id, &Empty))
    }

    /// After a join that did not resume: the room's current extra info, to the joiner only.
    pub(super) fn send_extra_info(&mut self, sid: SessionId, out: &mut Vec<HubOut>) {
        let Ok((key, uid)) = self.room_key_of(sid) else {
            return;
        };
        let (Some(info), Some(room)) = (self.infos.get(&key), self.rooms.get_mut(&key)) else {
            return;
        };
        let Some(m) = room.members.get_mut(&uid) else {
            return;
        };
        for (k, (from, value, ts)) in &info.room {
            let ev = Event::ExtraInfo {
                uid: *from,
                key: Some(k.clone()),
                value: value.clone(),
                ts: *ts,
            };
            m.push(&ev, out);
        }
        for (from, (value, ts)) in info.streams.iter().filter(|(u, _)| **u != uid) {
            let ev = Event::ExtraInfo {
                uid: *from,
                key: None,
                value: value.clone(),
                ts: *ts,
            };
            m.push(&ev, out);
        }
    }

    /// Forget the extra info of rooms that ended, and the stream info of members that left
    /// (from [`Hub::tick`]).
    pub(super) fn sweep_extra_info(&mut self) {
        let rooms = &self.rooms;
        self.infos.retain(|key, info| match rooms.get(key) {
            Some(room) => {
                info.streams.retain(|uid, _| room.members.contains_key(uid));
                info.rates
                    .keep_members(|uid| room.members.contains_key(&uid));
                true
            }
            None => false,
        });
    }
}
