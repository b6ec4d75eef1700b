//! SRS: its `http_hooks` JSON bodies and its HTTP API client kick.
//!
//! SRS posts `{"action":"on_publish","client_id":..,"app":..,"stream":..,"param":"?k=.."}`
//! (documented bodies of `on_publish`, `on_play`, `on_unpublish`, `on_stop`) and reads the
//! answer's `code`: `0` allows, anything else refuses. `client_id` is an integer up to SRS 4
//! and a string from SRS 5, so both are taken; everything is checked for shape.

use serde::Deserialize;
use serde_json::Value;

use super::control::ControlCall;
use super::{Hook, HookCall, HookRefusal};
use mprtc::protocol::names::is_url_safe;

#[derive(Deserialize)]
struct Body {
    action: String,
    client_id: Value,
    app: String,
    stream: String,
    #[serde(default)]
    param: String,
    #[serde(default, rename = "pageUrl")]
    page_url: Option<String>,
}

/// Parses a hook body reported by `node`.
pub fn parse(node: usize, body: &[u8]) -> Result<Hook, HookRefusal> {
    let b: Body = serde_json::from_slice(body).map_err(|_| HookRefusal::Malformed)?;
    let call = match b.action.as_str() {
        "on_publish" => HookCall::Publish,
        "on_play" => HookCall::Play,
        "on_unpublish" => HookCall::PublishDone,
        "on_stop" => HookCall::PlayDone,
        _ => return Err(HookRefusal::Malformed),
    };
    let client = match &b.client_id {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_u64().ok_or(HookRefusal::Malformed)?.to_string(),
        _ => return Err(HookRefusal::Malformed),
    };
    if !is_url_safe(&client, 64) || !is_url_safe(&b.app, 64) || b.stream.len() > 128 {
        return Err(HookRefusal::Malformed);
    }
    let query = b.param.strip_prefix('?').unwrap_or(&b.param);
    if query.len() > 512 {
        return Err(HookRefusal::Malformed);
    }
    Ok(Hook {
        call,
        node,
        client,
        app: b.app,
        name: b.stream,
        query: query.to_owned(),
        page_url: b.page_url.filter(|p| !p.is_empty()),
        relay: false,
    })
}

/// The HTTP API call that kicks SRS client `client` (checked URL-safe when parsed).
pub fn kick(client: &str) -> ControlCall {
    ControlCall {
        method: hyper::Method::DELETE,
        path: format!("/api/v1/clients/{client}"),
    }
}
