//! Push tasks in the hub: they belong to a room, are managed by members (or the server API),
//! follow who is live, and report their state to every member.

use mprtc::protocol::json::{DecodeError, FromJson, Json, ObjOut, ToJson};
use mprtc::protocol::tasks::{check_tasks, TasksReq, TASK_ENDED, TASK_FAILED, TASK_PUSHING};

use super::*;
use crate::tasks::{TaskInput, TaskState};

/// The viewer id put into the play URLs the compositor uses (no member has it in practice;
/// it only labels the compositor in media events and logs).
pub const COMPOSITOR_VIEWER: u64 = u64::MAX;
/// Tasks one room may run at once.
pub const MAX_TASKS_PER_ROOM: usize = 8;

#[derive(Debug)]
pub(super) struct RoomTask {
    task: RtmpTask,
    live: Live,
    /// The last status code members were told.
    code: Option<u16>,
}

/// A task change, from a member's request or from the server API.
#[derive(Debug, Clone)]
pub enum TaskOp {
    Add(TasksReq),
    Update(TasksReq),
    Delete(DeleteTasksReq),
}

/// A task as the server API lists it: the task's own fields and `status`.
#[derive(Debug, Clone)]
pub struct TaskInfo {
    pub task: RtmpTask,
    /// 505, 506 or none yet (`null`).
    pub status: Option<u16>,
}

impl ToJson for TaskInfo {
    fn write_json(&self, out: &mut String) {
        self.task
            .write_fields(&mut ObjOut::start(out))
            .field("status", &self.status)
            .end()
    }
}

use mprtc::protocol::tasks::RtmpTask;

/// Type and check an add/update body. The SDK forwards the app's object as it is, so this is
/// where every rule is applied.
pub(super) fn task_body(v: &Json) -> Result<TasksReq, WireError> {
    let r = TasksReq::from_json(v).map_err(shape_error)?;
    check_tasks(&r).map_err(WireError::task)?;
    Ok(r)
}

/// A task body of the wrong shape, naming the field where it went wrong.
pub fn shape_error(e: DecodeError) -> WireError {
    WireError {
        code: ErrorCode::InvalidTask,
        msg: e.message(),
        field: (!e.path.is_empty()).then(|| e.path.clone()),
    }
}

fn key_of(room: &RoomKey, task_id: &str) -> TaskKey {
    TaskKey {
        app: room.0.clone(),
        room: room.1.clone(),
        task_id: task_id.to_owned(),
    }
}

/// Who is live among a task's layout users, with what: what a compositor restart depends on.
type Live = Vec<(u64, Media)>;

/// What the compositor runs: the task with each user's `pushAudio` / `pushVideo` narrowed to
/// the media that user really has live (a track that is not there would stall or fail the
/// mix), and the play URLs of the live users. Users not live are left out and show the canvas.
fn spec_for(room: &Room, task: &RtmpTask, signer: &MediaSigner, now_ms: u64) -> (TaskSpec, Live) {
    let mut effective = task.clone();
    let mut inputs = Vec::new();
    let mut live = Vec::new();
    for u in effective.layout.users.iter_mut() {
        let media = room
            .members
            .get(&u.uid)
            .map(|m| m.live())
            .unwrap_or(Media::NONE);
        u.push_audio &= media.audio;
        u.push_video &= media.video;
        if !media.is_empty() {
            live.push((u.uid, media));
            inputs.push(TaskInput {
                uid: u.uid,
                url: signer
                    .play_urls(&room.media_id, u.uid, COMPOSITOR_VIEWER, now_ms / 1000)
                    .rtmp,
            });
        }
    }
    (
        TaskSpec {
            task: effective,
            inputs,
        },
        live,
    )
}

/// Re-derive every task's inputs; restart the compositors whose inputs changed.
pub(super) fn refresh(
    room: &mut Room,
    key: &RoomKey,
    signer: &MediaSigner,
    now_ms: u64,
    out: &mut Vec<HubOut>,
) {
    let ids: Vec<String> = room.tasks.keys().cloned().collect();
    for id in ids {
        let (spec, live) = spec_for(room, &room.tasks[&id].task, signer, now_ms);
        let t = room.tasks.get_mut(&id).expect("listed above");
        if t.live != live {
            t.live = live;
            out.push(HubOut::TaskApply {
                key: key_of(key, &id),
                spec,
            });
        }
    }
}

/// The room is ending: its tasks end with it.
pub(super) fn end_all(room: &mut Room, key: &RoomKey, out: &mut Vec<HubOut>) {
    for id in std::mem::take(&mut room.tasks).into_keys() {
        out.push(HubOut::TaskStop {
            key: key_of(key, &id),
        });
    }
}

fn status_event(task: &RtmpTask, code: u16, msg: &str) -> Event {
    Event::TaskStatus {
        task_id: task.task_id.clone(),
        code,
        msg: msg.to_owned(),
        stream_url: task.stream_url.clone(),
    }
}

fn apply(
    room: &mut Room,
    key: &RoomKey,
    signer: &MediaSigner,
    op: TaskOp,
    now_ms: u64,
    out: &mut Vec<HubOut>,
) -> Result<(), WireError> {
    match op {
        TaskOp::Add(req) => {
            if let Some(t) = req
                .rtmp_tasks
                .iter()
                .find(|t| room.tasks.contains_key(&t.task_id))
            {
                return Err(WireError::new(
                    ErrorCode::TaskExists,
                    format!("task {:?} already exists; use updateTasks", t.task_id),
                ));
            }
            if room.tasks.len() + req.rtmp_tasks.len() > MAX_TASKS_PER_ROOM {
                return Err(WireError::new(
                    ErrorCode::LimitExceeded,
                    format!("a room runs at most {MAX_TASKS_PER_ROOM} push tasks"),
                ));
            }
            for task in req.rtmp_tasks {
                let (spec, live) = spec_for(room, &task, signer, now_ms);
                out.push(HubOut::TaskApply {
                    key: key_of(key, &task.task_id),
                    spec,
                });
                room.tasks.insert(
                    task.task_id.clone(),
                    RoomTask {
                        task,
                        live,
                        code: None,
                    },
                );
            }
        }
        TaskOp::Update(req) => {
            if let Some(t) = req
                .rtmp_tasks
                .iter()
                .find(|t| !room.tasks.contains_key(&t.task_id))
            {
                return Err(WireError::new(
                    ErrorCode::NoSuchTask,
                    format!("no task {:?} in this room", t.task_id),
                ));
            }
            for task in req.rtmp_tasks {
                // The new configuration replaces the old one whole.
                let (spec, live) = spec_for(room, &task, signer, now_ms);
                out.push(HubOut::TaskApply {
                    key: key_of(key, &task.task_id),
                    spec,
                });
                let t = room.tasks.get_mut(&task.task_id).expect("checked above");
                t.task = task;
                t.live = live;
            }
        }
        TaskOp::Delete(req) => {
            if let Some(id) = req.task_ids.iter().find(|id| !room.tasks.contains_key(*id)) {
                return Err(WireError::new(
                    ErrorCode::NoSuchTask,
                    format!("no task {id:?} in this room"),
                ));
            }
            for id in req.task_ids {
                if let Some(t) = room.tasks.remove(&id) {
                    out.push(HubOut::TaskStop {
                        key: key_of(key, &id),
                    });
                    Hub::broadcast(
                        room,
                        None,
                        &status_event(&t.task, TASK_ENDED, "task deleted"),
                        out,
                    );
                }
            }
        }
    }
    Ok(())
}

impl Hub {
    /// A member manages tasks: allowed when the token grants it, else for broadcasters.
    pub(super) fn member_tasks(
        &mut self,
        sid: SessionId,
        op: TaskOp,
        now_ms: u64,
        out: &mut Vec<HubOut>,
    ) -> Result<(), WireError> {
        if let TaskOp::Delete(r) = &op {
            mprtc::protocol::tasks::check_delete(r).map_err(WireError::task)?;
        }
        let signer = Arc::clone(&self.signer);
        let (key, uid) = self
            .sessions
            .get(&sid)
            .and_then(|s| s.joined.clone())
            .ok_or_else(super::not_in_room)?;
        let room = self.rooms.get_mut(&key).ok_or_else(super::not_in_room)?;
        let m = &room.members[&uid];
        if !m.privileges.tasks.unwrap_or(m.role == Role::Broadcaster) {
            return Err(WireError::new(
                ErrorCode::PermissionDenied,
                "managing push tasks needs a broadcaster or a token that grants it",
            ));
        }
        apply(room, &key, &signer, op, now_ms, out)
    }

    /// The server API manages tasks of a room that exists (has members).
    pub fn api_tasks(
        &mut self,
        app: &str,
        room: &str,
        op: TaskOp,
        now_ms: u64,
        out: &mut Vec<HubOut>,
    ) -> Result<(), WireError> {
        match &op {
            TaskOp::Add(r) | TaskOp::Update(r) => check_tasks(r).map_err(WireError::task)?,
            TaskOp::Delete(r) => {
                mprtc::protocol::tasks::check_delete(r).map_err(WireError::task)?
            }
        }
        let signer = Arc::clone(&self.signer);
        let key: RoomKey = (app.to_owned(), room.to_owned());
        let r = self.rooms.get_mut(&key).ok_or_else(|| {
            WireError::new(
                ErrorCode::NoSuchRoom,
                "no such room (tasks live only while the room has members)",
            )
        })?;
        apply(r, &key, &signer, op, now_ms, out)
    }

    pub fn api_list_tasks(&self, app: &str, room: &str) -> Result<Vec<TaskInfo>, WireError> {
        let r = self
            .rooms
            .get(&(app.to_owned(), room.to_owned()))
            .ok_or_else(|| WireError::new(ErrorCode::NoSuchRoom, "no such room"))?;
        Ok(r.tasks
            .values()
            .map(|t| TaskInfo {
                task: t.task.clone(),
                status: t.code,
            })
            .collect())
    }

    /// The supervisor reports a task's state; members hear of each change once.
    pub fn task_state(&mut self, key: &TaskKey, state: TaskState, out: &mut Vec<HubOut>) {
        let Some(room) = self.rooms.get_mut(&(key.app.clone(), key.room.clone())) else {
            return;
        };
        let Some(t) = room.tasks.get_mut(&key.task_id) else {
            return;
        };
        let (code, msg) = match &state {
            TaskState::Pushing => (TASK_PUSHING, "pushing".to_owned()),
            // The typed reason only: the engine's detail is in the server log (finding 7).
            TaskState::Failed(why) => (TASK_FAILED, why.public_msg()),
            // Ended for a live task only happens on shutdown; deletion already said 511.
            TaskState::Ended => (TASK_ENDED, "task ended".to_owned()),
        };
        if t.code == Some(code) && code != TASK_FAILED {
            return;
        }
        t.code = Some(code);
        let ev = status_event(&t.task, code, &msg);
        Hub::broadcast(room, None, &ev, out);
    }

    pub(super) fn refresh_tasks(&mut self, key: &RoomKey, now_ms: u64, out: &mut Vec<HubOut>) {
        let signer = Arc::clone(&self.signer);
        if let Some(room) = self.rooms.get_mut(key) {
            refresh(room, key, &signer, now_ms, out);
        }
    }
}
