//! nginx-rtmp: its hook bodies (`application/x-www-form-urlencoded`) and its `rtmp_control`
//! drop paths.
//!
//! nginx-rtmp writes its own fields (`app`, `flashver`, `swfurl`, `tcurl`, `pageurl`, `addr`,
//! `clientid`, `call`, `name`, ...) and then appends the stream URL's query *verbatim*, so a
//! peer chooses part of the body: it can add a second `name=` or `clientid=`. A body with any
//! field twice is therefore refused, and only the fields the signature covers are taken from
//! the query.

use super::control::ControlCall;
use super::{Hook, HookCall, HookRefusal};
use mprtc::protocol::names::is_url_safe;

/// Most fields a body may carry (nginx sends about a dozen, plus the URL's query).
const MAX_FIELDS: usize = 32;

/// The `flashver` nginx-rtmp gives the local publisher of a pulled stream.
const LOCAL_RELAY: &str = "ngx-local-relay";

/// The URL query fields the signature covers, in the order the query is rebuilt.
const SIGNED: [&str; 5] = ["k", "v", "e", "n", "s"];

/// The hook call a path's last segment names (`publish`, `play`, `publish_done`,
/// `play_done`, `done`).
pub fn call_for(event: &str) -> Option<HookCall> {
    Some(match event {
        "publish" => HookCall::Publish,
        "play" => HookCall::Play,
        "publish_done" => HookCall::PublishDone,
        "play_done" => HookCall::PlayDone,
        "done" => HookCall::Done,
        _ => return None,
    })
}

/// Parses a form body of `call` reported by `node`.
pub fn parse(call: HookCall, node: usize, body: &str) -> Result<Hook, HookRefusal> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        if fields.len() == MAX_FIELDS {
            return Err(HookRefusal::Malformed);
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k)?, decode(v)?);
        if fields.iter().any(|(have, _)| *have == k) {
            return Err(HookRefusal::Malformed);
        }
        fields.push((k, v));
    }
    let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
    let client = get("clientid")
        .filter(|c| !c.is_empty() && c.len() <= 20 && c.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(HookRefusal::Malformed)?;
    // An edge's own pull registers as a local publisher without an application; no client
    // can publish without one (nginx-rtmp refuses a connect to an unknown application).
    let relay =
        call == HookCall::Publish && get("app") == Some("") && get("flashver") == Some(LOCAL_RELAY);
    let app = get("app")
        .filter(|a| relay || is_url_safe(a, 64))
        .ok_or(HookRefusal::Malformed)?;
    let name = get("name")
        .filter(|n| n.len() <= 128)
        .ok_or(HookRefusal::Malformed)?;
    let mut query = String::new();
    for k in SIGNED {
        if let Some(v) = get(k) {
            // Everything this server signs is URL-safe; anything else could smuggle `&`.
            if !is_url_safe(v, 128) {
                return Err(HookRefusal::Malformed);
            }
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&format!("{k}={v}"));
        }
    }
    Ok(Hook {
        call,
        node,
        client: client.to_owned(),
        app: app.to_owned(),
        name: name.to_owned(),
        query,
        page_url: get("pageurl").filter(|p| !p.is_empty()).map(str::to_owned),
        relay,
    })
}

/// Percent-decodes a form value (`+` is a space); refused if not UTF-8 or badly escaped.
fn decode(s: &str) -> Result<String, HookRefusal> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b.get(i + 1..i + 3).ok_or(HookRefusal::Malformed)?;
                let hex = std::str::from_utf8(hex).map_err(|_| HookRefusal::Malformed)?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| HookRefusal::Malformed)?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| HookRefusal::Malformed)
}

/// The `rtmp_control` call dropping whoever publishes `name` in `app`, by name alone: for a
/// publisher whose client id this node never learnt (another node admitted it, then died).
/// Both are URL-safe: `app` checked from the configured base, `name` the server's own.
pub fn drop_publisher_named(app: &str, name: &str) -> ControlCall {
    ControlCall {
        method: hyper::Method::GET,
        path: format!("/drop/publisher?app={app}&name={name}"),
    }
}

/// The `rtmp_control` call dropping client `client` publishing (or playing) `name` in `app`.
/// Every value was checked URL-safe when its hook was parsed.
pub fn drop(publisher: bool, app: &str, name: &str, client: &str) -> ControlCall {
    let who = if publisher { "publisher" } else { "subscriber" };
    ControlCall {
        method: hyper::Method::GET,
        path: format!("/drop/{who}?app={app}&name={name}&clientid={client}"),
    }
}
