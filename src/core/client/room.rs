//! Room state: the members and their streams as this client knows them, the join's answer, and
//! the server's events turned into app events.

use crate::prelude::*;

use super::components::{ComponentKey, ComponentStatus};
use super::requests::Pend;
use super::Client;
use crate::core::component::ComponentKind;
use crate::core::output::{AppEvent, MediaKind, OpId, OpValue, Output, ZegoFact};
use crate::core::uid_map::UidMap;
use crate::protocol::*;

/// A remote member as this client knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// Broadcaster or audience.
    pub role: Role,
    /// The kinds it publishes now (what can be subscribed to).
    pub live: Media,
    /// The kinds it muted.
    pub muted: Media,
    /// Its app-chosen user id and name, when it joined with one.
    pub user: Option<UserTag>,
    /// The app's id for its stream, when it published with one.
    pub stream: Option<String>,
}

#[derive(Debug)]
pub(super) struct Joined {
    pub(super) room: String,
    pub(super) uid: u64,
    pub(super) role: Role,
    /// The join token, for rejoins (replaced by a successful `renewToken`).
    pub(super) token: Option<String>,
    /// A `renewToken` in flight.
    pub(super) next_token: Option<String>,
    pub(super) session: String,
    /// The last event applied; every event up to it was applied, in order (a later one that
    /// skips past the next is a gap, not applied).
    pub(super) last_seq: u64,
    /// Where the last gap was seen (the `last_seq` then): a second one at the same place
    /// means the server cannot fill it.
    pub(super) gap_at: Option<u64>,
    /// The next rejoin asks for a fresh session (a snapshot) rather than a resume.
    pub(super) fresh: bool,
    pub(super) members: UidMap<Remote>,
    pub(super) published: Media,
    /// The app's id for this member's stream (given at publish), for recoveries.
    pub(super) stream: Option<String>,
    /// The kinds this member muted (restored after a fresh rejoin).
    pub(super) muted: Media,
    /// The app's user id and name given at join.
    pub(super) user: Option<UserTag>,
    pub(super) ping_interval: u64,
    pub(super) ping_timeout: u64,
    pub(super) next_ping: u64,
    // The next three are a handful of entries at most; plain vectors keep the wasm small.
    /// What this client subscribed to, per remote uid (what a recovery re-subscribes).
    pub(super) subs: Vec<(u64, Media)>,
    /// A republish for a failed `<live-pusher>` is in flight.
    pub(super) push_recovering: bool,
    /// Resubscribes for failed `<live-player>`s in flight, by remote uid.
    pub(super) pull_recovering: Vec<u64>,
    /// What pages reported about their components, per (kind, uid).
    pub(super) components: Vec<(ComponentKey, ComponentStatus)>,
}

impl Joined {
    pub(super) fn sub(&self, uid: u64) -> Option<Media> {
        self.subs.iter().find(|(u, _)| *u == uid).map(|(_, m)| *m)
    }
    pub(super) fn set_sub(&mut self, uid: u64, media: Media) {
        self.subs.retain(|(u, _)| *u != uid);
        if !media.is_empty() {
            self.subs.push((uid, media));
        }
    }
    pub(super) fn forget_member(&mut self, uid: u64) {
        self.subs.retain(|(u, _)| *u != uid);
        self.pull_recovering.retain(|u| *u != uid);
        self.components
            .retain(|(k, _)| *k != (ComponentKind::Pull, Some(uid)));
    }
}

impl Client {
    pub(super) fn joined_ok(&mut self, now: u64, op: OpId, ok: JoinOk) {
        self.joining = false;
        let members = member_map(&ok.members);
        self.joined = Some(Joined {
            room: ok.room,
            uid: ok.uid,
            role: ok.role,
            token: self.join_token.take(),
            next_token: None,
            session: ok.session,
            last_seq: ok.seq,
            gap_at: None,
            fresh: false,
            members: members.clone(),
            published: Media::NONE,
            stream: None,
            muted: Media::NONE,
            user: self.join_user.take(),
            ping_interval: heartbeat_ms(ok.ping_interval_ms),
            ping_timeout: heartbeat_ms(ok.ping_timeout_ms),
            next_ping: now.saturating_add(heartbeat_ms(ok.ping_interval_ms)),
            subs: Vec::new(),
            push_recovering: false,
            pull_recovering: Vec::new(),
            components: Vec::new(),
        });
        self.role = ok.role;
        self.resolve(op, OpValue::Done);
        // Those already in the room appear to the app just as later arrivals do.
        for (uid, m) in members {
            self.identity(uid, &m);
            self.out
                .push_back(Output::Event(AppEvent::ClientJoin { uid }));
            self.stream_events(uid, m.live, true);
            self.mute_events(uid, m.muted, true);
        }
    }

    // ---- the server's events -----------------------------------------------------------------

    /// A room event. The server numbers a session's events 1, 2, 3 … without holes, so one
    /// at or below `last_seq` was applied already (a resume's replay overlaps), and one past
    /// `last_seq + 1` means one in between never arrived: it is not applied (the room it would
    /// build is not the server's) and the core resumes from `last_seq` to get the missing
    /// ones. A session's final event (`kicked`, `roomClosed`) is applied even past a hole:
    /// the session is over whatever came before it.
    pub(super) fn on_event(&mut self, now: u64, seq: u64, ev: Event) {
        let Some(j) = self.joined.as_mut() else {
            return;
        };
        if seq <= j.last_seq {
            return; // already applied
        }
        let ends = matches!(ev, Event::Kicked { .. } | Event::RoomClosed {});
        if seq - j.last_seq > 1 && !ends {
            self.event_gap(now);
            return;
        }
        j.last_seq = seq;
        match ev {
            Event::Message {
                id,
                kind,
                from,
                text,
                ts,
            } => self.out.push_back(Output::Event(AppEvent::Message {
                id,
                kind,
                uid: from,
                text,
                ts,
            })),
            Event::ExtraInfo {
                uid,
                key,
                value,
                ts,
            } => self.out.push_back(Output::Event(AppEvent::ExtraInfo {
                uid,
                key,
                value,
                ts,
            })),
            Event::MemberJoined { uid, role, user } => {
                if user.is_some() {
                    self.out.push_back(Output::Event(AppEvent::Identity {
                        uid,
                        user: user.clone(),
                        stream: None,
                    }));
                }
                j.members.insert(
                    uid,
                    Remote {
                        role,
                        live: Media::NONE,
                        muted: Media::NONE,
                        user,
                        stream: None,
                    },
                );
                self.out
                    .push_back(Output::Event(AppEvent::ClientJoin { uid }));
            }
            Event::MemberLeft { uid, reason } => {
                if let Some(m) = j.members.remove(&uid) {
                    j.forget_member(uid);
                    self.stream_events(uid, m.live, false);
                    self.out
                        .push_back(Output::Event(AppEvent::ClientLeave { uid, reason }));
                }
            }
            Event::StreamAdded { uid, media, stream } => {
                let m = j.members.get_or_insert(
                    uid,
                    Remote {
                        role: Role::Broadcaster,
                        live: Media::NONE,
                        muted: Media::NONE,
                        user: None,
                        stream: None,
                    },
                );
                if stream.is_some() && stream != m.stream {
                    m.stream = stream;
                    self.out.push_back(Output::Event(AppEvent::Identity {
                        uid,
                        user: m.user.clone(),
                        stream: m.stream.clone(),
                    }));
                }
                let new = media.minus(m.live);
                m.live = m.live.union(media);
                self.stream_events(uid, new, true);
            }
            Event::StreamRemoved { uid, media } => {
                if let Some(m) = j.members.get_mut(&uid) {
                    let gone = m.live.intersect(media);
                    m.live = m.live.minus(media);
                    self.stream_events(uid, gone, false);
                }
            }
            Event::TaskStatus {
                task_id,
                code,
                msg,
                stream_url,
            } => {
                self.out.push_back(Output::Event(AppEvent::RtmpTasksStatus {
                    task_id,
                    code,
                    msg,
                    stream_url,
                }));
            }
            Event::Kicked { reason } => {
                self.session_over("kicked by the server");
                self.kicked(reason);
            }
            Event::TokenWillExpire { remaining_s } => {
                self.out
                    .push_back(Output::Event(AppEvent::TokenWillExpire { remaining_s }));
            }
            Event::RoomClosed {} => {
                self.session_over("the room was closed");
                self.out.push_back(Output::Event(AppEvent::LiveRoomClose));
                self.zego(ZegoFact::Ended {
                    code: ErrorCode::SessionEnded,
                });
            }
            Event::MuteChanged { uid, media, muted } => {
                if let Some(m) = j.members.get_mut(&uid) {
                    let changed = if muted {
                        media.minus(m.muted)
                    } else {
                        media.intersect(m.muted)
                    };
                    m.muted = if muted {
                        m.muted.union(media)
                    } else {
                        m.muted.minus(media)
                    };
                    self.mute_events(uid, changed, muted);
                }
            }
            Event::RoleChanged { uid, role } => {
                if uid == j.uid {
                    // The server tells a member its own role too: what it decided (a token
                    // that no longer grants publishing) and what a `setRole` did, even one
                    // whose answer this client gave up waiting for. Only news is told.
                    let news = j.role != role
                        && !self
                            .pending
                            .iter()
                            .any(|p| matches!(p.what, Pend::SetRole(r) if r == role));
                    j.role = role;
                    self.role = role;
                    if !news {
                        return;
                    }
                    if role == Role::Audience {
                        j.published = Media::NONE;
                    }
                } else if let Some(m) = j.members.get_mut(&uid) {
                    m.role = role;
                }
                self.out
                    .push_back(Output::Event(AppEvent::RoleChanged { uid, role }));
            }
        }
    }

    /// Tell the app a member's own ids, when it has any.
    pub(super) fn identity(&mut self, uid: u64, m: &Remote) {
        if m.user.is_some() || m.stream.is_some() {
            self.out.push_back(Output::Event(AppEvent::Identity {
                uid,
                user: m.user.clone(),
                stream: m.stream.clone(),
            }));
        }
    }

    /// The session's end as the server gave it: `kicked`, and for ZEGO the code its
    /// `roomStateUpdate` reports (the SDK's own error code for the same news).
    pub(super) fn kicked(&mut self, reason: KickReason) {
        self.out
            .push_back(Output::Event(AppEvent::Kicked { reason }));
        let code = match reason {
            KickReason::Replaced => ErrorCode::UidInUse,
            KickReason::Kicked => ErrorCode::SessionEnded,
            KickReason::TokenExpired => ErrorCode::TokenExpired,
        };
        self.zego(ZegoFact::Ended { code });
    }

    /// Queue a ZEGO fact, if this client drives a ZEGO engine.
    pub(super) fn zego(&mut self, fact: ZegoFact) {
        if self.cfg.zego {
            self.out.push_back(Output::Event(AppEvent::Zego(fact)));
        }
    }

    pub(super) fn mute_events(&mut self, uid: u64, media: Media, muted: bool) {
        for (on, kind) in [
            (media.audio, MediaKind::Audio),
            (media.video, MediaKind::Video),
        ] {
            if on {
                self.out.push_back(Output::Event(AppEvent::MuteChanged {
                    uid,
                    media: kind,
                    muted,
                }));
            }
        }
    }

    pub(super) fn stream_events(&mut self, uid: u64, media: Media, added: bool) {
        for (on, kind) in [
            (media.audio, MediaKind::Audio),
            (media.video, MediaKind::Video),
        ] {
            if on {
                let ev = if added {
                    AppEvent::StreamAdded { uid, media: kind }
                } else {
                    AppEvent::StreamRemoved { uid, media: kind }
                };
                self.out.push_back(Output::Event(ev));
            }
        }
    }
}

/// A heartbeat period from the server, kept within what makes sense whatever it sent.
pub(super) fn heartbeat_ms(v: u64) -> u64 {
    v.clamp(100, 600_000)
}

/// The members of a join answer, as the room state keeps them.
pub(super) fn member_map(members: &[MemberInfo]) -> UidMap<Remote> {
    members
        .iter()
        .map(|m| {
            (
                m.uid,
                Remote {
                    role: m.role,
                    live: m.live,
                    muted: m.muted,
                    user: m.user.clone(),
                    stream: m.stream.clone(),
                },
            )
        })
        .collect()
}
