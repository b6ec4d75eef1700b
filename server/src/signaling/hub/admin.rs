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
        let member = self
            .rooms
            .get_mut(key)
            .and_then(|r| r.members.get_mut(&uid));
        let Some(m) = member else {
            return;
        };
        let sid = m.sid;
        let frame = m.push(&Event::Kicked { reason }, out);
        self.ended.insert(
            m.session.clone(),
            Ended {
                key: key.clone(),
                uid,
                frame,
                until_ms: now_ms + self.resume_window_ms,
            },
        );
        out.push(HubOut::Close {
            sid,
            code: SESSION_ENDED_CLOSE_CODE,
            reason: "session ended by the server".into(),
        });
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.joined = None;
        }
        // A replaced member is back at once: keep the room (and its push tasks) even if it was
        // the only one in it.
        let keep_room = reason == KickReason::Replaced;
        if reason == KickReason::TokenExpired {
            let hooks = self.rooms.get(key).and_then(|r| r.hooks.clone());
            let data = || serde_json::json!({ "uid": uid });
            members::hook(&hooks, "token.expired", data, out);
        }
        self.remove_member(key, uid, LeaveReason::Kicked, keep_room, now_ms, out);
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
        // The tokens the member holds now stop admitting it (see `join`).
        self.remember_kick(key, uid, now_ms / 1000);
        Ok(())
    }

    /// Bars the tokens of `uid` in `key` issued up to `at_s` (unix seconds), for
    /// [`KICK_MEMORY_MS`] from then; the oldest bar goes when [`MAX_KICKS_KEPT`] are held.
    fn remember_kick(&mut self, key: RoomKey, uid: u64, at_s: u64) {
        let held = self.kicked.get(&(key.clone(), uid)).copied();
        if held.is_some_and(|h| h >= at_s) {
            return;
        }
        if held.is_none() && self.kicked.len() >= MAX_KICKS_KEPT {
            if let Some(oldest) = self
                .kicked
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, _)| k.clone())
            {
                self.kicked.remove(&oldest);
            }
        }
        self.kicked.insert((key, uid), at_s);
    }

    /// The kick memory of room `app`/`room` another node wrote (`cluster/kicks.rs`): each bar
    /// still within [`KICK_MEMORY_MS`] of `now_ms` is kept, as if the kick had been here.
    pub fn remember_kicks(&mut self, app: &str, room: &str, kicks: &[(u64, u64)], now_ms: u64) {
        for &(uid, at_s) in kicks {
            if at_s.saturating_mul(1000).saturating_add(KICK_MEMORY_MS) > now_ms {
                self.remember_kick((app.to_owned(), room.to_owned()), uid, at_s);
            }
        }
    }

    /// Server API: remove the member `who` names: the user id it joined with, or (when it
    /// joined without one) its decimal uid. Matching the identity, not a uid derived from it,
    /// means a kick can only hit the member it names.
    pub fn api_kick_member(
        &mut self,
        app: &str,
        room: &str,
        who: &str,
        now_ms: u64,
        out: &mut Vec<HubOut>,
    ) -> Result<(), WireError> {
        let r = self
            .rooms
            .get(&(app.to_owned(), room.to_owned()))
            .ok_or_else(|| err(ErrorCode::NoSuchRoom, "no such room"))?;
        let uid = r
            .members
            .iter()
            .find(|(uid, m)| match &m.user {
                Some(u) => u.id == who,
                None => uid.to_string() == who,
            })
            .map(|(uid, _)| *uid)
            .ok_or_else(|| err(ErrorCode::NoSuchMember, "no such member in this room"))?;
        self.api_kick(app, room, uid, now_ms, out)
    }

    /// Server API: close a room. Every member hears it, every socket closes, tasks end.
    pub fn api_close_room(
        &mut self,
        app: &str,
        room: &str,
        now_ms: u64,
        out: &mut Vec<HubOut>,
    ) -> Result<(), WireError> {
        let key: RoomKey = (app.to_owned(), room.to_owned());
        let mut r = self
            .drop_room(&key)
            .ok_or_else(|| err(ErrorCode::NoSuchRoom, "no such room"))?;
        self.by_media.remove(&r.media_id);
        for (uid, m) in r.members.iter_mut() {
            let frame = m.push(&Event::RoomClosed {}, out);
            self.ended.insert(
                m.session.clone(),
                Ended {
                    key: key.clone(),
                    uid: *uid,
                    frame,
                    until_ms: now_ms + self.resume_window_ms,
                },
            );
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
        let data = || serde_json::json!({ "reason": "closed" });
        members::hook(&r.hooks, "room.ended", data, out);
        Ok(())
    }
}

/// How long before a join token expires its member is warned.
pub const TOKEN_WARNING_SECS: u64 = 30;

impl Hub {
    /// `renew-token`: a fresh token for the same app, room and uid replaces the session's.
    pub(super) fn renew_token(
        &mut self,
        sid: SessionId,
        t: &str,
        now_ms: u64,
        out: &mut Vec<HubOut>,
    ) -> Result<(), WireError> {
        let (key, uid) = self
            .sessions
            .get(&sid)
            .and_then(|s| s.joined.clone())
            .ok_or_else(super::not_in_room)?;
        let secret = self
            .apps
            .get(&key.0)
            .and_then(|a| a.secret.clone())
            .ok_or_else(|| err(ErrorCode::TokenInvalid, "this app key runs without tokens"))?;
        let m = self
            .rooms
            .get_mut(&key)
            .and_then(|r| r.members.get_mut(&uid))
            .ok_or_else(super::not_in_room)?;
        let user = m.user.as_ref().map(|u| u.id.as_str());
        let claims = token::verify_for(
            secret.as_bytes(),
            t,
            &key.0,
            &key.1,
            uid,
            user,
            now_ms / 1000,
        )
        .map_err(WireError::from)?;
        m.token_exp = claims.exp;
        m.warned = false;
        let room = self.rooms.get_mut(&key).ok_or_else(super::not_in_room)?;
        Self::set_privileges(room, uid, claims.privileges, out);
        Ok(())
    }
}
