//! Room messages (`send-message`): chat, barrage and custom commands between members, ZEGO's
//! three kinds. The hub numbers each message in its room, stamps it with the server's time and
//! hands it out as a `message` event, so it has every event's guarantees: one order for all,
//! each delivered once, and sent again after a resume. What a member and a room may send is
//! bounded (size, targets, rate): a room full of chat must not crowd out its own signaling.

use super::*;

/// Messages one member may send per second (bursts up to as many): a person typing, or a
/// client sending commands, stays well under it; a loop does not.
pub const MEMBER_MESSAGES_PER_SEC: f64 = 10.0;
/// Messages one room carries per second, all members together: each is a frame to every
/// other member, so this bounds the fan-out a room costs (50 x 1,000 members at most).
pub const ROOM_MESSAGES_PER_SEC: f64 = 50.0;

/// A room's message state: the last id given and the rate budgets.
#[derive(Debug, Default)]
pub(super) struct RoomMessages {
    /// Written with the room in a cluster (`persist.rs`), so ids go on after a takeover.
    pub(super) last_id: u64,
    rates: RoomRates,
}

impl Hub {
    /// `send-message`: check it, number it, send it to everyone else in the room or, for a
    /// command with targets, to those of them who are in it.
    pub(super) fn send_message(
        &mut self,
        sid: SessionId,
        r: SendMessageReq,
        id: u32,
        now_ms: u64,
        out: &mut Vec<HubOut>,
    ) -> Result<String, WireError> {
        if r.text.is_empty() || r.text.len() > MAX_MESSAGE_BYTES {
            return Err(err(
                ErrorCode::InvalidParams,
                "text must be 1 to 1024 bytes",
            ));
        }
        if r.to.len() > MAX_MESSAGE_TARGETS || (r.kind != MessageKind::Command && !r.to.is_empty())
        {
            return Err(err(
                ErrorCode::InvalidParams,
                "to: only a command has targets, at most 100",
            ));
        }
        let (key, from) = self.room_key_of(sid)?;
        let state = self.messages.entry(key.clone()).or_default();
        let (member, room) = (MEMBER_MESSAGES_PER_SEC, ROOM_MESSAGES_PER_SEC);
        if !state.rates.take(from, member, room, now_ms) {
            return Err(err(
                ErrorCode::LimitExceeded,
                "too many messages: 10 a second per member, 50 per room",
            ));
        }
        state.last_id += 1;
        let msg_id = state.last_id;
        let room = self.rooms.get_mut(&key).ok_or_else(not_in_room)?;
        let ev = Event::Message {
            id: msg_id,
            kind: r.kind,
            from,
            text: r.text,
            ts: now_ms,
        };
        if r.to.is_empty() {
            Self::broadcast(room, Some(from), &ev, out);
        } else {
            let body: Arc<str> = Arc::from(encode_event_body(&ev));
            // Each target once, however often it is named: a list of one uid a hundred times
            // must not turn one message into a hundred frames to that member.
            let mut to = r.to;
            to.sort_unstable();
            to.dedup();
            for uid in to.iter().filter(|u| **u != from) {
                if let Some(m) = room.members.get_mut(uid) {
                    m.push_body(&body, out);
                }
            }
        }
        Ok(encode_ok(
            id,
            &SendMessageOk {
                id: msg_id,
                ts: now_ms,
            },
        ))
    }

    /// The room and uid of the connection `sid` (4020 `not_in_room` when it has joined none).
    pub(super) fn room_key_of(&self, sid: SessionId) -> Result<(RoomKey, u64), WireError> {
        self.sessions
            .get(&sid)
            .and_then(|s| s.joined.clone())
            .ok_or_else(not_in_room)
    }

    /// Forget the message state of rooms that ended and of members that left (from
    /// [`Hub::tick`]): it lives as long as what it is about.
    pub(super) fn sweep_messages(&mut self) {
        let rooms = &self.rooms;
        self.messages.retain(|key, state| match rooms.get(key) {
            Some(room) => {
                state
                    .rates
                    .keep_members(|uid| room.members.contains_key(&uid));
                true
            }
            None => false,
        });
    }
}
