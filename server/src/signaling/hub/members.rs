//! Members and their sessions: the state a member carries (its event ring for a resume, its
//! reply cache for a request sent again), and how members go — a `leave`, a dropped connection
//! that outlives the resume window, or a removal by the server — taking their room with them
//! when they were the last.

use super::*;

/// Answers kept per member, so that a request the client sends again after a reconnect (same
/// id) is answered, not done twice.
pub(super) const REPLY_CACHE: usize = 64;

/// A member of a room: the connection it is on, the events and answers kept for a resume,
/// and what it sends and may do.
#[derive(Debug)]
pub(super) struct Member {
    /// The connection the member is on; while detached, the one it was on.
    pub(super) sid: SessionId,
    /// The session id given at join, which a rejoin names to resume.
    pub(super) session: String,
    /// Whether a connection carries this member now. A detached member stays in the room,
    /// streams and all, for the resume window.
    pub(super) attached: bool,
    /// When the member's connection dropped.
    pub(super) detached_ms: u64,
    /// When the member joined (a resume keeps it), for the console's "in room for".
    pub(super) joined_ms: u64,
    /// The last events sent to the member, `(seq, frame)`, for a resume.
    pub(super) ring: VecDeque<(u64, Arc<str>)>,
    /// The last answers to the member's requests, `(id, frame)`.
    pub(super) replies: VecDeque<(u32, String)>,
    /// Broadcaster or audience.
    pub(super) role: Role,
    /// What the member's current token grants (publish, subscribe, tasks, record).
    pub(super) privileges: Privileges,
    /// Kinds declared with `publish`.
    pub(super) declared: Media,
    /// Kinds the member muted.
    pub(super) muted: Media,
    /// The app's user id and name, if the member joined with one.
    pub(super) user: Option<UserTag>,
    /// The app's id for the member's stream, if it published with one.
    pub(super) stream: Option<String>,
    /// Whether the media server has an admitted pusher for this member.
    pub(super) pushing: bool,
    /// What of its streams the server records (asked at join or by the server API).
    pub(super) record: Media,
    /// The seq of the last event sent to this member.
    pub(super) seq: u64,
    /// When the member's join token expires (unix seconds; `u64::MAX` in debug mode).
    pub(super) token_exp: u64,
    /// Whether `token-will-expire` was sent for the current token.
    pub(super) warned: bool,
    /// Set on a member read back from another node's state (`persist.rs`): the highest seq a
    /// resume may name. Events after it were sent by a node that died before writing them,
    /// so a client that saw one must rejoin from a snapshot. Cleared by a resume.
    pub(super) resume_ceiling: Option<u64>,
}

impl Member {
    /// Send the member an event with its next seq, keeping it for a resume.
    pub(super) fn push(&mut self, ev: &Event, out: &mut Vec<HubOut>) -> String {
        self.push_body(&Arc::from(encode_event_body(ev)), out)
    }

    /// [`Member::push`] for an event already encoded (once for everyone it goes to): the ring
    /// shares the encoding, so a busy room costs each member a pointer per event kept.
    pub(super) fn push_body(&mut self, body: &Arc<str>, out: &mut Vec<HubOut>) -> String {
        self.seq += 1;
        if self.ring.len() == RESUME_EVENTS {
            self.ring.pop_front();
        }
        self.ring.push_back((self.seq, Arc::clone(body)));
        let frame = event_frame(self.seq, body);
        if self.attached {
            out.push(HubOut::Send(self.sid, frame.clone()));
        }
        frame
    }

    /// The member as the others see it in a join answer's snapshot.
    pub(super) fn info(&self, uid: u64) -> MemberInfo {
        MemberInfo {
            uid,
            role: self.role,
            live: self.live(),
            muted: self.muted,
            user: self.user.clone(),
            stream: self.stream.clone(),
        }
    }

    /// What the member sends now: what it declared, once the media server admitted its pusher.
    pub(super) fn live(&self) -> Media {
        if self.pushing {
            self.declared
        } else {
            Media::NONE
        }
    }
}

/// A room: its members in uid order, its push tasks, and its id on the media server.
#[derive(Debug)]
pub(super) struct Room {
    /// The room's app and name when its app has webhooks; `None`: no webhook event is even
    /// made (most apps have none, and this runs under the hub's lock).
    pub(super) hooks: Option<RoomKey>,
    /// The room's id in media URLs: random, so that it tells nothing about the room's name.
    pub(super) media_id: String,
    /// Members by uid, detached ones included.
    pub(super) members: BTreeMap<u64, Member>,
    /// Push tasks, by task id. They belong to the room and end with it.
    pub(super) tasks: BTreeMap<String, RoomTask>,
}

impl Room {
    /// The member `uid` of a session that points at it (a session's member is always in its
    /// room).
    pub(super) fn member(&mut self, uid: u64) -> &mut Member {
        self.members
            .get_mut(&uid)
            .expect("session points at member")
    }
}

/// A room: `(app key, room name)`. Rooms of different apps never meet.
pub(super) type RoomKey = (String, String);

#[derive(Debug, Default)]
pub(super) struct Session {
    pub(super) joined: Option<(RoomKey, u64)>,
    /// The connection's request budget (see [`TokenBucket`]).
    pub(super) rate: TokenBucket,
}

/// A session the server ended, kept for a late rejoin of its member.
#[derive(Debug)]
pub(super) struct Ended {
    /// The room the member was in.
    pub(super) key: RoomKey,
    /// The member.
    pub(super) uid: u64,
    /// The `kicked` event frame it was sent, shown again to a late rejoin.
    pub(super) frame: String,
    /// Until when it is kept (the resume window).
    pub(super) until_ms: u64,
}

impl Hub {
    /// Members detached for longer than the resume window leave for good.
    pub(super) fn expire_detached(&mut self, now_ms: u64, out: &mut Vec<HubOut>) {
        let window = self.resume_window_ms;
        let gone: Vec<(RoomKey, u64)> = self
            .rooms
            .iter()
            .flat_map(|(key, r)| {
                r.members
                    .iter()
                    .filter(|(_, m)| !m.attached && now_ms >= m.detached_ms + window)
                    .map(move |(uid, _)| (key.clone(), *uid))
            })
            .collect();
        self.counters.expired += gone.len() as u64;
        for (key, uid) in gone {
            self.remove_member(&key, uid, LeaveReason::ConnectionLost, false, now_ms, out);
        }
        self.ended.retain(|_, e| e.until_ms > now_ms);
        self.kicked
            .retain(|_, at_s| at_s.saturating_mul(1000) + KICK_MEMORY_MS > now_ms);
    }

    /// The member the connection `sid` carries, if it joined.
    pub(super) fn member_mut(&mut self, sid: SessionId) -> Option<&mut Member> {
        let (key, uid) = self.sessions.get(&sid)?.joined.clone()?;
        self.rooms.get_mut(&key)?.members.get_mut(&uid)
    }

    /// The answer already given to request `id` of this member, if still kept.
    pub(super) fn cached_reply(&mut self, sid: SessionId, id: u32) -> Option<String> {
        let m = self.member_mut(sid)?;
        m.replies
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, f)| f.clone())
    }

    /// Keep the answer to request `id` (the last [`REPLY_CACHE`] per member).
    pub(super) fn cache_reply(&mut self, sid: SessionId, id: u32, frame: &str) {
        if let Some(m) = self.member_mut(sid) {
            if m.replies.len() == REPLY_CACHE {
                m.replies.pop_front();
            }
            m.replies.push_back((id, frame.to_owned()));
        }
    }

    /// `leave`: the member goes now; the others see it leave with reason `left`.
    pub(super) fn leave(
        &mut self,
        sid: SessionId,
        now_ms: u64,
        out: &mut Vec<HubOut>,
    ) -> Result<(), WireError> {
        let (key, uid) = self
            .sessions
            .get_mut(&sid)
            .and_then(|s| s.joined.take())
            .ok_or_else(not_in_room)?;
        self.remove_member(&key, uid, LeaveReason::Left, false, now_ms, out);
        Ok(())
    }

    /// The room and uid of the connection `sid`, or 4020 (`not_in_room`) for a request that
    /// needs one.
    pub(super) fn member_of(&mut self, sid: SessionId) -> Result<(&mut Room, u64), WireError> {
        let (key, uid) = self
            .sessions
            .get(&sid)
            .and_then(|s| s.joined.clone())
            .ok_or_else(not_in_room)?;
        let room = self.rooms.get_mut(&key).ok_or_else(not_in_room)?;
        Ok((room, uid))
    }

    /// `uid` leaves `key` for `reason`: its pusher and plays end, the others are told, push
    /// tasks recompose; the last member out ends the room (and its tasks) unless
    /// `keep_empty_room`.
    pub(super) fn remove_member(
        &mut self,
        key: &RoomKey,
        uid: u64,
        reason: LeaveReason,
        keep_empty_room: bool,
        now_ms: u64,
        out: &mut Vec<HubOut>,
    ) {
        let Some(room) = self.rooms.get_mut(key) else {
            return;
        };
        let Some(m) = room.members.remove(&uid) else {
            return;
        };
        if m.pushing {
            out.push(HubOut::KickPublisher {
                media_room: room.media_id.clone(),
                uid,
            });
        }
        out.push(HubOut::KickViewer {
            media_room: room.media_id.clone(),
            viewer: uid,
        });
        Self::broadcast(room, None, &Event::MemberLeft { uid, reason }, out);
        tasks::refresh(room, key, &self.signer, now_ms, out);
        if room.members.is_empty() && !keep_empty_room {
            tasks::end_all(room, key, out);
            let media_id = room.media_id.clone();
            let hooks = room.hooks.take();
            self.drop_room(key);
            self.by_media.remove(&media_id);
            hook(
                &hooks,
                "room.ended",
                || serde_json::json!({ "reason": "empty" }),
                out,
            );
        }
    }

    /// Forget a room (its members are gone or told), keeping the per-app count right.
    pub(super) fn drop_room(&mut self, key: &RoomKey) -> Option<Room> {
        let room = self.rooms.remove(key)?;
        if let Some(n) = self.rooms_of_app.get_mut(&key.0) {
            *n -= 1;
            if *n == 0 {
                self.rooms_of_app.remove(&key.0);
            }
        }
        Some(room)
    }

    /// Send `ev` to every member but `except`, each with its own next seq. The event is
    /// encoded once; each member's frame only adds its envelope.
    pub(super) fn broadcast(
        room: &mut Room,
        except: Option<u64>,
        ev: &Event,
        out: &mut Vec<HubOut>,
    ) {
        let body: Arc<str> = Arc::from(encode_event_body(ev));
        for (uid, m) in room.members.iter_mut() {
            if Some(*uid) != except {
                m.push_body(&body, out);
            }
        }
        // Every room event the members hear passes here once, so the backend hears the same
        // story in the same order.
        if room.hooks.is_some() {
            if let Some((kind, data)) = hook_of(ev) {
                hook(&room.hooks, kind, || data, out);
            }
        }
    }
}

/// A webhook event of the room whose [`Room::hooks`] is `to`; nothing (not even `data`) when
/// its app has no webhooks.
pub(super) fn hook(
    to: &Option<RoomKey>,
    kind: &'static str,
    data: impl FnOnce() -> serde_json::Value,
    out: &mut Vec<HubOut>,
) {
    if let Some((app, room)) = to {
        out.push(HubOut::Hook(crate::webhooks::HookEvent {
            app: app.clone(),
            room: room.clone(),
            kind,
            data: data(),
        }));
    }
}

/// The webhook event a room event makes, if the backend is told of it (mutes and roles are
/// not: they are the members' business and frequent; task states go from `tasks.rs`, which
/// sends members two versions of them).
fn hook_of(ev: &Event) -> Option<(&'static str, serde_json::Value)> {
    use serde_json::json;
    let media = |m: &Media| json!({ "audio": m.audio, "video": m.video });
    Some(match ev {
        Event::MemberJoined { uid, role, user } => (
            "member.joined",
            json!({ "uid": uid, "role": format!("{role:?}").to_lowercase(),
                    "user_id": user.as_ref().map(|u| u.id.clone()) }),
        ),
        Event::MemberLeft { uid, reason } => match reason {
            LeaveReason::Kicked => ("member.kicked", json!({ "uid": uid })),
            LeaveReason::Left => ("member.left", json!({ "uid": uid, "reason": "left" })),
            LeaveReason::ConnectionLost => (
                "member.left",
                json!({ "uid": uid, "reason": "connection_lost" }),
            ),
        },
        Event::StreamAdded {
            uid,
            media: m,
            stream,
        } => (
            "stream.published",
            json!({ "uid": uid, "media": media(m), "stream": stream }),
        ),
        Event::StreamRemoved { uid, media: m } => (
            "stream.unpublished",
            json!({ "uid": uid, "media": media(m) }),
        ),
        _ => return None,
    })
}
