//! Sessions the server ends: a uid that joined again elsewhere, and the server API's kick and
//! close-room.

use super::*;

/// Close code for a session ended by the server (kicked, replaced, room closed).
pub const SESSION_ENDED_CLOSE_CODE: u16 = 4409;

impl Hub {
    /// End the session of `uid` in `key`: it hears why, its socket closes, the others see it
    /// leave, and its pusher stops.
    pub(super) fn end_session(
        &mut self,
        key: &RoomKey,
        uid: u64,
        reason: KickReason,
        now_ms: u64,
        out: &mut Vec<HubOut>,
    ) {
        let Some(room) = self.rooms.get_mut(key) else {
            return;
        };
        let Some(m) = room.members.get_mut(&uid) else {
            return;
        };
        m.seq += 1;
        let sid = m.sid;
        out.push(HubOut::Send(
            sid,
            encode_event(m.seq, &Event::Kicked { reason }),
        ));
        out.push(HubOut::Close {
            sid,
            code: SESSION_ENDED_CLOSE_CODE,
            reason: "session ended by the server".into(),
        });
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.joined = None;
        }
        self.remove_member(key, uid, LeaveReason::Kicked, now_ms, out);
    }

    /// Server API: remove a member from a room.
    pub fn api_kick(
        &mut self,
        app: &str,
        room: &str,
        uid: u64,
        now_ms: u64,
        out: &mut Vec<HubOut>,
    ) -> Result<(), WireError> {
        let key: RoomKey = (app.to_owned(), room.to_owned());
        let r = self
            .rooms
            .get(&key)
            .ok_or_else(|| err(ErrorCode::NoSuchRoom, "no such room"))?;
        if !r.members.contains_key(&uid) {
            return Err(err(ErrorCode::NoSuchMember, "no such uid in this room"));
        }
        self.end_session(&key, uid, KickReason::Kicked, now_ms, out);
        Ok(())
    }

    /// Server API: close a room. Every member hears it, every socket closes, tasks end.
    pub fn api_close_room(
        &mut self,
        app: &str,
        room: &str,
        out: &mut Vec<HubOut>,
    ) -> Result<(), WireError> {
        let key: RoomKey = (app.to_owned(), room.to_owned());
        let mut r = self
            .rooms
            .remove(&key)
            .ok_or_else(|| err(ErrorCode::NoSuchRoom, "no such room"))?;
        self.by_media.remove(&r.media_id);
        for (uid, m) in r.members.iter_mut() {
            m.seq += 1;
            out.push(HubOut::Send(
                m.sid,
                encode_event(m.seq, &Event::RoomClosed {}),
            ));
            out.push(HubOut::Close {
                sid: m.sid,
                code: SESSION_ENDED_CLOSE_CODE,
                reason: "room closed".into(),
            });
            if m.pushing {
                out.push(HubOut::KickPublisher {
                    media_room: r.media_id.clone(),
                    uid: *uid,
                });
            }
            if let Some(s) = self.sessions.get_mut(&m.sid) {
                s.joined = None;
            }
        }
        tasks::end_all(&mut r, &key, out);
        Ok(())
    }
}
