//! A room's state as a cluster node writes it to Redis and a node taking the room over reads
//! it back (`crate::cluster::state`): its members (session, seq, the last events of each,
//! role, media, mute, user tag, token expiry, privileges, stream extra info), its push tasks,
//! its kicks, the last room message id and the room's extra info.
//!
//! What is written is what a resume needs, nothing more: connections and rate buckets
//! (requests' and messages') stay with the node that had them, so a new owner starts every
//! budget full. Each member's last answers are written too (bounded), so that a request sent
//! again after a takeover is answered as before rather than run twice, and so are the
//! sessions the server ended (bounded), so that a late rejoin of one is shown its final
//! frame by the new owner as it would be by the old one. A member read back is detached, its resume window
//! starting when it was read, and may resume only up to the seq that was written
//! ([`Member::resume_ceiling`]): events after it were never written, so a client that saw one
//! has heard a history the new owner does not know, and must rejoin from a snapshot.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use mprtc::protocol::json::{FromJson, ToJson};
use mprtc::protocol::tasks::RtmpTask;
use serde::{Deserialize, Serialize};

use super::members::REPLY_CACHE;
use super::*;

/// Events written per member: a client that missed more across a takeover rejoins from a
/// snapshot. Bounds the size of what each event rewrites.
pub const PERSIST_RING: usize = 64;
/// Message ids skipped on a takeover: more than the dead owner can have given and not written
/// (50 a second per room, `ROOM_MESSAGES_PER_SEC`, for over three minutes, far beyond a lease).
pub const TAKEOVER_MESSAGE_ID_GAP: u64 = 10_000;

/// The most bytes one member's record may take; older events are left out to fit.
pub const MAX_MEMBER_BYTES: usize = 64 * 1024;
/// The most bytes the room's own record (tasks, kicks, message id, extra info) may take.
pub const MAX_ROOM_BYTES: usize = 256 * 1024;
/// Kicks written per room at most (the newest).
const MAX_KICKS_PERSISTED: usize = 1_000;
/// Sessions the server ended written per room at most (the newest): a kick or a room close
/// of more members at once than this leaves the rest to the kick memory, which still bars
/// their tokens.
pub const MAX_ENDED_PERSISTED: usize = 256;
/// The largest final frame written for an ended session (a `kicked` or `room-closed` event
/// is far smaller).
const MAX_ENDED_FRAME_BYTES: usize = 1024;
/// The most bytes of a member's answers written (the newest that fit, out of the member's
/// [`MAX_MEMBER_BYTES`]): enough for the reply cache of a member that publishes, subscribes
/// and sends messages, while the events keep most of the record.
pub const MAX_REPLY_BYTES: usize = 16 * 1024;

/// One member as written.
#[derive(Debug, Serialize, Deserialize)]
pub struct MemberRecord {
    uid: u64,
    session: String,
    seq: u64,
    /// `(seq, event body)`, oldest first, the last ones only.
    ring: Vec<(u64, String)>,
    broadcaster: bool,
    privileges: Privileges,
    /// `[audio, video]` declared, then muted.
    declared: [bool; 2],
    muted: [bool; 2],
    user: Option<(String, String)>,
    stream: Option<String>,
    pushing: bool,
    joined_ms: u64,
    token_exp: u64,
    warned: bool,
    /// What of the member is recorded on the server (member recording); absent in records
    /// written before it existed.
    #[serde(default)]
    record: [bool; 2],
    /// The member's stream extra info `(value, ms set)`, at most
    /// [`MAX_INFO_VALUE_BYTES`]; absent in records written before it existed.
    #[serde(default)]
    info: Option<(String, u64)>,
    /// The last answers to the member's requests `(request id, frame)`, oldest first, at most
    /// [`MAX_REPLY_BYTES`]: a request the client sends again after a takeover (same id) is
    /// answered with them instead of being run twice. Absent in records written before.
    #[serde(default)]
    replies: Vec<(u32, String)>,
}

/// The room as written, beside its members.
#[derive(Debug, Serialize, Deserialize)]
pub struct RoomRecord {
    media_id: String,
    /// `(owner uid, the task as JSON, last status told)`.
    tasks: Vec<(Option<u64>, String, Option<u16>)>,
    /// `(uid, unix second of the kick)`.
    kicks: Vec<(u64, u64)>,
    /// The last room message id given: the next one after a takeover follows it.
    #[serde(default)]
    last_message: u64,
    /// The room's extra info `(key, uid who set it, value, ms set)`: at most
    /// [`MAX_ROOM_INFO_KEYS`] keys of [`MAX_INFO_KEY_BYTES`] with values of
    /// [`MAX_INFO_VALUE_BYTES`], about 11 KB at most.
    #[serde(default)]
    info: Vec<(String, u64, String, u64)>,
    /// Sessions the server ended (kicked, replaced, room closed) `(session, uid, final
    /// frame)`, at most [`MAX_ENDED_PERSISTED`], the newest: a late rejoin of one is shown its
    /// final frame on a new owner as on this node. Absent in records written before.
    #[serde(default)]
    ended: Vec<(String, u64, String)>,
}

/// What changed in a room since it was last written ([`Hub::room_delta`]).
#[derive(Debug, Default)]
pub struct RoomDelta {
    /// The room's record, if it changed.
    pub room: Option<String>,
    /// Members written anew: `(uid, record)`.
    pub members: Vec<(u64, String)>,
    /// Members gone since.
    pub gone: Vec<u64>,
}

impl RoomDelta {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.room.is_none() && self.members.is_empty() && self.gone.is_empty()
    }
}

/// What the committer remembers of a room it wrote: a fingerprint of each record, so that an
/// event rewrites only the members it reached and a quiet room nothing.
#[derive(Debug, Default, Clone)]
pub struct Written {
    room: u64,
    members: HashMap<u64, u64>,
}

/// Why a room's record read back from Redis is not used (the room then starts empty).
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// A record that does not parse, or says something impossible.
    #[error("room state is corrupt: {0}")]
    Corrupt(String),
    /// More members than a room may hold.
    #[error("room state lists {0} members, more than a room holds")]
    TooManyMembers(usize),
    /// The room is already held here.
    #[error("the room is already held here")]
    AlreadyHeld,
    /// Extra info beyond what `set-extra-info` lets a room or member hold.
    #[error("room state holds extra info beyond its limits")]
    InfoTooLarge,
    /// This node holds as many rooms as it may (`max_rooms`, or its app's limit): the room is
    /// left to another node, its state kept for it.
    #[error("this node runs at its room limit")]
    RoomLimit,
}

impl RestoreError {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Corrupt(_) => "cluster.state_corrupt",
            Self::TooManyMembers(_) => "cluster.state_too_large",
            Self::AlreadyHeld => "cluster.state_room_held",
            Self::InfoTooLarge => "cluster.state_info_too_large",
            Self::RoomLimit => "cluster.room_limit",
        }
    }
}

fn fingerprint(v: &impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

fn media_pair(m: Media) -> [bool; 2] {
    [m.audio, m.video]
}

fn media_of(p: [bool; 2]) -> Media {
    Media {
        audio: p[0],
        video: p[1],
    }
}

impl Member {
    /// Cheap: everything written but the ring, whose changes move `seq`; `info` is the
    /// member's stream extra info.
    fn fingerprint(&self, info: Option<&(String, u64)>) -> u64 {
        let p = &self.privileges;
        fingerprint(&(
            &self.session,
            self.seq,
            self.role == Role::Broadcaster,
            (p.publish, p.subscribe, p.tasks, p.record),
            media_pair(self.declared),
            media_pair(self.muted),
            self.user.as_ref().map(|u| (&u.id, &u.name)),
            &self.stream,
            (self.pushing, self.token_exp, self.warned),
            media_pair(self.record),
            info,
            // The newest answer: a new one moves it (the cache's length alone stops at its cap).
            (self.replies.len(), self.replies.back()),
        ))
    }

    fn record(&self, uid: u64, info: Option<&(String, u64)>) -> String {
        let mut r = MemberRecord {
            uid,
            session: self.session.clone(),
            seq: self.seq,
            ring: Vec::new(),
            broadcaster: self.role == Role::Broadcaster,
            privileges: self.privileges,
            declared: media_pair(self.declared),
            muted: media_pair(self.muted),
            user: self.user.as_ref().map(|u| (u.id.clone(), u.name.clone())),
            stream: self.stream.clone(),
            pushing: self.pushing,
            joined_ms: self.joined_ms,
            token_exp: self.token_exp,
            warned: self.warned,
            record: media_pair(self.record),
            info: info.cloned(),
            replies: Vec::new(),
        };
        // The newest answers that fit their share, then the newest events that fit the rest,
        // each oldest first (counted escaped, as the stream info: written in JSON, text may
        // grow).
        let replies = self.replies.iter().rev();
        let replies = replies.map(|(id, f)| (f.len() * 2 + 16, (*id, f.clone())));
        let (replies, replies_cost) = newest_that_fit(replies, MAX_REPLY_BYTES);
        r.replies = replies;
        let info_cost = info.map_or(0, |i| i.0.len() * 2 + 24);
        let fixed = 1024 + r.session.len() + info_cost + replies_cost;
        let ring = self.ring.iter().rev().take(PERSIST_RING);
        let ring = ring.map(|(seq, body)| (body.len() * 2 + 24, (*seq, body.to_string())));
        r.ring = newest_that_fit(ring, MAX_MEMBER_BYTES.saturating_sub(fixed)).0;
        serde_json::to_string(&r).unwrap_or_default()
    }
}

/// What the hub remembers of its rooms outside them, by room: kicks `(uid, unix second)` and
/// sessions it ended `(session, uid, final frame, kept until)`. Gathered once for all the
/// rooms a round writes, rather than the whole memory searched once per room.
#[derive(Default)]
pub struct Kicks<'a> {
    kicks: HashMap<&'a RoomKey, Vec<(u64, u64)>>,
    ended: HashMap<&'a RoomKey, Vec<(&'a str, u64, &'a str, u64)>>,
}

impl Kicks<'_> {
    /// Nothing remembered.
    pub fn new() -> Self {
        Self::default()
    }

    /// The kick memory of room `key`: (uid, unix second of the kick).
    pub fn of(&self, key: &RoomKey) -> &[(u64, u64)] {
        self.kicks.get(key).map_or(&[], Vec::as_slice)
    }
}

impl Hub {
    /// The kick memory and the ended sessions by room, as [`Hub::room_delta`] takes them.
    pub fn kicks_by_room(&self) -> Kicks<'_> {
        let mut by = Kicks::default();
        for ((key, uid), at) in &self.kicked {
            by.kicks.entry(key).or_default().push((*uid, *at));
        }
        for (session, e) in &self.ended {
            let ended = (session.as_str(), e.uid, e.frame.as_str(), e.until_ms);
            by.ended.entry(&e.key).or_default().push(ended);
        }
        by
    }

    /// Whether this hub would refuse to open one more room of `app`: at `max_rooms`, or at
    /// the app's own room limit (the same bounds a join that opens a room is held to).
    pub fn at_room_limit(&self, app: &str) -> bool {
        let Some(a) = self.apps.get(app) else {
            return true;
        };
        let cap = a.max_rooms.unwrap_or(if a.insecure {
            INSECURE_APP_MAX_ROOMS.min(self.limits.max_rooms)
        } else {
            self.limits.max_rooms
        });
        let held = self.rooms_of_app.get(app).copied().unwrap_or(0);
        self.rooms.len() >= self.limits.max_rooms || held >= cap
    }

    /// Whether pushers connect to an external engine (nginx-rtmp, SRS) rather than to this
    /// process: they then outlive a dead owner, and a room taken over keeps their streams
    /// announced until the engine says they stopped.
    pub fn with_external_media(mut self, on: bool) -> Self {
        self.external_media = on;
        self
    }

    /// What changed in `app`/`room` since `written`, which is brought up to date as if the
    /// delta were written (the caller keeps the old one until Redis said yes). `None` if the
    /// room is not held here.
    pub fn room_delta(
        &self,
        key: &RoomKey,
        kicks: &Kicks<'_>,
        written: &mut Written,
    ) -> Option<RoomDelta> {
        let room = self.rooms.get(key)?;
        let mut d = RoomDelta::default();
        let mut ended = kicks.ended.get(key).cloned().unwrap_or_default();
        ended.sort_unstable_by_key(|e| std::cmp::Reverse((e.3, e.0)));
        ended.truncate(MAX_ENDED_PERSISTED);
        let ended: Vec<(String, u64, String)> = ended
            .into_iter()
            .map(|(s, uid, f, _)| (s.to_owned(), uid, f.to_owned()))
            .collect();
        let mut kicks = kicks.kicks.get(key).cloned().unwrap_or_default();
        kicks.sort_unstable();
        let tasks: Vec<(Option<u64>, String, Option<u16>)> = room
            .tasks
            .values()
            .map(|t| (t.owner, t.task.to_json_string(), t.code))
            .collect();
        let infos = self.infos.get(key);
        let info: Vec<(String, u64, String, u64)> = infos
            .map(|i| &i.room)
            .into_iter()
            .flatten()
            .map(|(k, (uid, v, at))| (k.clone(), *uid, v.clone(), *at))
            .collect();
        let last_message = self.messages.get(key).map_or(0, |m| m.last_id);
        let fp = fingerprint(&(&room.media_id, &tasks, &kicks, last_message, &info, &ended));
        if fp != written.room {
            kicks.sort_by_key(|k| std::cmp::Reverse(k.1));
            kicks.truncate(MAX_KICKS_PERSISTED);
            let rec = RoomRecord {
                media_id: room.media_id.clone(),
                tasks,
                kicks,
                last_message,
                info,
                ended,
            };
            let text = serde_json::to_string(&rec).unwrap_or_default();
            if text.len() <= MAX_ROOM_BYTES {
                d.room = Some(text);
                written.room = fp;
            }
        }
        for (uid, m) in &room.members {
            let info = infos.and_then(|i| i.streams.get(uid));
            let fp = m.fingerprint(info);
            if written.members.insert(*uid, fp) != Some(fp) {
                d.members.push((*uid, m.record(*uid, info)));
            }
        }
        let gone: Vec<u64> = written
            .members
            .keys()
            .filter(|u| !room.members.contains_key(u))
            .copied()
            .collect();
        for uid in &gone {
            written.members.remove(uid);
        }
        d.gone = gone;
        Some(d)
    }

    /// Takes over `key` from what another node wrote: `room` (its record) and `members`.
    /// Every member is detached, its resume window starting `now_ms`, and may resume up to the
    /// seq written; the room's tasks start here (their `TaskApply` goes to `out`).
    pub fn restore_room(
        &mut self,
        key: &RoomKey,
        room: &str,
        members: &[String],
        now_ms: u64,
        out: &mut Vec<HubOut>,
    ) -> Result<usize, RestoreError> {
        if self.rooms.contains_key(key) {
            return Err(RestoreError::AlreadyHeld);
        }
        if self.at_room_limit(&key.0) {
            return Err(RestoreError::RoomLimit);
        }
        if members.len() > self.limits.max_members_per_room {
            return Err(RestoreError::TooManyMembers(members.len()));
        }
        let corrupt = |e: &dyn std::fmt::Display| RestoreError::Corrupt(e.to_string());
        let rec: RoomRecord = serde_json::from_str(room).map_err(|e| corrupt(&e))?;
        if rec.media_id.is_empty() || self.by_media.contains_key(&rec.media_id) {
            return Err(corrupt(&"media id empty or in use"));
        }
        let mut tasks = BTreeMap::new();
        for (owner, text, _told) in &rec.tasks {
            let json =
                mprtc::protocol::json::parse(text).map_err(|e| corrupt(&format!("{e:?}")))?;
            let task = RtmpTask::from_json(&json).map_err(|e| corrupt(&format!("{e:?}")))?;
            let t = RoomTask {
                task,
                owner: *owner,
                // Nothing a live room has: the first refresh starts the task here.
                live: vec![(COMPOSITOR_VIEWER, Media::NONE)],
                // Its compositor starts anew here: members hear how that goes.
                code: None,
            };
            tasks.insert(t.task.task_id.clone(), t);
        }
        let mut info = RoomInfo::default();
        if rec.info.len() > MAX_ROOM_INFO_KEYS {
            return Err(RestoreError::InfoTooLarge);
        }
        for (k, uid, value, at) in rec.info {
            if k.is_empty() || k.len() > MAX_INFO_KEY_BYTES || value.len() > MAX_INFO_VALUE_BYTES {
                return Err(RestoreError::InfoTooLarge);
            }
            info.room.insert(k, (uid, value, at));
        }
        if rec.ended.len() > MAX_ENDED_PERSISTED || !rec.ended.iter().all(ended_ok) {
            return Err(corrupt(&"an ended session that cannot stand"));
        }
        let mut restored = BTreeMap::new();
        for text in members {
            let mut r: MemberRecord = serde_json::from_str(text).map_err(|e| corrupt(&e))?;
            if !consistent(&r) {
                return Err(corrupt(&format!("member {} is inconsistent", r.uid)));
            }
            if let Some(i) = r.info.take() {
                if i.0.len() > MAX_INFO_VALUE_BYTES {
                    return Err(RestoreError::InfoTooLarge);
                }
                info.streams.insert(r.uid, i);
            }
            restored.insert(r.uid, member_of(r, now_ms));
        }
        // Only the id goes on: the message budgets start full here (see the module's doc). It
        // goes on past a gap: the dead owner may have given ids it never wrote (in a reply to
        // the sender, who then resumes here), and an id must never name two messages.
        let mut messages = RoomMessages::default();
        messages.last_id = rec.last_message.saturating_add(TAKEOVER_MESSAGE_ID_GAP);
        self.messages.insert(key.clone(), messages);
        self.infos.insert(key.clone(), info);
        *self.rooms_of_app.entry(key.0.clone()).or_default() += 1;
        self.by_media.insert(rec.media_id.clone(), key.clone());
        for (uid, at) in rec.kicks {
            self.kicked.insert((key.clone(), uid), at);
        }
        // Kept for a resume window from now, as the members read back are.
        let until_ms = now_ms.saturating_add(self.resume_window_ms);
        for (session, uid, frame) in rec.ended {
            let key = key.clone();
            let e = Ended {
                key,
                uid,
                frame,
                until_ms,
            };
            self.ended.entry(session).or_insert(e);
        }
        let hooks = self
            .apps
            .get(&key.0)
            .is_some_and(|a| !a.webhooks.is_empty())
            .then(|| key.clone());
        let n = restored.len();
        let pushers: Vec<u64> = restored
            .iter()
            .filter(|(_, m)| m.pushing)
            .map(|(u, _)| *u)
            .collect();
        self.rooms.insert(
            key.clone(),
            Room {
                hooks,
                media_id: rec.media_id,
                members: restored,
                tasks,
            },
        );
        // Pushers of the embedded media server were connected to the old owner and died with
        // it: the others hear the streams gone (new events, after everything written), as on
        // one node when a pusher drops; a member that pushes again here is announced anew. An
        // external engine's pushers go on pushing into the engine: their streams stay
        // announced, and the engine's `publish_done` (forwarded here) ends them.
        let media_room = self.rooms[key].media_id.clone();
        let pushers = if self.external_media {
            Vec::new()
        } else {
            pushers
        };
        for uid in pushers {
            let room = media_room.clone();
            self.media_event(MediaEvent::PublishStopped { room, uid }, now_ms, out);
        }
        self.refresh_tasks(key, now_ms, out);
        Ok(n)
    }
}

/// Of `items`, newest first with their cost in bytes, the newest whose costs fit `budget`
/// together (stopping at the first that does not, so that what is kept has no gap), oldest
/// first; and what they cost.
fn newest_that_fit<T>(items: impl Iterator<Item = (usize, T)>, budget: usize) -> (Vec<T>, usize) {
    let (mut kept, mut used) = (Vec::new(), 0);
    for (cost, item) in items {
        if used + cost > budget {
            break;
        }
        used += cost;
        kept.push(item);
    }
    kept.reverse();
    (kept, used)
}

/// Whether a member record can stand: its events end at its seq without a gap, no more than
/// a ring holds, each a JSON object (they are sent as they are); a session id as issued.
fn consistent(r: &MemberRecord) -> bool {
    let contiguous = r
        .ring
        .windows(2)
        .all(|w| w[0].0.checked_add(1) == Some(w[1].0));
    let ends = r.ring.last().is_none_or(|l| l.0 == r.seq);
    let starts = r.ring.first().is_none_or(|f| f.0 >= 1);
    let bodies = r.ring.iter().all(|(_, b)| object(b));
    let session = session_id(&r.session);
    let replies = r.replies.len() <= REPLY_CACHE
        && r.replies
            .iter()
            .all(|(_, f)| f.len() <= MAX_REPLY_BYTES && object(f));
    contiguous && ends && starts && bodies && session && replies && r.ring.len() <= RESUME_EVENTS
}

/// Whether `s` has the form of a session id this server issues (32 hex digits).
fn session_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `text` is a non-empty JSON object (frames are sent as they are read back).
fn object(text: &str) -> bool {
    matches!(mprtc::protocol::json::parse(text), Ok(mprtc::protocol::json::Json::Obj(o)) if !o.is_empty())
}

/// Whether an ended session read back can stand: an issued session id, a final frame of a
/// bounded size that is a JSON object.
fn ended_ok((session, _, frame): &(String, u64, String)) -> bool {
    session_id(session) && frame.len() <= MAX_ENDED_FRAME_BYTES && object(frame)
}

/// A member as read back: detached since `now_ms`, never attached to a connection here.
fn member_of(r: MemberRecord, now_ms: u64) -> Member {
    Member {
        // No connection of this node has id 0 (they start at 1).
        sid: 0,
        session: r.session,
        attached: false,
        detached_ms: now_ms,
        joined_ms: r.joined_ms,
        ring: r.ring.into_iter().map(|(s, b)| (s, Arc::from(b))).collect(),
        replies: r.replies.into_iter().collect(),
        role: if r.broadcaster {
            Role::Broadcaster
        } else {
            Role::Audience
        },
        privileges: r.privileges,
        declared: media_of(r.declared),
        muted: media_of(r.muted),
        user: r.user.map(|(id, name)| UserTag { id, name }),
        stream: r.stream,
        pushing: r.pushing,
        seq: r.seq,
        token_exp: r.token_exp,
        warned: r.warned,
        record: media_of(r.record),
        resume_ceiling: Some(r.seq),
    }
}
