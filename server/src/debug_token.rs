//! A join-token endpoint for development: `GET /api/v1/debug/token?appkey=&room=&uid=` mints a
//! token for anyone who asks, so a demo page or a vendor sample can fetch one the way it would
//! from the app's own backend. Off unless `debug_token_endpoint` is set; a server strangers can
//! reach must never have it on, since it hands out every app's tokens.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use mprtc::protocol::names::{check_room, check_user_id};
use serde::Deserialize;

use crate::config::{AppConfig, Secret};
use crate::token::{self, Claims, Privileges};

/// Tokens from here live an hour unless asked for less (or more, up to a day).
const DEFAULT_TTL_SECS: u64 = 3600;
/// The longest lifetime a caller may ask for.
const MAX_TTL_SECS: u64 = 86_400;

#[derive(Deserialize)]
struct Ask {
    appkey: String,
    room: String,
    /// A decimal uid or an app-chosen user id.
    uid: String,
    ttl: Option<u64>,
}

/// `GET /api/v1/debug/token`, served only when `debug_token_endpoint` is on: a join token
/// for any room and uid of the apps that have a secret. Development only.
pub fn router(apps: Arc<HashMap<String, AppConfig>>) -> Router {
    Router::new()
        .route("/api/v1/debug/token", get(mint))
        .with_state(apps)
}

/// Answers `{token}` for `appkey`, `room` and `uid` (and an optional `ttl`; the token is
/// empty for an app without a secret), or `{ok: false, msg}` with a 4xx status.
async fn mint(
    State(apps): State<Arc<HashMap<String, AppConfig>>>,
    ask: Result<Query<Ask>, axum::extract::rejection::QueryRejection>,
) -> (StatusCode, Json<serde_json::Value>) {
    let refuse = |status, msg: &str| (status, Json(serde_json::json!({ "ok": false, "msg": msg })));
    let Ok(Query(ask)) = ask else {
        return refuse(StatusCode::BAD_REQUEST, "query needs appkey, room and uid");
    };
    let Some(app) = apps.get(&ask.appkey) else {
        return refuse(StatusCode::NOT_FOUND, "unknown appkey");
    };
    if let Err(e) = check_room(&ask.room) {
        return refuse(StatusCode::BAD_REQUEST, e.0);
    }
    if let Err(e) = check_user_id(&ask.uid) {
        return refuse(StatusCode::BAD_REQUEST, e.0);
    }
    // Debug-mode apps join without a token; an empty one says so.
    let Some(secret) = app.secret.as_ref().map(Secret::expose) else {
        return (StatusCode::OK, Json(serde_json::json!({ "token": "" })));
    };
    let ttl = ask.ttl.unwrap_or(DEFAULT_TTL_SECS).clamp(1, MAX_TTL_SECS);
    let now = crate::signaling::ws::now_ms() / 1000;
    let claims = Claims {
        app: ask.appkey,
        room: ask.room,
        uid: ask.uid,
        iat: now,
        exp: now + ttl,
        privileges: Privileges::default(),
    };
    let t = token::sign(secret.as_bytes(), &claims);
    (StatusCode::OK, Json(serde_json::json!({ "token": t })))
}
