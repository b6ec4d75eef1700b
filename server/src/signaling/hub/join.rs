//! `join`: admission (app, token, room and member limits, the kick memory) and the answer's
//! snapshot; and the resume of a session whose connection dropped, with the events it missed.

use super::*;

impl Hub {
    /// `join`: check the app, the token (and the kick memory), the names and the limits; resume
    /// the member's session if the join asks for it and it can be, else join afresh (replacing
    /// an older session of the same uid) and answer with the room's snapshot.
    pub(super) fn join(
        &mut self,
        sid: SessionId,
        r: JoinReq,
        now_ms: u64,
        id: u32,
        out: &mut Vec<HubOut>,
        after: &mut Vec<HubOut>,
    ) -> Result<String, WireError> {
        if self.sessions[&sid].joined.is_some() {
            return Err(err(
                ErrorCode::AlreadyInRoom,
                "this connection already joined a room",
            ));
        }
        let app = self
            .apps
            .get(&r.appkey)
            .ok_or_else(|| err(ErrorCode::UnknownAppKey, "unknown appkey"))?;
        let (insecure, app_max_rooms) = (app.insecure, app.max_rooms);
        check_room(&r.room)?;
        if r.uid >= FIRST_RESERVED_UID {
            return Err(err(
                ErrorCode::InvalidParams,
                "uid is one the server keeps for its own players (the top three of 2^64)",
            ));
        }
        if let Some(u) = &r.user {
            check_user_id(&u.id)?;
            if u.name.len() > 256 {
                return Err(err(
                    ErrorCode::InvalidParams,
                    "userName is longer than 256 bytes",
                ));
            }
            if uid_for_user(&u.id) != r.uid {
                return Err(err(
                    ErrorCode::InvalidParams,
                    "uid does not stand for this user id",
                ));
            }
        }
        // The token decides the privileges. A secure app needs one; an insecure (debug) app
        // takes anyone with the default privileges, and ignores a token it has no secret to
        // check (an app with a secret checks any token it is shown, even when insecure).
        let claims = match (
            &r.token,
            app.insecure,
            app.secret.as_ref().map(Secret::expose),
        ) {
            (Some(t), _, Some(secret)) => token::verify_for(
                secret.as_bytes(),
                t,
                &r.appkey,
                &r.room,
                r.uid,
                r.user.as_ref().map(|u| u.id.as_str()),
                now_ms / 1000,
            )
            .map_err(WireError::from)?,
            (None, true, _) | (Some(_), true, None) => token::Claims {
                app: r.appkey.clone(),
                room: r.room.clone(),
                uid: r.uid.to_string(),
                iat: 0,
                exp: u64::MAX,
                privileges: Privileges::default(),
            },
            (None, false, _) => {
                return Err(err(
                    ErrorCode::TokenRequired,
                    "this app key requires a token",
                ))
            }
            // Config validation makes a secure app without a secret impossible; refuse rather
            // than admit should it ever happen.
            (Some(_), false, None) => return Err(err(ErrorCode::Internal, "app has no secret")),
        };
        let key: RoomKey = (r.appkey.clone(), r.room.clone());
        // Only now, with the token checked, may a rejoin learn how its session ended, and only
        // a rejoin of the member that session was for. Before the kick memory: a member
        // kicked while its connection was down must still get its final `kicked` frame on
        // the rejoin (its token predates the kick, so the memory would refuse it first).
        let ended = r.resume.as_ref().and_then(|x| self.ended.get(&x.session));
        if let Some(e) = ended.filter(|e| e.key == key && e.uid == r.uid) {
            out.push(HubOut::Send(sid, e.frame.clone()));
            return Err(err(
                ErrorCode::SessionEnded,
                "the session was ended by the server",
            ));
        }
        // A kicked member's tokens stay valid until they expire, so the kick memory refuses
        // those issued up to the kick: the app's backend decides whether it comes back. An
        // insecure app's members need no token, so the memory could not hold them anyway.
        if let Some(&kicked_s) = self.kicked.get(&(key.clone(), r.uid)) {
            if claims.iat <= kicked_s && !insecure {
                return Err(err(
                    ErrorCode::TokenInvalid,
                    "this member was kicked; a token issued after the kick is needed",
                ));
            }
        }
        if let Some(ok) = self.resume(sid, &key, &r, &claims, now_ms, out, after) {
            self.counters.resumed += 1;
            return Ok(encode_ok(id, &ok));
        }
        // Limits apply to new members and new rooms only: a replacement takes its old place.
        let app_rooms = self.rooms_of_app.get(&r.appkey).copied().unwrap_or(0);
        let app_max_rooms = app_max_rooms.unwrap_or(if insecure {
            INSECURE_APP_MAX_ROOMS.min(self.limits.max_rooms)
        } else {
            self.limits.max_rooms
        });
        match self.rooms.get(&key) {
            Some(room) if room.members.contains_key(&r.uid) => {
                let held_by = room.members[&r.uid].user.as_ref().map(|u| u.id.as_str());
                if held_by != r.user.as_ref().map(|u| u.id.as_str()) {
                    // Another identity whose uid is the same number (a decimal id beside a
                    // hashed one, or two hashed ids that collide): never a replacement.
                    return Err(err(
                        ErrorCode::UidInUse,
                        "another member of this room holds this uid",
                    ));
                }
                // The newest connection wins (the page was reopened, the phone switched
                // networks): the old session is told it was replaced and closed.
                self.end_session(&key, r.uid, KickReason::Replaced, now_ms, out);
            }
            Some(room) if room.members.len() >= self.limits.max_members_per_room => {
                return Err(err(
                    ErrorCode::LimitExceeded,
                    format!(
                        "a room holds at most {} members",
                        self.limits.max_members_per_room
                    ),
                ));
            }
            None if self.rooms.len() >= self.limits.max_rooms => {
                return Err(err(
                    ErrorCode::LimitExceeded,
                    "this server runs at its room limit",
                ));
            }
            None if app_rooms >= app_max_rooms => {
                return Err(err(
                    ErrorCode::LimitExceeded,
                    format!("this app holds at most {app_max_rooms} rooms at once"),
                ));
            }
            _ => {}
        }
        let privileges = claims.privileges;
        self.check_record(r.record, insecure, &privileges)?;
        // A token without the publish privilege still joins, as audience.
        let role = if privileges.publish {
            r.role
        } else {
            Role::Audience
        };
        let room = match self.rooms.get_mut(&key) {
            Some(room) => room,
            None => {
                // 96 random bits: a member sees its room's id in its URLs, and must not be
                // able to name another room's streams from it.
                let mut bits = [0u8; 12];
                self.rng.fill_bytes(&mut bits);
                let media_id = format!("m{}", hex(&bits));
                *self.rooms_of_app.entry(key.0.clone()).or_default() += 1;
                self.by_media.insert(media_id.clone(), key.clone());
                let hooks = self
                    .apps
                    .get(&key.0)
                    .is_some_and(|a| !a.webhooks.is_empty())
                    .then(|| key.clone());
                members::hook(&hooks, "room.started", || serde_json::json!({}), out);
                self.rooms.entry(key.clone()).or_insert(Room {
                    hooks,
                    media_id,
                    members: BTreeMap::new(),
                    tasks: BTreeMap::new(),
                })
            }
        };
        // The snapshot is taken before the newcomer is added: the answer lists the others, and
        // they hear of the newcomer through the event.
        let members: Vec<MemberInfo> = room.members.iter().map(|(uid, m)| m.info(*uid)).collect();
        let joined = Event::MemberJoined {
            uid: r.uid,
            role,
            user: r.user.clone(),
        };
        Self::broadcast(room, None, &joined, out);
        // 128 random bits: the session id is what a resume presents, so it must not be guessed.
        let mut bits = [0u8; 16];
        self.rng.fill_bytes(&mut bits);
        let session = hex(&bits);
        room.members.insert(
            r.uid,
            Member {
                sid,
                session: session.clone(),
                attached: true,
                detached_ms: 0,
                joined_ms: now_ms,
                ring: VecDeque::new(),
                replies: VecDeque::new(),
                role,
                privileges,
                declared: Media::NONE,
                muted: Media::NONE,
                user: r.user.clone(),
                stream: None,
                pushing: false,
                record: r.record,
                seq: 0,
                token_exp: claims.exp,
                warned: false,
                resume_ceiling: None,
            },
        );
        self.sessions.get_mut(&sid).expect("checked").joined = Some((key, r.uid));
        if r.resume.is_some() {
            self.counters.rejoined_fresh += 1;
        }
        let ok = JoinOk {
            session,
            room: r.room,
            uid: r.uid,
            role,
            members,
            seq: 0,
            server_time_ms: now_ms,
            ping_interval_ms: self.ping_interval_ms,
            ping_timeout_ms: self.ping_timeout_ms,
            resumed: false,
        };
        Ok(encode_ok(id, &ok))
    }

    /// Hand a rejoin its old session back if the member is still here under that session and
    /// every event it missed is still kept. The missed events go in `after`, to follow the
    /// answer. `None`: join afresh.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn resume(
        &mut self,
        sid: SessionId,
        key: &RoomKey,
        r: &JoinReq,
        claims: &token::Claims,
        now_ms: u64,
        out: &mut Vec<HubOut>,
        after: &mut Vec<HubOut>,
    ) -> Option<JoinOk> {
        let want = r.resume.as_ref()?;
        let room = self.rooms.get_mut(key)?;
        let m = room.members.get_mut(&r.uid)?;
        let oldest_kept = m.seq - m.ring.len() as u64;
        let unwritten = m.resume_ceiling.is_some_and(|c| want.last_seq > c);
        if m.session != want.session
            || want.last_seq > m.seq
            || want.last_seq < oldest_kept
            || unwritten
        {
            return None;
        }
        // Checked before the old connection is touched: a rejoin that names the session with
        // another user id is refused (4025, below) and must leave the member as it was.
        if m.user.as_ref().map(|u| &u.id) != r.user.as_ref().map(|u| &u.id) {
            return None;
        }
        if m.attached && m.sid != sid {
            // The client gave up on a connection the server had not yet seen die.
            out.push(HubOut::Close {
                sid: m.sid,
                code: 1000,
                reason: "session resumed on another connection".into(),
            });
            if let Some(s) = self.sessions.get_mut(&m.sid) {
                s.joined = None;
            }
        }
        m.sid = sid;
        m.attached = true;
        m.resume_ceiling = None;
        m.token_exp = claims.exp;
        m.warned = false;
        let last_seq_before = m.seq;
        // Events this causes (a demotion) are new: they follow the missed ones.
        let mut caused = Vec::new();
        Self::set_privileges(room, r.uid, claims.privileges, &mut caused);
        let m = room.members.get_mut(&r.uid)?;
        for (seq, body) in &m.ring {
            if *seq > want.last_seq && *seq <= last_seq_before {
                after.push(HubOut::Send(sid, event_frame(*seq, body)));
            }
        }
        after.extend(caused);
        let ok = JoinOk {
            session: m.session.clone(),
            room: r.room.clone(),
            uid: r.uid,
            role: m.role,
            members: Vec::new(),
            seq: want.last_seq,
            server_time_ms: now_ms,
            ping_interval_ms: self.ping_interval_ms,
            ping_timeout_ms: self.ping_timeout_ms,
            resumed: true,
        };
        let members = room
            .members
            .iter()
            .filter(|(u, _)| **u != r.uid)
            .map(|(uid, m)| m.info(*uid))
            .collect();
        self.sessions.get_mut(&sid).expect("checked").joined = Some((key.clone(), r.uid));
        Some(JoinOk { members, ..ok })
    }
}
