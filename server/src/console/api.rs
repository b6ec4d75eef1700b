//! The console's JSON API, behind the operator's bearer token:
//!
//! ```text
//! GET    /console/api/overview[?app=KEY]                               apps, rooms, members, tasks, recordings
//! GET    /console/api/apps/{app}/rooms/{room}/members/{uid}/preview    a signed HTTP-FLV URL of uid's stream
//! POST   /console/api/apps/{app}/rooms/{room}/members/{uid}/kick       end a member's session
//! DELETE /console/api/apps/{app}/rooms/{room}/tasks/{taskId}           stop (delete) a push task
//! DELETE /console/api/apps/{app}/rooms/{room}                          close the room
//! ```
//!
//! The actions are the server API's (same hub calls, same events to members and webhooks);
//! errors have its shape and codes. Answers are capped (see `hub/overview.rs` and
//! `recordings.rs`) and carry no secret: no app secret, token, session id, or push URL
//! beyond its scheme and host. The one signed URL handed out is the preview's, a play URL
//! for the console's own viewer id.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use mprtc::protocol::tasks::DeleteTasksReq;
use mprtc::protocol::{ErrorCode, WireError};
use subtle::ConstantTimeEq;

use super::{assets, recordings, Console};
use crate::config::Secret;
use crate::http_api::{act_on, ApiError, Reply};
use crate::signaling::hub::TaskOp;
use crate::signaling::ws::now_ms;

/// Apps listed at most.
const MAX_APPS_LISTED: usize = 200;

pub(super) fn router(console: Console) -> Router {
    let csp = assets::csp(&console.flv_base);
    Router::new()
        .route("/console/api/overview", get(overview))
        .route(
            "/console/api/apps/{app}/rooms/{room}/members/{uid}/preview",
            get(preview),
        )
        .route(
            "/console/api/apps/{app}/rooms/{room}/members/{uid}/kick",
            post(kick),
        )
        .route(
            "/console/api/apps/{app}/rooms/{room}/tasks/{task_id}",
            delete(stop_task),
        )
        .route("/console/api/apps/{app}/rooms/{room}", delete(close_room))
        .with_state(console)
        .layer(axum::middleware::map_response(move |mut r: Response| {
            let csp = csp.clone();
            async move {
                assets::secure(r.headers_mut(), csp);
                r
            }
        }))
}

/// Whether `headers` carry `Authorization: Bearer <token>` (compared in constant time): the
/// operator's credential, for the console and `/metrics` alike.
pub(crate) fn bearer_matches(headers: &HeaderMap, token: &Secret) -> bool {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    let want = token.expose().as_bytes();
    given.len() == want.len() && bool::from(given.as_bytes().ct_eq(want))
}

/// Proof that a request carries the operator's token: an extractor, so that no handler can
/// forget to ask. Its absence is a 401, which the throttle counts as a failed login.
struct Operator;

impl FromRequestParts<Console> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, c: &Console) -> Result<Self, ApiError> {
        if bearer_matches(&parts.headers, &c.token) {
            return Ok(Operator);
        }
        Err(ApiError(WireError::new(
            ErrorCode::TokenInvalid,
            "Authorization: Bearer <operator token> required",
        )))
    }
}

/// A member's routes: `/apps/{app}/rooms/{room}/members/{uid}`.
#[derive(serde::Deserialize)]
struct MemberPath {
    app: String,
    room: String,
    uid: String,
}

impl MemberPath {
    /// The uid: decimal, as the overview lists it.
    fn uid(&self) -> Result<u64, ApiError> {
        self.uid.parse().map_err(|_| {
            ApiError(WireError::new(
                ErrorCode::InvalidParams,
                "uid must be a decimal number",
            ))
        })
    }
}

/// The optional app filter of the overview.
#[derive(serde::Deserialize)]
struct OverviewQuery {
    app: Option<String>,
}

async fn overview(_: Operator, State(c): State<Console>, Query(q): Query<OverviewQuery>) -> Reply {
    let mut keys: Vec<&String> = c.apps.keys().collect();
    keys.sort();
    let apps: Vec<serde_json::Value> = keys
        .iter()
        .take(MAX_APPS_LISTED)
        .filter_map(|k| c.apps.get(*k))
        .map(|a| {
            serde_json::json!({
                "key": a.key,
                "insecure": a.insecure,
                "webhooks": a.webhooks.len(),
            })
        })
        .collect();
    let now = now_ms();
    let (rooms, rooms_truncated) = c.signaling.api(|h, _| h.overview(q.app.as_deref(), now));
    let dir = c.recordings_dir.clone();
    let (recs, recs_truncated) = tokio::task::spawn_blocking(move || recordings::list(&dir))
        .await
        .unwrap_or_default();
    Ok(Json(serde_json::json!({
        "ok": true,
        "apps": apps,
        "appsTruncated": keys.len() > MAX_APPS_LISTED,
        "rooms": rooms,
        "roomsTruncated": rooms_truncated,
        "recordings": recs,
        "recordingsTruncated": recs_truncated,
    })))
}

async fn preview(_: Operator, State(c): State<Console>, Path(m): Path<MemberPath>) -> Reply {
    let member = m.uid()?;
    let now = now_ms();
    let flv = c
        .signaling
        .api(|h, _| h.console_preview(&m.app, &m.room, member, now))
        .map_err(ApiError)?;
    Ok(Json(serde_json::json!({ "ok": true, "flv": flv })))
}

async fn kick(_: Operator, State(c): State<Console>, Path(m): Path<MemberPath>) -> Reply {
    let member = m.uid()?;
    act_on(&c.signaling, |h, now, out| {
        h.api_kick(&m.app, &m.room, member, now, out)
    })
}

async fn stop_task(
    _: Operator,
    State(c): State<Console>,
    Path((app, room, task_id)): Path<(String, String, String)>,
) -> Reply {
    let op = TaskOp::Delete(DeleteTasksReq {
        task_ids: vec![task_id],
    });
    act_on(&c.signaling, |h, now, out| {
        h.api_tasks(&app, &room, op, now, out)
    })
}

async fn close_room(
    _: Operator,
    State(c): State<Console>,
    Path((app, room)): Path<(String, String)>,
) -> Reply {
    act_on(&c.signaling, |h, now, out| {
        h.api_close_room(&app, &room, now, out)
    })
}
