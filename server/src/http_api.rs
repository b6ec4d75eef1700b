//! The server API: manage a room's push tasks from the app's backend, authenticated with the
//! app secret (HTTP Basic `appkey:secret`). Same validation and same status as from a client.
//!
//! ```text
//! GET    /api/v1/rooms/{room}/tasks             list tasks with their status
//! POST   /api/v1/rooms/{room}/tasks             {"rtmpTasks": [...]}   add
//! PUT    /api/v1/rooms/{room}/tasks             {"rtmpTasks": [...]}   update (replaces whole tasks)
//! DELETE /api/v1/rooms/{room}/tasks/{taskId}                           delete
//! POST   /api/v1/rooms/{room}/members/{uid}/kick                       end a member's session
//! POST   /api/v1/rooms/{room}/members/{uid}/recording  {"audio","video"}   record a member
//! DELETE /api/v1/rooms/{room}/members/{uid}/recording                  stop recording it
//! GET    /api/v1/recordings                                            the app's finished files
//! DELETE /api/v1/rooms/{room}                                          close the room
//! ```

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine;
use mprtc::protocol::json::{self, FromJson, ToJson};
use mprtc::protocol::tasks::{DeleteTasksReq, TasksReq};
use mprtc::protocol::{ErrorCode, Media, WireError};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;

use crate::config::{AppConfig, Secret};
use crate::signaling::hub::{shape_error, Hub, HubOut, TaskOp};
use crate::signaling::ws::{now_ms, Signaling};
use crate::throttle::LoginThrottle;

#[derive(Clone)]
pub struct Api {
    /// The signaling shell whose hub the API acts on.
    pub signaling: Signaling,
    /// The apps, whose keys and secrets authenticate API calls.
    pub apps: Arc<HashMap<String, AppConfig>>,
    /// Failed logins per address (see [`crate::throttle`]).
    pub throttle: Arc<Mutex<LoginThrottle>>,
}

/// The `/api/v1` routes (kick, close room, tasks), each behind the app's credentials
/// and the login throttle.
pub fn router(api: Api) -> Router {
    let throttle = Arc::clone(&api.throttle);
    Router::new()
        .route(
            "/api/v1/rooms/{room}/tasks",
            get(list)
                .post(write_tasks::<false>)
                .put(write_tasks::<true>),
        )
        .route("/api/v1/rooms/{room}/tasks/{task_id}", delete(remove))
        .route("/api/v1/rooms/{room}/members/{uid}/kick", post(kick))
        .route(
            "/api/v1/rooms/{room}/members/{uid}/recording",
            post(record::<true>).delete(record::<false>),
        )
        .route("/api/v1/recordings", get(recordings))
        .route("/api/v1/rooms/{room}", delete(close_room))
        .with_state(api)
        .layer(axum::middleware::from_fn_with_state(throttle, throttled))
}

/// Refuses addresses locked out for failed logins before their credentials are looked at,
/// and counts the failures (401) and successes of the others.
pub(crate) async fn throttled(
    State(throttle): State<Arc<Mutex<LoginThrottle>>>,
    req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let real_ip = req.headers().get("x-real-ip").and_then(|v| v.to_str().ok());
    let ip = peer.map(|p| {
        let t = throttle.lock().unwrap_or_else(|p| p.into_inner());
        t.client(p, real_ip)
    });
    let now = now_ms();
    let lock =
        |t: &Mutex<LoginThrottle>| t.lock().unwrap_or_else(|p| p.into_inner()).locked(ip?, now);
    if let Some(ms) = lock(&throttle) {
        let secs = ms.div_ceil(1000).to_string();
        let e = WireError::new(
            ErrorCode::LimitExceeded,
            "too many failed logins from this address; try again later",
        );
        let mut resp = ApiError(e).into_response();
        if let Ok(v) = secs.parse() {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        return resp;
    }
    let resp = next.run(req).await;
    if let Some(ip) = ip {
        let mut t = throttle.lock().unwrap_or_else(|p| p.into_inner());
        match resp.status() {
            StatusCode::UNAUTHORIZED => t.failed(ip, now),
            s if s.is_success() => t.succeeded(ip),
            _ => {}
        }
    }
    resp
}

pub(crate) struct ApiError(pub(crate) WireError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self.0.code {
            ErrorCode::UnknownAppKey | ErrorCode::TokenRequired | ErrorCode::TokenInvalid => {
                StatusCode::UNAUTHORIZED
            }
            ErrorCode::NoSuchRoom | ErrorCode::NoSuchTask | ErrorCode::NoSuchMember => {
                StatusCode::NOT_FOUND
            }
            ErrorCode::TaskExists => StatusCode::CONFLICT,
            ErrorCode::LimitExceeded => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = serde_json::json!({
            "ok": false,
            "code": self.0.code.as_u16(),
            "reason": self.0.code.name(),
            "msg": self.0.msg,
            "field": self.0.field,
        });
        (status, Json(body)).into_response()
    }
}

/// The app whose key and secret the request carries. Insecure (debug) apps have no secret and
/// so no server API.
fn authenticate(api: &Api, headers: &HeaderMap) -> Result<String, ApiError> {
    let unauthorized = |m: &str| ApiError(WireError::new(ErrorCode::TokenInvalid, m));
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .ok_or_else(|| unauthorized("Authorization: Basic base64(appkey:secret) required"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| unauthorized("malformed Basic credentials"))?;
    let (key, secret) = decoded
        .split_once(':')
        .ok_or_else(|| unauthorized("malformed Basic credentials"))?;
    let app = api
        .apps
        .get(key)
        .ok_or_else(|| unauthorized("unknown app key or wrong secret"))?;
    let expected = app.secret.as_ref().map(Secret::expose).unwrap_or("");
    let good = !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(secret.as_bytes()));
    if !good {
        return Err(unauthorized("unknown app key or wrong secret"));
    }
    Ok(key.to_owned())
}

/// A task body, read by the wire's own JSON reader: the same rules and messages as a member's
/// request.
fn tasks_body(raw: &str) -> Result<TasksReq, ApiError> {
    let v = json::parse(raw)
        .map_err(|e| ApiError(WireError::new(ErrorCode::InvalidTask, e.message())))?;
    TasksReq::from_json(&v).map_err(|e| ApiError(shape_error(e)))
}

/// What every route answers: `{"ok": true, ...}` or the error with its status.
pub(crate) type Reply = Result<Json<serde_json::Value>, ApiError>;

/// Runs one API action on the hub at the current time and answers `{"ok": true}`.
fn act(
    api: &Api,
    f: impl FnOnce(&mut Hub, u64, &mut Vec<HubOut>) -> Result<(), WireError>,
) -> Reply {
    act_on(&api.signaling, f)
}

/// [`act`] on a signaling shell: what the operator console's actions run through too.
pub(crate) fn act_on(
    signaling: &Signaling,
    f: impl FnOnce(&mut Hub, u64, &mut Vec<HubOut>) -> Result<(), WireError>,
) -> Reply {
    let now = now_ms();
    signaling.api(|h, out| f(h, now, out)).map_err(ApiError)?;
    Ok(Json(serde_json::json!({ "ok": true })))
}

async fn list(State(api): State<Api>, headers: HeaderMap, Path(room): Path<String>) -> Reply {
    let app = authenticate(&api, &headers)?;
    let tasks = api
        .signaling
        .api(|h, _| h.api_list_tasks(&app, &room))
        .map_err(ApiError)?;
    // The tasks are written by the wire's codec, under the same names members use.
    let tasks: serde_json::Value = serde_json::from_str(&tasks.to_json_string())
        .map_err(|e| ApiError(WireError::new(ErrorCode::Internal, e.to_string())))?;
    Ok(Json(serde_json::json!({ "ok": true, "rtmpTasks": tasks })))
}

/// Add (`UPDATE` false, POST) and update (`UPDATE` true, PUT): authenticate, read
/// `{rtmpTasks}`, run. One handler, so both read and check the body alike.
async fn write_tasks<const UPDATE: bool>(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(room): Path<String>,
    raw: String,
) -> Reply {
    let app = authenticate(&api, &headers)?;
    let req = tasks_body(&raw)?;
    let op = if UPDATE {
        TaskOp::Update(req)
    } else {
        TaskOp::Add(req)
    };
    act(&api, |h, now, out| h.api_tasks(&app, &room, op, now, out))
}

async fn remove(
    State(api): State<Api>,
    headers: HeaderMap,
    Path((room, task_id)): Path<(String, String)>,
) -> Reply {
    let app = authenticate(&api, &headers)?;
    let op = TaskOp::Delete(DeleteTasksReq {
        task_ids: vec![task_id],
    });
    act(&api, |h, now, out| h.api_tasks(&app, &room, op, now, out))
}

async fn kick(
    State(api): State<Api>,
    headers: HeaderMap,
    Path((room, uid)): Path<(String, String)>,
) -> Reply {
    let app = authenticate(&api, &headers)?;
    // A decimal uid, or the user id a member joined with (ZEGO-style apps know only that).
    mprtc::protocol::names::check_user_id(&uid).map_err(|e| ApiError(e.into()))?;
    act(&api, |h, now, out| {
        h.api_kick_member(&app, &room, &uid, now, out)
    })
}

async fn close_room(State(api): State<Api>, headers: HeaderMap, Path(room): Path<String>) -> Reply {
    let app = authenticate(&api, &headers)?;
    act(&api, |h, now, out| h.api_close_room(&app, &room, now, out))
}

/// Start (`ON`, POST, body `{"audio": bool, "video": bool}`, both when absent) or stop
/// (DELETE) recording a member: what NetEase members ask for at join, for apps of any dialect.
/// `uid` is decimal, or the user id the member joined with.
async fn record<const ON: bool>(
    State(api): State<Api>,
    headers: HeaderMap,
    Path((room, uid)): Path<(String, String)>,
    raw: String,
) -> Reply {
    let app = authenticate(&api, &headers)?;
    mprtc::protocol::names::check_user_id(&uid).map_err(|e| ApiError(e.into()))?;
    let uid = uid
        .parse::<u64>()
        .unwrap_or_else(|_| mprtc::protocol::names::uid_for_user(&uid));
    let tracks = if !ON {
        Media::NONE
    } else if raw.trim().is_empty() {
        Media::BOTH
    } else {
        let v = json::parse(&raw)
            .map_err(|e| ApiError(WireError::new(ErrorCode::InvalidParams, e.message())))?;
        Media::from_json(&v)
            .map_err(|e| ApiError(WireError::new(ErrorCode::InvalidParams, e.message())))?
    };
    if ON && tracks.is_empty() {
        return Err(ApiError(WireError::new(
            ErrorCode::InvalidParams,
            "nothing to record: audio and video are both false",
        )));
    }
    act(&api, |h, now, out| {
        h.set_member_recording(&app, &room, uid, tracks, now, out)
    })
}

/// The app's finished member-recording files: `{"ok": true, "recordings": [{room, uid, file,
/// bytes}]}`, `file` relative to the recordings directory, oldest first.
async fn recordings(State(api): State<Api>, headers: HeaderMap) -> Reply {
    let app = authenticate(&api, &headers)?;
    let Some(recorder) = api.signaling.recorder() else {
        return Ok(Json(serde_json::json!({ "ok": true, "recordings": [] })));
    };
    let list: Vec<serde_json::Value> = recorder
        .list(&app)
        .into_iter()
        .map(|f| {
            let file = f.path.strip_prefix(recorder.dir()).unwrap_or(&f.path);
            serde_json::json!({
                "room": f.member.room,
                "uid": f.member.uid,
                "file": file.to_string_lossy(),
                "bytes": f.bytes,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "ok": true, "recordings": list })))
}
