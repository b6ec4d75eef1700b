//! The API calls: each checks its arguments, queues its request and returns an [`OpId`] at
//! once; the outcome comes later as [`Output::Resolve`] or [`Output::Reject`].

use crate::prelude::*;

use super::requests::{Pend, Pending};
use super::room::Joined;
use super::{Client, Conn};
use crate::core::error::Error;
use crate::core::output::{OpId, OpValue, Output};
use crate::protocol::json::{self, Empty, RawJson};
use crate::protocol::names;
use crate::protocol::*;
use crate::text::cat;

impl Client {
    // ---- API calls -------------------------------------------------------------------------

    /// Join `room` as `uid`. `token` may be omitted for app keys the server runs in debug mode.
    pub fn join(
        &mut self,
        now: u64,
        room: &str,
        uid: u64,
        token: Option<String>,
    ) -> Result<OpId, Error> {
        self.join_as(now, room, uid, token, None)
    }

    /// [`Client::join`] with the app's own user id and name (ZEGO's `userID`, `userName`),
    /// which the others see with the member.
    pub fn join_as(
        &mut self,
        now: u64,
        room: &str,
        uid: u64,
        token: Option<String>,
        user: Option<UserTag>,
    ) -> Result<OpId, Error> {
        if self.joining || self.joined.is_some() {
            return Err(Error::new(
                ErrorCode::AlreadyJoined,
                "already joined or joining a room; leave first",
            ));
        }
        names::check_room(room)?;
        let token = token.filter(|t| !t.is_empty());
        self.join_token = token.clone();
        self.join_user = user.clone();
        let req = JoinReq {
            appkey: self.cfg.appkey.clone(),
            room: room.to_owned(),
            uid,
            token,
            role: self.role,
            sdk: self.cfg.sdk.clone(),
            resume: None,
            user,
            record: self.join_record,
        };
        if matches!(self.conn, Conn::Idle | Conn::Closing) {
            self.conn = Conn::Connecting {
                deadline: now + self.cfg.connect_timeout_ms,
            };
            self.out.push_back(Output::Connect {
                url: self.cfg.server.clone(),
            });
        }
        self.joining = true;
        Ok(self.request(now, RequestKind::Join, &req, Pend::Join))
    }

    /// Leave the room. Resolves at once when not in a room.
    pub fn leave(&mut self, now: u64) -> Result<OpId, Error> {
        let op = self.op();
        if self.joined.is_some() && self.conn == Conn::Open {
            let (req, frame) = self.send(RequestKind::Leave, &Empty);
            self.pending.push(Pending {
                req,
                op,
                what: Pend::Leave,
                deadline: now + self.cfg.request_timeout_ms,
                frame,
            });
            return Ok(op);
        }
        // Not joined, or joining, or the socket is gone: leaving is local.
        self.teardown(ErrorCode::Cancelled, "left the room");
        self.out.push_back(Output::Resolve {
            op,
            value: OpValue::Done,
        });
        Ok(op)
    }

    /// Publish `media`; resolves with the push URL for `<live-pusher>`.
    pub fn publish(&mut self, now: u64, media: Media) -> Result<OpId, Error> {
        self.publish_as(now, media, None)
    }

    /// [`Client::publish`] naming the stream with the app's own id (ZEGO's `streamID`); the
    /// others see the id with the stream.
    pub fn publish_as(
        &mut self,
        now: u64,
        media: Media,
        stream: Option<String>,
    ) -> Result<OpId, Error> {
        let j = self.joined_ref()?;
        if let Some(s) = &stream {
            names::check_stream_id(s)?;
            if j.stream.as_ref().is_some_and(|old| old != s) && !j.published.is_empty() {
                return Err(Error::invalid(
                    "this member already publishes under another stream id; unpublish first",
                ));
            }
        }
        if j.role == Role::Audience {
            return Err(Error::new(
                ErrorCode::AudienceCannotPublish,
                "an audience member cannot publish; setRole('broadcaster') first",
            ));
        }
        let stream = stream.or_else(|| j.stream.clone());
        if let Some(j) = self.joined.as_mut() {
            j.stream = stream.clone();
        }
        Ok(self.request(
            now,
            RequestKind::Publish,
            &PublishReq { media, stream },
            Pend::Publish,
        ))
    }

    /// Stop sending `media` without unpublishing (the others get `mute-audio` / `mute-video`).
    pub fn mute(&mut self, now: u64, media: Media) -> Result<OpId, Error> {
        self.set_muted(now, media, true)
    }

    /// Send `media` again after [`Client::mute`].
    pub fn unmute(&mut self, now: u64, media: Media) -> Result<OpId, Error> {
        self.set_muted(now, media, false)
    }

    fn set_muted(&mut self, now: u64, media: Media, muted: bool) -> Result<OpId, Error> {
        self.joined_ref()?;
        if media.is_empty() {
            return Err(Error::invalid("mute needs 'audio', 'video' or both"));
        }
        Ok(self.request(
            now,
            RequestKind::Mute,
            &MuteReq { media, muted },
            Pend::Mute { media, muted },
        ))
    }

    /// Stop publishing `media` (the others get `stream-removed`); what stays is still published.
    pub fn unpublish(&mut self, now: u64, media: Media) -> Result<OpId, Error> {
        self.joined_ref()?;
        Ok(self.request(
            now,
            RequestKind::Unpublish,
            &UnpublishReq { media },
            Pend::Unpublish(media),
        ))
    }

    /// Subscribe to `uid`'s stream; resolves with its play URLs.
    pub fn subscribe(&mut self, now: u64, uid: u64, media: Media) -> Result<OpId, Error> {
        let j = self.joined_ref()?;
        if uid == j.uid {
            return Err(Error::invalid("cannot subscribe to yourself"));
        }
        Ok(self.request(
            now,
            RequestKind::Subscribe,
            &SubscribeReq { uid, media },
            Pend::Subscribe { uid, media },
        ))
    }

    /// Stop receiving `media` from `uid`; the page stops its `<live-player>` itself.
    pub fn unsubscribe(&mut self, now: u64, uid: u64, media: Media) -> Result<OpId, Error> {
        self.joined_ref()?;
        Ok(self.request(
            now,
            RequestKind::Unsubscribe,
            &UnsubscribeReq { uid, media },
            Pend::Unsubscribe { uid, media },
        ))
    }

    /// Before join this sets the role to join with; in a room it asks the server.
    pub fn set_role(&mut self, now: u64, role: Role) -> Result<OpId, Error> {
        if self.joined.is_none() {
            if self.joining {
                return Err(Error::new(
                    ErrorCode::NotJoined,
                    "setRole while join is in progress; wait for join",
                ));
            }
            self.role = role;
            let op = self.op();
            self.out.push_back(Output::Resolve {
                op,
                value: OpValue::Done,
            });
            return Ok(op);
        }
        Ok(self.request(
            now,
            RequestKind::SetRole,
            &SetRoleReq { role },
            Pend::SetRole(role),
        ))
    }

    /// Replace the session's join token (after `tokenWillExpire`).
    pub fn renew_token(&mut self, now: u64, token: String) -> Result<OpId, Error> {
        self.joined_ref()?;
        if token.is_empty() {
            return Err(Error::invalid("token is required"));
        }
        let op = self.request(
            now,
            RequestKind::RenewToken,
            &RenewTokenReq {
                token: token.clone(),
            },
            Pend::RenewToken,
        );
        if let Some(j) = self.joined.as_mut() {
            j.next_token = Some(token);
        }
        Ok(op)
    }

    /// Start push tasks. `body` is the JSON text of NetEase's `{rtmpTasks: [...]}`.
    ///
    /// The SDK checks only that it is a JSON object and forwards it as it is: the server types
    /// it and checks every rule (`protocol::tasks::check_tasks`), and a break comes back as
    /// 4005 `invalid_task` naming the field. Typing and checking tasks here as well would add
    /// about 15 KB to the wasm every phone downloads, for an error one round trip sooner.
    pub fn add_tasks(&mut self, now: u64, body: &str) -> Result<OpId, Error> {
        self.tasks_request(now, RequestKind::AddTasks, body, "addTasks")
    }

    /// Replace the whole configuration of existing push tasks (`body` as for
    /// [`add_tasks`](Self::add_tasks)).
    pub fn update_tasks(&mut self, now: u64, body: &str) -> Result<OpId, Error> {
        self.tasks_request(now, RequestKind::UpdateTasks, body, "updateTasks")
    }

    /// Stop push tasks: `body` is the JSON text of `{taskIds: [...]}`.
    pub fn delete_tasks(&mut self, now: u64, body: &str) -> Result<OpId, Error> {
        self.tasks_request(now, RequestKind::DeleteTasks, body, "deleteTasks")
    }

    fn tasks_request(
        &mut self,
        now: u64,
        kind: RequestKind,
        body: &str,
        name: &'static str,
    ) -> Result<OpId, Error> {
        self.joined_ref()?;
        if !json::parse(body).is_ok_and(|v| v.is_object()) {
            return Err(Error::new(
                ErrorCode::InvalidTask,
                cat(&[name, " needs a plain object"]),
            ));
        }
        Ok(self.request(now, kind, &RawJson(body), Pend::Plain(name)))
    }

    /// Abandon everything: pending calls are rejected and the socket closes.
    pub fn destroy(&mut self) {
        self.teardown(ErrorCode::Cancelled, "client destroyed");
    }

    pub(super) fn joined_ref(&self) -> Result<&Joined, Error> {
        self.joined
            .as_ref()
            .ok_or_else(|| Error::new(ErrorCode::NotJoined, "join a room first"))
    }
}
