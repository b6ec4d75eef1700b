//! Push tasks in the hub: they belong to a room, are managed by members (or the server API),
//! follow who is live, and report their state to every member.
//!
//! A task makes the server read members' streams and send them somewhere, so a member may only
//! manage tasks that show what it could watch itself (the subscribe privilege over everyone in
//! the layout), may record only with the record privilege, and shares server-wide compositor
//! budgets ([`TaskPolicy`]). Members who may not manage tasks hear their status without the
//! push URL (it carries CDN secrets): only its scheme and host.
//!
//! When rules apply: what needs no network is checked when the task is added or updated and
//! refused synchronously (4005 naming the field: images turned off, an output host not in
//! `output_hosts`, an output address literal that is not public; 4014 for privileges; 4029
//! for caps). What needs name resolution or a fetch is checked by the supervisor when the
//! compositor starts and reported as a 506 with a typed reason (`image_refused`,
//! `image_fetch_failed`, `output_refused`); a refusal is not retried until the task changes.

use mprtc::protocol::json::{DecodeError, FromJson, Json, ObjOut, ToJson};
use mprtc::protocol::tasks::{check_tasks, TasksReq, TASK_ENDED, TASK_FAILED, TASK_PUSHING};

use super::*;
use crate::tasks::policy::redacted_url;
use crate::tasks::{OutputPolicy, TaskInput, TaskPolicy, TaskState};

/// The operator's task rules as the hub applies them.
#[derive(Debug, Clone)]
pub struct TaskRules {
    /// The `[tasks]` table.
    pub policy: Arc<TaskPolicy>,
    /// Where outputs may go (the server's own RTMP listener always may).
    pub outputs: OutputPolicy,
    /// The compositor can encode HE-AAC (`codecProfile` 1). Off: such tasks are refused
    /// naming the field, never silently encoded as AAC-LC.
    pub he_aac: bool,
}

impl TaskRules {
    /// The rules of `policy`; `own_rtmp_base` is this server's RTMP URL base, which outputs
    /// may always use.
    pub fn new(policy: TaskPolicy, own_rtmp_base: &str) -> Self {
        Self {
            outputs: OutputPolicy::new(&policy, own_rtmp_base),
            policy: Arc::new(policy),
            he_aac: false,
        }
    }
}

/// Whether the member may manage push tasks (and so see their push URLs): when the token
/// says so, else broadcasters.
fn may_manage(m: &Member) -> bool {
    m.privileges.tasks.unwrap_or(m.role == Role::Broadcaster)
}

/// The viewer id put into the play URLs the compositor uses (no member has it in practice;
/// it only labels the compositor in media events and logs).
pub const COMPOSITOR_VIEWER: u64 = u64::MAX;
/// Tasks one room may run at once.
pub const MAX_TASKS_PER_ROOM: usize = 8;

#[derive(Debug)]
pub(super) struct RoomTask {
    pub(super) task: RtmpTask,
    /// The member who added it; `None` for the server API.
    pub(super) owner: Option<u64>,
    pub(super) live: Live,
    /// The last status code members were told.
    pub(super) code: Option<u16>,
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
    /// The task as it was added or last updated.
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

/// Tells every member a task's status: those who may manage tasks get the push URL, the
/// others only its scheme and host. Each form is encoded once.
fn broadcast_status(room: &mut Room, task: &RtmpTask, code: u16, msg: &str, out: &mut Vec<HubOut>) {
    let event = |stream_url: String| {
        Arc::<str>::from(encode_event_body(&Event::TaskStatus {
            task_id: task.task_id.clone(),
            code,
            msg: msg.to_owned(),
            stream_url,
        }))
    };
    let full = event(task.stream_url.clone());
    let redacted = event(redacted_url(&task.stream_url));
    for m in room.members.values_mut() {
        let body = if may_manage(m) { &full } else { &redacted };
        m.push_body(body, out);
    }
    // The backend is told without the output URL: it may carry a CDN's stream key, and the
    // backend knows the task it asked for by its id.
    let data = || serde_json::json!({ "task_id": task.task_id, "code": code, "msg": msg });
    super::members::hook(&room.hooks, "task.status", data, out);
}

/// Who asks for a task change, under which rules, and what the server-wide budgets leave.
pub(super) struct Asker<'a> {
    /// The operator's rules.
    pub rules: &'a TaskRules,
    /// The member, or `None` for the server API.
    pub member: Option<u64>,
    /// Compositors running on the whole server, and for this app.
    pub total: usize,
    pub per_app: usize,
}

/// The checks every add and update gets, whoever asks: the operator's image and output
/// rules. Errors name the field, as the protocol's own checks do.
fn check_policy(rules: &TaskRules, req: &TasksReq) -> Result<(), WireError> {
    for (i, t) in req.rtmp_tasks.iter().enumerate() {
        let drawn_images = t
            .layout
            .images
            .iter()
            .any(|im| im.width > 0 && im.height > 0);
        if drawn_images && !rules.policy.images {
            return Err(WireError {
                code: ErrorCode::InvalidTask,
                msg: "layout images are turned off on this server".to_owned(),
                field: Some(format!("rtmpTasks[{i}].layout.images")),
            });
        }
        if t.config.audio_param.is_some_and(|a| a.codec_profile == 1) && !rules.he_aac {
            return Err(WireError {
                code: ErrorCode::InvalidTask,
                msg: "HE-AAC cannot be encoded on this server (no encoder for it)".to_owned(),
                field: Some(format!("rtmpTasks[{i}].config.audioParam.codecProfile")),
            });
        }
        if let Err(e) = rules.outputs.check_literal(&t.stream_url) {
            return Err(WireError {
                code: ErrorCode::InvalidTask,
                msg: format!("the server does not push there: {e}"),
                field: Some(format!("rtmpTasks[{i}].streamUrl")),
            });
        }
    }
    Ok(())
}

fn apply(
    room: &mut Room,
    key: &RoomKey,
    signer: &MediaSigner,
    asker: Asker<'_>,
    op: TaskOp,
    now_ms: u64,
    out: &mut Vec<HubOut>,
) -> Result<(), WireError> {
    let rules = asker.rules;
    if let TaskOp::Add(r) | TaskOp::Update(r) = &op {
        check_policy(rules, r)?;
    }
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
            let n = req.rtmp_tasks.len();
            if room.tasks.len() + n > MAX_TASKS_PER_ROOM {
                return Err(WireError::new(
                    ErrorCode::LimitExceeded,
                    format!("a room runs at most {MAX_TASKS_PER_ROOM} push tasks"),
                ));
            }
            let p = &rules.policy;
            if asker.total + n > p.max_compositors {
                return Err(WireError::new(
                    ErrorCode::LimitExceeded,
                    format!(
                        "this server runs at most {} push tasks and has no room for more",
                        p.max_compositors
                    ),
                ));
            }
            if asker.per_app + n > p.max_compositors_per_app {
                return Err(WireError::new(
                    ErrorCode::LimitExceeded,
                    format!(
                        "this app runs at most {} push tasks at once",
                        p.max_compositors_per_app
                    ),
                ));
            }
            if let Some(uid) = asker.member {
                let own = room.tasks.values().filter(|t| t.owner == Some(uid)).count();
                if own + n > p.max_tasks_per_member {
                    return Err(WireError::new(
                        ErrorCode::LimitExceeded,
                        format!(
                            "a member runs at most {} push tasks",
                            p.max_tasks_per_member
                        ),
                    ));
                }
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
                        owner: asker.member,
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
                if room.tasks[&task.task_id].task == task {
                    // Unchanged: nothing to restart (a flood of these cost a restart each).
                    continue;
                }
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
                    broadcast_status(room, &t.task, TASK_ENDED, "task deleted", out);
                }
            }
        }
    }
    Ok(())
}

impl Hub {
    /// Replaces the operator's task rules (the default: [`TaskPolicy::default`]).
    pub fn with_task_policy(mut self, policy: TaskPolicy) -> Self {
        let he_aac = self.task_rules.he_aac;
        self.task_rules = TaskRules::new(policy, &self.signer.rtmp_base);
        self.task_rules.he_aac = he_aac;
        self
    }

    /// Whether the compositor can encode HE-AAC (see [`TaskRules::he_aac`]; default: no).
    pub fn with_he_aac(mut self, yes: bool) -> Self {
        self.task_rules.he_aac = yes;
        self
    }

    /// Tasks running on the whole server, and those of `app`.
    fn task_counts(&self, app: &str) -> (usize, usize) {
        let mut total = 0;
        let mut per_app = 0;
        for ((a, _), r) in &self.rooms {
            total += r.tasks.len();
            if a == app {
                per_app += r.tasks.len();
            }
        }
        (total, per_app)
    }

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
        let rules = self.task_rules.clone();
        let (key, uid) = self
            .sessions
            .get(&sid)
            .and_then(|s| s.joined.clone())
            .ok_or_else(super::not_in_room)?;
        let insecure = self.apps.get(&key.0).is_some_and(|a| a.insecure);
        let (total, per_app) = self.task_counts(&key.0);
        let room = self.rooms.get_mut(&key).ok_or_else(super::not_in_room)?;
        let m = &room.members[&uid];
        if insecure && !rules.policy.insecure_apps {
            return Err(WireError::new(
                ErrorCode::PermissionDenied,
                "push tasks are off for apps that join without tokens on this server",
            ));
        }
        if !may_manage(m) {
            return Err(WireError::new(
                ErrorCode::PermissionDenied,
                "managing push tasks needs a broadcaster or a token that grants it",
            ));
        }
        if let TaskOp::Add(r) | TaskOp::Update(r) = &op {
            member_may_run(m, uid, insecure, &rules.policy, r)?;
        }
        let asker = Asker {
            rules: &rules,
            member: Some(uid),
            total,
            per_app,
        };
        apply(room, &key, &signer, asker, op, now_ms, out)
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
        let rules = self.task_rules.clone();
        let (total, per_app) = self.task_counts(app);
        let asker = Asker {
            rules: &rules,
            member: None,
            total,
            per_app,
        };
        let key: RoomKey = (app.to_owned(), room.to_owned());
        let r = self.rooms.get_mut(&key).ok_or_else(|| {
            WireError::new(
                ErrorCode::NoSuchRoom,
                "no such room (tasks live only while the room has members)",
            )
        })?;
        apply(r, &key, &signer, asker, op, now_ms, out)
    }

    /// The server API's task list of a room, in task-id order; 4028 (`no_such_room`) if the
    /// room is not open.
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
        let task = t.task.clone();
        broadcast_status(room, &task, code, &msg, out);
    }

    /// [`refresh`] the tasks of room `key`: re-derive their inputs (who is live, with fresh
    /// play URLs) and restart the compositors whose inputs changed.
    pub(super) fn refresh_tasks(&mut self, key: &RoomKey, now_ms: u64, out: &mut Vec<HubOut>) {
        let signer = Arc::clone(&self.signer);
        if let Some(room) = self.rooms.get_mut(key) {
            refresh(room, key, &signer, now_ms, out);
        }
    }
}

/// What a member's own task must respect beyond managing tasks at all: it may show only
/// members it could subscribe to itself (else a task re-streams what the token denies), and
/// record only with the record privilege (members of insecure apps: when the operator allows).
fn member_may_run(
    m: &Member,
    uid: u64,
    insecure: bool,
    policy: &TaskPolicy,
    req: &TasksReq,
) -> Result<(), WireError> {
    for t in &req.rtmp_tasks {
        if !m.privileges.subscribe && t.layout.users.iter().any(|u| u.uid != uid) {
            return Err(WireError::new(
                ErrorCode::PermissionDenied,
                "a push task that shows other members needs a token that grants subscribing",
            ));
        }
        let may_record = if insecure {
            policy.insecure_apps_record
        } else {
            m.privileges.record == Some(true)
        };
        if t.record && !may_record {
            return Err(WireError::new(
                ErrorCode::PermissionDenied,
                "recording a push task needs a token that grants recording",
            ));
        }
    }
    Ok(())
}
