//! What the operator console reads of the hub: every room with its members and push tasks,
//! capped, and the signed play URL of a member's stream for the console's preview.
//!
//! Read-only and bounded: the console is one page, and a server with a million members must
//! not build a million-row answer under the hub's lock. What is cut off is said (`truncated`),
//! so the page can tell the operator to narrow down rather than show a partial list as whole.

use super::*;
use crate::tasks::policy::redacted_url;

/// The viewer id in the console's preview URLs. No member's token is involved, so the media
/// server's play gate admits it through [`Hub::console_may_play`], not [`Hub::may_play`].
pub const CONSOLE_VIEWER: u64 = u64::MAX - 1;

/// Rooms one overview lists at most.
pub const MAX_ROOMS_LISTED: usize = 200;
/// Members listed per room at most.
pub const MAX_MEMBERS_LISTED: usize = 100;

/// A room as the console shows it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomView {
    /// The app key.
    pub app: String,
    /// The room name.
    pub room: String,
    /// Members in the room, detached ones included.
    pub member_count: usize,
    /// The first [`MAX_MEMBERS_LISTED`] members, in uid order.
    pub members: Vec<MemberView>,
    /// The room's push tasks, in task-id order.
    pub tasks: Vec<TaskView>,
}

/// A member as the console shows it. No token, session id or signed URL: those are the
/// member's credentials.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    /// The numeric uid, as a string (it may not fit a JavaScript number).
    pub uid: String,
    /// The app's user id and name, when the member joined with them.
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    /// `broadcaster` or `audience`.
    pub role: &'static str,
    /// The kinds the member declared with `publish`.
    pub published: MediaView,
    /// The kinds the media server receives from it now (its pusher was admitted).
    pub live: MediaView,
    /// The kinds it muted.
    pub muted: MediaView,
    /// The app's stream id, when it published with one.
    pub stream: Option<String>,
    /// Whether a connection carries the member now (else it waits for a resume).
    pub connected: bool,
    /// How long since it joined, in milliseconds.
    pub in_room_ms: u64,
}

/// Audio and video flags.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct MediaView {
    pub audio: bool,
    pub video: bool,
}

impl From<Media> for MediaView {
    fn from(m: Media) -> Self {
        Self {
            audio: m.audio,
            video: m.video,
        }
    }
}

/// A push task as the console shows it: its output without query or credentials.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskView {
    pub task_id: String,
    /// The output URL, scheme and host only (the rest may carry a CDN's secret).
    pub output: String,
    pub record: bool,
    /// The uids in its layout.
    pub users: Vec<String>,
    /// 505 pushing, 506 failed, `None` not started yet.
    pub status: Option<u16>,
}

impl Hub {
    /// The rooms (of `app` only, if given), in app and room order, at most
    /// [`MAX_ROOMS_LISTED`]; and whether more were left out.
    pub fn overview(&self, app: Option<&str>, now_ms: u64) -> (Vec<RoomView>, bool) {
        let mut keys: Vec<&RoomKey> = self
            .rooms
            .keys()
            .filter(|(a, _)| app.is_none_or(|want| a == want))
            .collect();
        keys.sort();
        let truncated = keys.len() > MAX_ROOMS_LISTED;
        let rooms = keys
            .into_iter()
            .take(MAX_ROOMS_LISTED)
            .filter_map(|k| self.room_view(k, now_ms))
            .collect();
        (rooms, truncated)
    }

    fn room_view(&self, key: &RoomKey, now_ms: u64) -> Option<RoomView> {
        let room = self.rooms.get(key)?;
        let members = room
            .members
            .iter()
            .take(MAX_MEMBERS_LISTED)
            .map(|(uid, m)| MemberView {
                uid: uid.to_string(),
                user_id: m.user.as_ref().map(|u| u.id.clone()),
                user_name: m.user.as_ref().map(|u| u.name.clone()),
                role: match m.role {
                    Role::Broadcaster => "broadcaster",
                    Role::Audience => "audience",
                },
                published: m.declared.into(),
                live: m.live().into(),
                muted: m.muted.into(),
                stream: m.stream.clone(),
                connected: m.attached,
                in_room_ms: now_ms.saturating_sub(m.joined_ms),
            })
            .collect();
        let tasks = self
            .api_list_tasks(&key.0, &key.1)
            .unwrap_or_default()
            .into_iter()
            .map(|t| TaskView {
                output: redacted_url(&t.task.stream_url),
                record: t.task.record,
                users: t
                    .task
                    .layout
                    .users
                    .iter()
                    .map(|u| u.uid.to_string())
                    .collect(),
                task_id: t.task.task_id,
                status: t.status,
            })
            .collect();
        Some(RoomView {
            app: key.0.clone(),
            room: key.1.clone(),
            member_count: room.members.len(),
            members,
            tasks,
        })
    }

    /// The HTTP-FLV URL the console previews `uid`'s stream with, while the media server
    /// receives it; 4028/4027-style errors otherwise.
    pub fn console_preview(
        &self,
        app: &str,
        room: &str,
        uid: u64,
        now_ms: u64,
    ) -> Result<String, WireError> {
        let r = self
            .rooms
            .get(&(app.to_owned(), room.to_owned()))
            .ok_or_else(|| WireError::new(ErrorCode::NoSuchRoom, "no such room"))?;
        let m = r
            .members
            .get(&uid)
            .ok_or_else(|| WireError::new(ErrorCode::NoSuchMember, "no such member"))?;
        if !m.pushing {
            return Err(WireError::new(
                ErrorCode::NoSuchMember,
                "the member publishes nothing the media server receives",
            ));
        }
        let urls = self
            .signer
            .play_urls(&r.media_id, uid, CONSOLE_VIEWER, now_ms / 1000);
        Ok(urls.flv)
    }

    /// Whether the console's preview may play in media room `media_room`: while the room is
    /// open, unless a member took the console's viewer id as its uid (then that member's own
    /// privileges decide, through [`Hub::may_play`]).
    pub fn console_may_play(&self, media_room: &str) -> bool {
        self.by_media
            .get(media_room)
            .and_then(|k| self.rooms.get(k))
            .is_some_and(|r| !r.members.contains_key(&CONSOLE_VIEWER))
    }
}
