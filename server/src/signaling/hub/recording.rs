//! Member recording, as the hub decides it: who may ask (at join, NetEase's `recordAudio` /
//! `recordVideo`; or the app's backend through the server API, for any dialect), and when a
//! recording starts: when the member's pusher is admitted. The shell carries
//! [`HubOut::RecordMember`] / [`HubOut::RecordStop`] to [`crate::recording::Recorder`], which
//! reads the member's stream with a play URL of the reserved viewer [`RECORDER_VIEWER`].

use super::*;

/// The viewer id of the recorder's play URLs ([`Hub::may_play`] admits it in a room where a
/// member is recorded). Below [`COMPOSITOR_VIEWER`] (`u64::MAX`) and the operator console's
/// viewer (`u64::MAX - 1`), far from any uid an app hands out.
pub const RECORDER_VIEWER: u64 = u64::MAX - 2;

/// A refusal about the join's `record`.
fn refused(code: ErrorCode, msg: &str) -> WireError {
    WireError {
        code,
        msg: msg.into(),
        field: Some("record".into()),
    }
}

impl Hub {
    /// Records members' streams from now on (the shell has a recorder); without it, a join
    /// asking for a recording is refused.
    pub fn with_member_recording(mut self, on: bool) -> Self {
        self.member_recording = on;
        self
    }

    /// Whether a member joining `app` with `privileges` may have its streams recorded:
    /// recording writes to the server's disk, so it takes the `record` privilege (insecure
    /// apps: the `[tasks]` policy's `insecure_apps_record`), as a recorded push task does.
    pub(super) fn check_record(
        &self,
        record: Media,
        insecure: bool,
        privileges: &Privileges,
    ) -> Result<(), WireError> {
        if record.is_empty() {
            return Ok(());
        }
        if !self.member_recording {
            return Err(refused(
                ErrorCode::Unsupported,
                "this server does not record members (recordAudio / recordVideo)",
            ));
        }
        let may = if insecure {
            self.task_rules.policy.insecure_apps_record
        } else {
            privileges.record == Some(true)
        };
        if !may {
            return Err(refused(
                ErrorCode::PermissionDenied,
                "recording a member needs a token that grants recording",
            ));
        }
        Ok(())
    }

    /// The member `uid` of media room `media_room` has just gone live: its recording starts if
    /// one is asked for.
    pub(super) fn record_on_publish(
        &self,
        media_room: &str,
        uid: u64,
        now_ms: u64,
        out: &mut Vec<HubOut>,
    ) {
        let Some(key) = self.by_media.get(media_room) else {
            return;
        };
        let Some(room) = self.rooms.get(key) else {
            return;
        };
        if let Some(m) = room.members.get(&uid).filter(|m| m.pushing) {
            self.record_out(key, room, uid, m.record, now_ms, out);
        }
    }

    fn record_out(
        &self,
        key: &RoomKey,
        room: &Room,
        uid: u64,
        tracks: Media,
        now_ms: u64,
        out: &mut Vec<HubOut>,
    ) {
        if tracks.is_empty() {
            return;
        }
        let urls = self
            .signer
            .play_urls(&room.media_id, uid, RECORDER_VIEWER, now_ms / 1000);
        out.push(HubOut::RecordMember {
            app: key.0.clone(),
            room: key.1.clone(),
            uid,
            tracks,
            url: urls.flv,
        });
    }

    /// The server API's start (`tracks` non-empty) or stop (empty) of a member's recording:
    /// kept for the member's next pushes, and started now if it is pushing.
    pub fn set_member_recording(
        &mut self,
        app: &str,
        room: &str,
        uid: u64,
        tracks: Media,
        now_ms: u64,
        out: &mut Vec<HubOut>,
    ) -> Result<(), WireError> {
        if !tracks.is_empty() && !self.member_recording {
            return Err(err(
                ErrorCode::Unsupported,
                "this server does not record members",
            ));
        }
        let key = (app.to_owned(), room.to_owned());
        let member = self
            .rooms
            .get_mut(&key)
            .and_then(|r| r.members.get_mut(&uid))
            .ok_or_else(|| err(ErrorCode::NoSuchMember, "no such member in this room"))?;
        member.record = tracks;
        let pushing = member.pushing;
        if tracks.is_empty() {
            out.push(HubOut::RecordStop {
                app: key.0,
                room: key.1,
                uid,
            });
        } else if pushing {
            let room_ref = self.rooms.get(&key).expect("found above");
            self.record_out(&key, room_ref, uid, tracks, now_ms, out);
        }
        Ok(())
    }

    /// Whether someone in `room` is recorded (the recorder's play URLs are admitted then).
    pub(super) fn records_someone(room: &Room) -> bool {
        room.members.values().any(|m| !m.record.is_empty())
    }
}
