//! What members send and watch: `publish`, `unpublish`, `subscribe`, `unsubscribe`, `mute`,
//! and roles (`set-role`, and the demotions a token that no longer grants publishing causes).

use super::*;

impl Hub {
    /// `publish`: declare what the member sends and hand it a signed push URL. The stream goes
    /// live for the others when the media server admits the pusher ([`Hub::media_event`]).
    pub(super) fn publish(
        &mut self,
        sid: SessionId,
        req: PublishReq,
        now_ms: u64,
        id: u32,
        out: &mut Vec<HubOut>,
    ) -> Result<String, WireError> {
        let media = req.media;
        if media.is_empty() {
            return Err(err(
                ErrorCode::InvalidParams,
                "publish needs audio, video or both",
            ));
        }
        // The signer is cloned out first: `member_of` holds `self` mutably from here on.
        let signer = Arc::clone(&self.signer);
        let (room, uid) = self.member_of(sid)?;
        let m = room.member(uid);
        if m.role == Role::Audience {
            return Err(err(
                ErrorCode::AudienceCannotPublish,
                "an audience member cannot publish",
            ));
        }
        if !m.privileges.publish {
            return Err(err(
                ErrorCode::PermissionDenied,
                "the token does not grant publishing",
            ));
        }
        if let Some(stream) = &req.stream {
            check_stream_id(stream)?;
            if m.stream.as_ref().is_some_and(|s| s != stream) && !m.declared.is_empty() {
                return Err(err(
                    ErrorCode::InvalidParams,
                    "this member already publishes under another stream id",
                ));
            }
        }
        // Stream ids name streams to the other members (ZEGO-style apps play by stream id), so
        // two members of a room never share one.
        if let Some(stream) = &req.stream {
            let taken = room
                .members
                .iter()
                .any(|(u, o)| *u != uid && o.stream.as_deref() == Some(stream.as_str()));
            if taken {
                return Err(err(
                    ErrorCode::InvalidParams,
                    "another member publishes under this stream id",
                ));
            }
        }
        let m = room.member(uid);
        if req.stream.is_some() {
            m.stream = req.stream;
        }
        let added = media.minus(m.declared);
        m.declared = m.declared.union(media);
        let declared = m.declared;
        // The others hear of new kinds now only if the pusher is already live; otherwise they
        // hear when the media server admits it ([`Hub::media_event`]).
        if m.pushing && !added.is_empty() {
            let ev = Event::StreamAdded {
                uid,
                media: added,
                stream: m.stream.clone(),
            };
            Self::broadcast(room, Some(uid), &ev, out);
        }
        // A fresh URL on every publish, with a new nonce and a full lifetime: publishing again
        // (after a reconnect, or to add a kind) never depends on an old URL still being valid.
        let url = signer.push_url(&room.media_id, uid, now_ms / 1000);
        Ok(encode_ok(
            id,
            &PublishOk {
                url,
                media: declared,
            },
        ))
    }

    /// `unpublish`: stop sending some kinds; the others see them removed, and the pusher is
    /// stopped when nothing is left.
    pub(super) fn unpublish(
        &mut self,
        sid: SessionId,
        media: Media,
        id: u32,
        out: &mut Vec<HubOut>,
    ) -> Result<String, WireError> {
        let (room, uid) = self.member_of(sid)?;
        let m = room.member(uid);
        let removed = m.declared.intersect(media);
        m.declared = m.declared.minus(media);
        if m.declared.is_empty() {
            m.stream = None;
        }
        let (pushing, now_empty) = (m.pushing, m.declared.is_empty());
        // Only a live pusher's kinds were announced, so only then is a removal news.
        if pushing && !removed.is_empty() {
            Self::broadcast(
                room,
                Some(uid),
                &Event::StreamRemoved {
                    uid,
                    media: removed,
                },
                out,
            );
        }
        if now_empty && pushing {
            out.push(HubOut::KickPublisher {
                media_room: room.media_id.clone(),
                uid,
            });
        }
        Ok(encode_ok(id, &Empty))
    }

    /// `subscribe`: a signed play URL for another member's live stream, if the token grants
    /// subscribing.
    pub(super) fn subscribe(
        &mut self,
        sid: SessionId,
        r: SubscribeReq,
        now_ms: u64,
        id: u32,
    ) -> Result<String, WireError> {
        let signer = Arc::clone(&self.signer);
        let (room, uid) = self.member_of(sid)?;
        // Checked here and again by the media server's play gate: a URL is only handed to
        // members whose token grants watching.
        if !room.members[&uid].privileges.subscribe {
            return Err(err(
                ErrorCode::PermissionDenied,
                "the token does not grant subscribing",
            ));
        }
        let target = room
            .members
            .get(&r.uid)
            .ok_or_else(|| err(ErrorCode::NoSuchMember, "no such uid in this room"))?;
        if target.declared.intersect(r.media).is_empty() {
            return Err(err(
                ErrorCode::NotPublishing,
                "that uid publishes none of the requested media",
            ));
        }
        // A URL outlives neither the token that got it (nor, through `may_play`, the member).
        let until = room.members[&uid].token_exp;
        let urls = signer.play_urls_until(&room.media_id, r.uid, uid, now_ms / 1000, until);
        Ok(encode_ok(
            id,
            &SubscribeOk {
                url: urls.rtmp,
                flv_url: urls.flv,
            },
        ))
    }

    /// `unsubscribe`: nothing to undo on the server (a play simply ends); the uid is checked.
    pub(super) fn unsubscribe(
        &mut self,
        sid: SessionId,
        r: UnsubscribeReq,
        id: u32,
    ) -> Result<String, WireError> {
        let (room, _) = self.member_of(sid)?;
        if !room.members.contains_key(&r.uid) {
            return Err(err(ErrorCode::NoSuchMember, "no such uid in this room"));
        }
        Ok(encode_ok(id, &Empty))
    }

    /// `mute`: the member mutes or unmutes kinds it sends; the others are told.
    pub(super) fn mute(
        &mut self,
        sid: SessionId,
        r: MuteReq,
        id: u32,
        out: &mut Vec<HubOut>,
    ) -> Result<String, WireError> {
        if r.media.is_empty() {
            return Err(err(
                ErrorCode::InvalidParams,
                "mute needs audio, video or both",
            ));
        }
        let (room, uid) = self.member_of(sid)?;
        let m = room.member(uid);
        let changed = if r.muted {
            r.media.minus(m.muted)
        } else {
            r.media.intersect(m.muted)
        };
        m.muted = if r.muted {
            m.muted.union(r.media)
        } else {
            m.muted.minus(r.media)
        };
        if !changed.is_empty() {
            let ev = Event::MuteChanged {
                uid,
                media: changed,
                muted: r.muted,
            };
            Self::broadcast(room, Some(uid), &ev, out);
        }
        Ok(encode_ok(id, &Empty))
    }

    /// `set-role`: the member asks to become broadcaster (if its token grants publishing) or
    /// audience.
    pub(super) fn set_role(
        &mut self,
        sid: SessionId,
        role: Role,
        id: u32,
        out: &mut Vec<HubOut>,
    ) -> Result<String, WireError> {
        let (room, uid) = self.member_of(sid)?;
        let m = room.member(uid);
        if m.role == role {
            return Ok(encode_ok(id, &Empty));
        }
        if role == Role::Broadcaster && !m.privileges.publish {
            return Err(err(
                ErrorCode::PermissionDenied,
                "the token does not grant publishing",
            ));
        }
        Self::change_role(room, uid, role, out);
        Ok(encode_ok(id, &Empty))
    }

    /// `uid` takes `role`: to audience, its streams end (the others see them removed) and its
    /// pusher is stopped. Everyone sees the change, the member itself included, whether it
    /// asked or the server decided: a member whose `setRole` answer was lost on the way still
    /// learns its role from its own event stream, which a resume replays.
    pub(super) fn change_role(room: &mut Room, uid: u64, role: Role, out: &mut Vec<HubOut>) {
        let Some(m) = room.members.get_mut(&uid) else {
            return;
        };
        m.role = role;
        let live = m.live();
        let pushing = m.pushing;
        if role == Role::Audience {
            m.declared = Media::NONE;
            // Its stream id goes with its streams, as on `unpublish`: another member may
            // publish under it now, and snapshots stop naming it.
            m.stream = None;
            if !live.is_empty() {
                Self::broadcast(
                    room,
                    Some(uid),
                    &Event::StreamRemoved { uid, media: live },
                    out,
                );
            }
            if pushing {
                out.push(HubOut::KickPublisher {
                    media_room: room.media_id.clone(),
                    uid,
                });
            }
        }
        Self::broadcast(room, None, &Event::RoleChanged { uid, role }, out);
    }

    /// A new token (renewed, or presented on a resume) replaces the member's privileges, and
    /// what it no longer grants stops now: a broadcaster whose token denies publishing becomes
    /// audience (its push ends, and with it any task rights that came from the role).
    pub(super) fn set_privileges(room: &mut Room, uid: u64, p: Privileges, out: &mut Vec<HubOut>) {
        let Some(m) = room.members.get_mut(&uid) else {
            return;
        };
        let could_subscribe = m.privileges.subscribe;
        m.privileges = p;
        if could_subscribe && !p.subscribe {
            out.push(HubOut::KickViewer {
                media_room: room.media_id.clone(),
                viewer: uid,
            });
        }
        let Some(m) = room.members.get_mut(&uid) else {
            return;
        };
        if !p.publish && m.role == Role::Broadcaster {
            Self::change_role(room, uid, Role::Audience, out);
        }
    }
}
