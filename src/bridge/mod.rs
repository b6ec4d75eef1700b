//! The one entry point the JS shim calls: `call(name, args, now)`, JSON text in and out.
//!
//! Why JSON text rather than a `#[wasm_bindgen]` method per call with JS values: each exported
//! method costs the wasm a wrapper and the glue a function, and every field of every event
//! built from the wasm is a call across the boundary. The core reads and writes JSON for the
//! wire anyway, so the shim passes `JSON.stringify([...args])` and gets back one text it
//! `JSON.parse`s: the call's result, every output the core queued, and its next deadline. One
//! crossing per input, a smaller wasm and a much smaller glue (BENCHMARKS.md has the figures),
//! and the whole boundary runs natively in the tests below, in virtual time.
//!
//! The answer is `{"ok": value}` or `{"err": {code, reason, message, field?}}`, then
//! `"out": [output, ...]` (see [`answer`]) and `"next"`: the time (ms) the shim calls `tick`,
//! or `null`.

mod answer;
mod args;

use crate::core::{params, Client, ClientConfig, ComponentKind, Error, ReportEvent};
use crate::prelude::*;
use crate::protocol::json::{FromJson, Json, ObjOut, ToJson};
use crate::protocol::{names, ErrorCode, Media, MessageKind, UserTag};
use crate::text::{cat, num};
use answer::JsUid;
use args::{member, opt_string, Args};

/// A client as the shim drives it: created empty, set up by the `init` call.
#[derive(Default)]
pub struct Bridge {
    client: Option<Client>,
}

fn now_ms(now: f64) -> u64 {
    if now.is_finite() && now > 0.0 {
        now as u64
    } else {
        0
    }
}

impl Bridge {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs call `name` with `args` (`JSON.stringify` of the argument array) at `now` (ms
    /// since the epoch) and answers as described in the module docs.
    pub fn call(&mut self, name: &str, args: &str, now: f64) -> String {
        let result = self.dispatch(name, args, now_ms(now));
        let mut out = String::new();
        let mut o = ObjOut::start(&mut out);
        match &result {
            Ok(v) => o.raw("ok", v),
            Err(e) => o.field("err", e),
        };
        let mut list = String::from("[");
        if let Some(c) = &mut self.client {
            while let Some(output) = c.poll_output() {
                if list.len() > 1 {
                    list.push(',');
                }
                output.write_json(&mut list);
            }
        }
        list.push(']');
        o.raw("out", &list);
        o.field("next", &self.client.as_ref().and_then(Client::poll_timeout));
        o.end();
        out
    }

    /// The call's own result as JSON text: an op id for API calls (its outcome comes later as
    /// a `resolve` or `reject` output), a value for queries, `null` for inputs.
    fn dispatch(&mut self, name: &str, text: &str, now: u64) -> Result<String, Error> {
        if name == "init" {
            let a = Args::parse(text, name)?;
            self.client = Some(Client::new(config(a.at(0))?));
            return Ok("null".into());
        }
        let Some(c) = &mut self.client else {
            return Err(Error::invalid("the client is not set up: call init first"));
        };
        let op = |r: Result<u32, Error>| r.map(|id| num(u64::from(id)));
        let done = || Ok("null".into());
        // A push-task body goes to the core as the app's own text: the core checks it is an
        // object, the server checks the rest. Arguments JSON.stringify could not write read
        // as no object.
        if matches!(name, "addTasks" | "updateTasks" | "deleteTasks") {
            let body = sole_argument(text);
            return op(match name {
                "addTasks" => c.add_tasks(now, body),
                "updateTasks" => c.update_tasks(now, body),
                _ => c.delete_tasks(now, body),
            });
        }
        let a = Args::parse(text, name)?;
        let (a0, a1) = (a.at(0), a.at(1));
        match name {
            "join" => op(join(c, now, a0)),
            "leave" => op(c.leave(now)),
            "publish" => op(c.publish(now, args::media(a0)?)),
            "unpublish" => op(c.unpublish(now, args::media(a0)?)),
            "mute" => op(c.mute(now, args::media(a0)?)),
            "unmute" => op(c.unmute(now, args::media(a0)?)),
            // Audio and video under the app's `streamID` (the ZEGO dialect).
            "publishStream" => {
                let id = opt_string(a0, "streamID")?.unwrap_or_default();
                op(c.publish_as(now, Media::BOTH, Some(id)))
            }
            "subscribe" => op(c.subscribe(now, args::uid(a0)?, args::media(a1)?)),
            "unsubscribe" => op(c.unsubscribe(now, args::uid(a0)?, args::media(a1)?)),
            "setRole" => {
                let r = opt_string(a0, "role")?.unwrap_or_default();
                op(c.set_role(now, params::role(&r)?))
            }
            // [type, text, targets]: a target is a uid, or for the ZEGO engine a userID, which
            // stands for the uid the server gave that user (names::uid_for_user).
            "sendMessage" => {
                let kind = MessageKind::from_json(a0)
                    .map_err(|_| Error::invalid("type must be broadcast, barrage or command"))?;
                let text = opt_string(a1, "text")?.unwrap_or_default();
                let to = match a.at(2) {
                    Json::Arr(list) => list
                        .iter()
                        .map(|v| match v {
                            Json::Str(s) if c.is_zego() => Ok(names::uid_for_user(s)),
                            v => args::uid(v),
                        })
                        .collect::<Result<Vec<u64>, Error>>()?,
                    _ => Vec::new(),
                };
                op(c.send_message(now, kind, text, to))
            }
            // [key or null, value]: a room extra info, or (null) this member's stream's.
            "setExtraInfo" => {
                let key = opt_string(a0, "key")?;
                let value = opt_string(a1, "value")?.unwrap_or_default();
                op(c.set_extra_info(now, key, value))
            }
            "renewToken" => {
                let t = opt_string(a0, "token")?.unwrap_or_default();
                op(c.renew_token(now, t))
            }
            // `dataReporter(kind, event, data, uid?)` as in the NetEase API, and ZEGO's
            // `reportStream(streamID, event, data)`, for which the core says which component
            // shows the stream (one call of `data_reporter` for both keeps it inlined).
            "dataReporter" | "reportStream" => {
                let event: ReportEvent = opt_string(a1, "dataReporter event")?
                    .unwrap_or_default()
                    .parse()?;
                let (kind, uid) = if name == "reportStream" {
                    // A stream no member has (a page's late event) is dropped.
                    match c.stream_component(a0.as_str().unwrap_or_default()) {
                        Some(k) => k,
                        None => return done(),
                    }
                } else {
                    let kind: ComponentKind = opt_string(a0, "dataReporter kind")?
                        .unwrap_or_default()
                        .parse()?;
                    let uid = match a.at(3) {
                        Json::Null => None,
                        v => Some(args::uid(v)?),
                    };
                    (kind, uid)
                };
                c.data_reporter(now, kind, event, a.at(2), uid)?;
                done()
            }
            // Queries: a uid (a number, or a decimal string above 2^53-1) or `null`.
            "myUid" => Ok(c.uid().map(JsUid).to_json_string()),
            "uidOfStream" => Ok(a0
                .as_str()
                .and_then(|s| c.uid_of_stream(s))
                .map(JsUid)
                .to_json_string()),
            // Inputs from the shim's I/O.
            "destroy" => {
                c.destroy();
                done()
            }
            "socketOpened" => {
                c.handle_socket_open(now);
                done()
            }
            "socketMessage" => {
                // Binary frames are not part of the protocol; they count as unreadable.
                c.handle_socket_message(now, a0.as_str().unwrap_or_default());
                done()
            }
            "socketClosed" => {
                let code = a0
                    .as_u64()
                    .filter(|c| *c <= 65535)
                    .map_or(crate::core::LOST_CLOSE_CODE, |c| c as u16);
                c.handle_socket_close(now, code, a1.as_str().unwrap_or_default());
                done()
            }
            "socketError" => {
                c.handle_socket_error(now, a0.as_str().unwrap_or_default());
                done()
            }
            "appHidden" => {
                c.app_hidden(now);
                done()
            }
            // A reconnect waiting for its timer goes now; an open socket is checked.
            "appShown" => {
                c.app_shown(now);
                done()
            }
            "networkChanged" => {
                c.network_changed(now, a0.as_bool().unwrap_or(true));
                done()
            }
            "tick" => {
                c.handle_timeout(now);
                done()
            }
            _ => Err(Error::invalid(cat(&["no such call: ", name]))),
        }
    }
}

/// The text of the one element of the JSON array `text` (`[` value `]`, as JSON.stringify
/// writes a one-argument call), or `""`. Taken as it is, so the body is not written again:
/// that would need float printing, which the wasm does not carry.
fn sole_argument(text: &str) -> &str {
    match Args::parse(text, "") {
        // The array parsed, so with no space around it, it starts with `[` and ends with `]`.
        Ok(a) if a.len() == 1 => text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or_default(),
        _ => "",
    }
}

/// `init`'s options: `{appkey, server, seed?, requestTimeout?, reconnectTimeout?}`. `seed`
/// seeds the reconnect jitter (the shim passes a random one); `reconnectTimeout` is how long
/// (ms) the SDK keeps trying to get a lost connection back, 0 to not try.
fn config(o: &Json) -> Result<ClientConfig, Error> {
    let appkey = opt_string(member(o, "appkey"), "appkey")?.unwrap_or_default();
    let server = opt_string(member(o, "server"), "server")?.ok_or_else(|| {
        Error::invalid("server (the mprtc-server ws:// or wss:// URL) is required: pass it to Client, or call require('mprtc').setServer(url) once")
    })?;
    let mut cfg = ClientConfig::new(appkey, server)?;
    // Set by the ZEGO engine for its own clients (see `AppEvent::Zego`).
    cfg.zego = member(o, "zego").as_bool().unwrap_or(false);
    if let Some(seed) = member(o, "seed").as_f64() {
        cfg.seed = seed as u64;
    }
    if let Some(ms) = args::opt_ms(
        member(o, "requestTimeout"),
        (100.0, 120_000.0),
        "requestTimeout must be a number of ms, 100 to 120000",
    )? {
        cfg.request_timeout_ms = ms;
    }
    if let Some(ms) = args::opt_ms(
        member(o, "reconnectTimeout"),
        (0.0, 3_600_000.0),
        "reconnectTimeout must be a number of ms, 0 to 3600000",
    )? {
        cfg.reconnect.give_up_after_ms = ms;
    }
    Ok(cfg)
}

/// `join`'s `{channelName, uid, token?}` plus NetEase's `liveEnable`, `recordType`,
/// `recordAudio`, `recordVideo` (the member's streams recorded by the server: they travel in
/// the join), `rtmpRecord`, `isHostSpeaker`, `splitMode` (refused with 1010 when they ask for
/// what mprtc lacks), or `{channelName, userID, userName?, token?}` for an app-chosen user id
/// (the ZEGO dialect).
fn join(c: &mut Client, now: u64, p: &Json) -> Result<u32, Error> {
    let room = opt_string(member(p, "channelName"), "channelName")?.unwrap_or_default();
    let token = opt_string(member(p, "token"), "token")?;
    let flag = |k| args::flag(p, k);
    params::check_join_extras(params::JoinExtras {
        live_enable: flag("liveEnable")?,
        record: flag("rtmpRecord")?,
        host_speaker: flag("isHostSpeaker")?,
        split_mode: *member(p, "splitMode") != Json::Null,
    })?;
    let record = Media {
        audio: flag("recordAudio")?,
        video: flag("recordVideo")?,
    };
    // recordType chooses the mixed recording (1), each member's (2) or both (0): the mix is a
    // push task's to record, so "mixed only" with a recording asked for is refused.
    match member(p, "recordType") {
        Json::Null => {}
        Json::Str(s) if s.is_empty() => {}
        v => match args::number(v) {
            Some(n) if n == 1.0 && !record.is_empty() => {
                return Err(Error::new(
                    ErrorCode::Unsupported,
                    "recordType 1 (mixed only): record the mix with a push task (record: true)",
                ))
            }
            Some(n) if n == 0.0 || n == 1.0 || n == 2.0 => {}
            _ => return Err(Error::invalid("recordType must be 0, 1 or 2")),
        },
    }
    c.join_record = record;
    if let Some(user) = opt_string(member(p, "userID"), "userID")? {
        names::check_user_id(&user)?;
        let name = opt_string(member(p, "userName"), "userName")?.unwrap_or_default();
        let uid = names::uid_for_user(&user);
        let tag = UserTag { id: user, name };
        return c.join_as(now, &room, uid, token, Some(tag));
    }
    let uid = args::uid(member(p, "uid"))?;
    c.join(now, &room, uid, token)
}

#[cfg(test)]
mod tests;
