//! The `#[wasm_bindgen]` skin: converts JS values to core calls and core outputs to plain JS
//! objects. No decisions are made here; see `js-shim/` for the I/O side of the contract.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::core::{
    params, AppEvent, Client, ClientConfig, ComponentKind, Error, OpValue, Output, ReportEvent,
};
use crate::prelude::*;
use crate::protocol::json::{self, Json};
use crate::protocol::{ErrorCode, LeaveReason, Role};
use crate::text::{cat, num};

#[cfg(not(any(test, feature = "std")))]
mod runtime;

/// A real JS `Error` with a numeric `code` and a stable `reason` name.
fn js_error(e: &Error) -> JsValue {
    let err = js_sys::Error::new(&e.message);
    err.set_name("MprtcError");
    let v: JsValue = err.into();
    set(&v, "code", e.code.as_u16().into());
    set(&v, "reason", e.code.name().into());
    if let Some(f) = &e.field {
        set(&v, "field", f.as_str().into());
    }
    v
}

fn set(o: &JsValue, k: &str, v: JsValue) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(o, &JsValue::from_str(k), &v);
}

fn get(o: &JsValue, k: &str) -> JsValue {
    if o.is_object() {
        Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

fn opt_string(v: JsValue, what: &str) -> Result<Option<String>, Error> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| Error::invalid(cat(&[what, " must be a string"])))
}

/// A uid as NetEase apps pass it: a number, a decimal string, a `BigInt`, or a bignumber.js
/// value (read through its `toFixed()`, which never uses exponent notation).
fn uid_in(v: &JsValue) -> Result<u64, Error> {
    if let Some(n) = v.as_f64() {
        return params::uid_from_f64(n);
    }
    if let Some(s) = v.as_string() {
        return params::uid_from_str(&s);
    }
    if v.is_bigint() {
        let s: String = js_sys::BigInt::from(v.clone())
            .to_string(10)
            .map(String::from)
            .unwrap_or_default();
        return params::uid_from_str(&s);
    }
    if v.is_object() {
        if let Ok(f) = get(v, "toFixed").dyn_into::<js_sys::Function>() {
            if let Some(s) = f.call0(v).ok().and_then(|s| s.as_string()) {
                return params::uid_from_str(&s);
            }
        }
    }
    Err(Error::new(
        ErrorCode::InvalidArgument,
        "uid must be a number, a decimal string, a BigInt or a BigNumber",
    ))
}

/// A NetEase flag option: absent, `0`/`1`, a boolean or `'0'`/`'1'`.
fn flag(p: &JsValue, name: &str) -> Result<bool, Error> {
    let v = get(p, name);
    if v.is_undefined() || v.is_null() {
        return Ok(false);
    }
    if let Some(b) = v.as_bool() {
        return Ok(b);
    }
    match number(&v) {
        Some(0.0) => Ok(false),
        Some(1.0) => Ok(true),
        _ => Err(Error::invalid(cat(&[name, " must be 0, 1, true or false"]))),
    }
}

/// A number, or a string holding one (NetEase's flags come as either).
fn number(v: &JsValue) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_string().and_then(|s| json::number_in(&s)))
}

/// uids above 2^53-1 go out as decimal strings, flagged as the NetEase API does.
fn uid_out(o: &JsValue, uid: u64) {
    let big = uid > params::MAX_SAFE_INTEGER;
    set(
        o,
        "uid",
        if big {
            num(uid).into()
        } else {
            (uid as f64).into()
        },
    );
    set(o, "isBigNumber", big.into());
}

fn now_ms(now: f64) -> u64 {
    if now.is_finite() && now > 0.0 {
        now as u64
    } else {
        0
    }
}

fn media(v: JsValue) -> Result<crate::protocol::Media, Error> {
    params::media_type(opt_string(v, "mediaType")?.as_deref())
}

type JsResult<T> = Result<T, JsValue>;

/// `JSON.stringify(v)`, if it gives text.
fn stringify(v: &JsValue) -> Option<String> {
    js_sys::JSON::stringify(v).ok().and_then(|s| s.as_string())
}

/// A plain JS object as JSON text, for bodies the core forwards.
fn json_text(v: &JsValue, what: &str) -> Result<String, Error> {
    stringify(v).ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidTask,
            cat(&[what, " needs a plain object"]),
        )
    })
}

/// A component report as JSON, leniently: whatever `JSON.stringify` cannot express (undefined,
/// BigInt, cycles) reads as `null`, which the core ignores.
fn lenient_json(v: &JsValue) -> Json {
    stringify(v)
        .and_then(|t| json::parse(&t).ok())
        .unwrap_or(Json::Null)
}

fn js<T>(r: Result<T, Error>) -> JsResult<T> {
    r.map_err(|e| js_error(&e))
}

#[wasm_bindgen]
pub struct WasmClient {
    inner: Client,
}

#[wasm_bindgen]
impl WasmClient {
    /// `options`: `{appkey, server, debug?, seed?, reconnectTimeout?, requestTimeout?}`. `seed` seeds the
    /// reconnect jitter (the shim passes a random one); `reconnectTimeout` is how long (ms)
    /// the SDK keeps trying to get a lost connection back, 0 to not try.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> JsResult<WasmClient> {
        js((|| {
            let appkey = opt_string(get(&options, "appkey"), "appkey")?.unwrap_or_default();
            let server = opt_string(get(&options, "server"), "server")?.ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidArgument,
                    "server (the mprtc-server ws:// or wss:// URL) is required",
                )
            })?;
            let mut cfg = ClientConfig::new(appkey, server)?;
            if let Some(seed) = get(&options, "seed").as_f64() {
                cfg.seed = seed as u64;
            }
            let deadline = get(&options, "requestTimeout");
            if !deadline.is_undefined() && !deadline.is_null() {
                cfg.request_timeout_ms = deadline
                    .as_f64()
                    .filter(|d| (100.0..=120_000.0).contains(d))
                    .ok_or_else(|| {
                        Error::invalid("requestTimeout must be a number of ms, 100 to 120000")
                    })? as u64;
            }
            let budget = get(&options, "reconnectTimeout");
            if !budget.is_undefined() && !budget.is_null() {
                cfg.reconnect.give_up_after_ms = budget
                    .as_f64()
                    .filter(|b| (0.0..=3_600_000.0).contains(b))
                    .ok_or_else(|| {
                        Error::invalid("reconnectTimeout must be a number of ms, 0 to 3600000")
                    })? as u64;
            }
            Ok(WasmClient {
                inner: Client::new(cfg),
            })
        })())
    }

    /// `params`: `{channelName, uid, token?}` plus NetEase's `liveEnable`, `recordType`,
    /// `recordAudio`, `recordVideo`, `rtmpRecord`, `isHostSpeaker`, `splitMode` (refused with
    /// 1010 when they ask for what mprtc lacks), or `{channelName, userID, userName?, token?}`
    /// for an app-chosen user id (the ZEGO dialect).
    pub fn join(&mut self, p: JsValue, now: f64) -> JsResult<u32> {
        js((|| {
            let room = opt_string(get(&p, "channelName"), "channelName")?.unwrap_or_default();
            let token = opt_string(get(&p, "token"), "token")?;
            let record_type = get(&p, "recordType");
            let record_type_set = !(record_type.is_undefined()
                || record_type.is_null()
                || record_type.as_string().is_some_and(|s| s.is_empty()));
            let split = get(&p, "splitMode");
            params::check_join_extras(params::JoinExtras {
                live_enable: flag(&p, "liveEnable")?,
                record: flag(&p, "recordAudio")?
                    || flag(&p, "recordVideo")?
                    || flag(&p, "rtmpRecord")?,
                host_speaker: flag(&p, "isHostSpeaker")?,
                split_mode: !(split.is_undefined() || split.is_null()),
            })?;
            // recordType only chooses how recordings are mixed; with no recording asked for it
            // changes nothing, but it must be one of NetEase's values.
            if record_type_set {
                let ok = number(&record_type).is_some_and(|n| n == 0.0 || n == 1.0 || n == 2.0);
                if !ok {
                    return Err(Error::invalid("recordType must be 0, 1 or 2"));
                }
            }
            if let Some(user) = opt_string(get(&p, "userID"), "userID")? {
                params::check_user_id(&user)?;
                let name = opt_string(get(&p, "userName"), "userName")?.unwrap_or_default();
                let uid = params::uid_for_user(&user);
                let tag = crate::protocol::UserTag { id: user, name };
                return self
                    .inner
                    .join_as(now_ms(now), &room, uid, token, Some(tag));
            }
            let uid = uid_in(&get(&p, "uid"))?;
            self.inner.join(now_ms(now), &room, uid, token)
        })())
    }

    /// Publish audio and video under the app's `streamID` (the ZEGO dialect).
    #[wasm_bindgen(js_name = publishStream)]
    pub fn publish_stream(&mut self, stream_id: JsValue, now: f64) -> JsResult<u32> {
        js((|| {
            let id = opt_string(stream_id, "streamID")?.unwrap_or_default();
            self.inner
                .publish_as(now_ms(now), crate::protocol::Media::BOTH, Some(id))
        })())
    }

    pub fn mute(&mut self, media_type: JsValue, now: f64) -> JsResult<u32> {
        js(media(media_type).and_then(|m| self.inner.mute(now_ms(now), m)))
    }

    pub fn unmute(&mut self, media_type: JsValue, now: f64) -> JsResult<u32> {
        js(media(media_type).and_then(|m| self.inner.unmute(now_ms(now), m)))
    }

    /// This member's uid while in a room, or `undefined`.
    #[wasm_bindgen(js_name = myUid)]
    pub fn my_uid(&self) -> JsValue {
        match self.inner.uid() {
            Some(uid) => {
                let o: JsValue = Object::new().into();
                uid_out(&o, uid);
                get(&o, "uid")
            }
            None => JsValue::UNDEFINED,
        }
    }

    /// The uid publishing the app's stream `streamID`, or `undefined`.
    #[wasm_bindgen(js_name = uidOfStream)]
    pub fn uid_of_stream(&self, stream_id: JsValue) -> JsValue {
        let Some(id) = stream_id.as_string() else {
            return JsValue::UNDEFINED;
        };
        match self.inner.uid_of_stream(&id) {
            Some(uid) => {
                let o: JsValue = Object::new().into();
                uid_out(&o, uid);
                get(&o, "uid")
            }
            None => JsValue::UNDEFINED,
        }
    }

    pub fn leave(&mut self, now: f64) -> JsResult<u32> {
        js(self.inner.leave(now_ms(now)))
    }

    pub fn publish(&mut self, media_type: JsValue, now: f64) -> JsResult<u32> {
        js(media(media_type).and_then(|m| self.inner.publish(now_ms(now), m)))
    }

    pub fn unpublish(&mut self, media_type: JsValue, now: f64) -> JsResult<u32> {
        js(media(media_type).and_then(|m| self.inner.unpublish(now_ms(now), m)))
    }

    pub fn subscribe(&mut self, uid: JsValue, media_type: JsValue, now: f64) -> JsResult<u32> {
        js((|| {
            self.inner
                .subscribe(now_ms(now), uid_in(&uid)?, media(media_type)?)
        })())
    }

    pub fn unsubscribe(&mut self, uid: JsValue, media_type: JsValue, now: f64) -> JsResult<u32> {
        js((|| {
            self.inner
                .unsubscribe(now_ms(now), uid_in(&uid)?, media(media_type)?)
        })())
    }

    #[wasm_bindgen(js_name = setRole)]
    pub fn set_role(&mut self, role: JsValue, now: f64) -> JsResult<u32> {
        js((|| {
            let r = opt_string(role, "role")?.unwrap_or_default();
            self.inner.set_role(now_ms(now), params::role(&r)?)
        })())
    }

    #[wasm_bindgen(js_name = renewToken)]
    pub fn renew_token(&mut self, token: JsValue, now: f64) -> JsResult<u32> {
        js(opt_string(token, "token")
            .and_then(|t| self.inner.renew_token(now_ms(now), t.unwrap_or_default())))
    }

    /// `{rtmpTasks: [...]}` as in the NetEase API.
    #[wasm_bindgen(js_name = addTasks)]
    pub fn add_tasks(&mut self, req: JsValue, now: f64) -> JsResult<u32> {
        js(json_text(&req, "addTasks").and_then(|r| self.inner.add_tasks(now_ms(now), &r)))
    }

    #[wasm_bindgen(js_name = updateTasks)]
    pub fn update_tasks(&mut self, req: JsValue, now: f64) -> JsResult<u32> {
        js(json_text(&req, "updateTasks").and_then(|r| self.inner.update_tasks(now_ms(now), &r)))
    }

    /// `{taskIds: [...]}`.
    #[wasm_bindgen(js_name = deleteTasks)]
    pub fn delete_tasks(&mut self, req: JsValue, now: f64) -> JsResult<u32> {
        js(json_text(&req, "deleteTasks").and_then(|r| self.inner.delete_tasks(now_ms(now), &r)))
    }

    /// `dataReporter(kind, event, data, uid?)` as in the NetEase API: `kind` `'push'` | `'pull'`,
    /// `event` `'bindstatechange'` | `'bindnetstatus'` | `'binderror'`, `data` the component
    /// event's detail. Throws only for bad names or uid, or when not joined.
    #[wasm_bindgen(js_name = dataReporter)]
    pub fn data_reporter(
        &mut self,
        kind: JsValue,
        event: JsValue,
        data: JsValue,
        uid: JsValue,
        now: f64,
    ) -> JsResult<()> {
        js((|| {
            let kind: ComponentKind = opt_string(kind, "dataReporter kind")?
                .unwrap_or_default()
                .parse()?;
            let event: ReportEvent = opt_string(event, "dataReporter event")?
                .unwrap_or_default()
                .parse()?;
            let uid = if uid.is_undefined() || uid.is_null() {
                None
            } else {
                Some(uid_in(&uid)?)
            };
            self.inner
                .data_reporter(now_ms(now), kind, event, &lenient_json(&data), uid)
        })())
    }

    pub fn destroy(&mut self) {
        self.inner.destroy();
    }

    #[wasm_bindgen(js_name = socketOpened)]
    pub fn socket_opened(&mut self, now: f64) {
        self.inner.handle_socket_open(now_ms(now));
    }

    #[wasm_bindgen(js_name = socketMessage)]
    pub fn socket_message(&mut self, data: JsValue, now: f64) {
        // Binary frames are not part of the protocol; they count as unreadable.
        let text = data.as_string().unwrap_or_default();
        self.inner.handle_socket_message(now_ms(now), &text);
    }

    #[wasm_bindgen(js_name = socketClosed)]
    pub fn socket_closed(&mut self, code: JsValue, reason: JsValue, now: f64) {
        let code = code
            .as_f64()
            .filter(|c| (0.0..=65535.0).contains(c))
            .unwrap_or(1006.0) as u16;
        let reason = reason.as_string().unwrap_or_default();
        self.inner.handle_socket_close(now_ms(now), code, &reason);
    }

    #[wasm_bindgen(js_name = socketError)]
    pub fn socket_error(&mut self, message: JsValue, now: f64) {
        self.inner
            .handle_socket_error(now_ms(now), &message.as_string().unwrap_or_default());
    }

    /// `wx.onAppHide`.
    #[wasm_bindgen(js_name = appHidden)]
    pub fn app_hidden(&mut self, now: f64) {
        self.inner.app_hidden(now_ms(now));
    }

    /// `wx.onAppShow`: a reconnect waiting for its timer goes now; an open socket is checked.
    #[wasm_bindgen(js_name = appShown)]
    pub fn app_shown(&mut self, now: f64) {
        self.inner.app_shown(now_ms(now));
    }

    /// `wx.onNetworkStatusChange`: `isConnected`.
    #[wasm_bindgen(js_name = networkChanged)]
    pub fn network_changed(&mut self, connected: JsValue, now: f64) {
        self.inner
            .network_changed(now_ms(now), connected.as_bool().unwrap_or(true));
    }

    pub fn tick(&mut self, now: f64) {
        self.inner.handle_timeout(now_ms(now));
    }

    #[wasm_bindgen(js_name = nextDeadline)]
    pub fn next_deadline(&self) -> Option<f64> {
        self.inner.poll_timeout().map(|t| t as f64)
    }

    /// The next output as a plain object `{kind, ...}`, or `undefined` when there is none.
    #[wasm_bindgen(js_name = pollOutput)]
    pub fn poll_output(&mut self) -> JsValue {
        let Some(out) = self.inner.poll_output() else {
            return JsValue::UNDEFINED;
        };
        let o: JsValue = Object::new().into();
        match out {
            Output::Connect { url } => {
                set(&o, "kind", "connect".into());
                set(&o, "url", url.into());
            }
            Output::Send(data) => {
                set(&o, "kind", "send".into());
                set(&o, "data", data.into());
            }
            Output::Close { code, reason } => {
                set(&o, "kind", "close".into());
                set(&o, "code", code.into());
                set(&o, "reason", reason.into());
            }
            Output::Event(ev) => {
                set(&o, "kind", "event".into());
                set(&o, "name", ev.name().into());
                set(&o, "data", event_data(&ev));
            }
            Output::Resolve { op, value } => {
                set(&o, "kind", "resolve".into());
                set(&o, "op", op.into());
                set(&o, "value", op_value(value));
            }
            Output::Reject { op, error } => {
                set(&o, "kind", "reject".into());
                set(&o, "op", op.into());
                set(&o, "error", js_error(&error));
            }
        }
        o
    }
}

fn event_data(ev: &AppEvent) -> JsValue {
    let d: JsValue = Object::new().into();
    match ev {
        AppEvent::Open => {}
        AppEvent::Disconnect { code, reason } => {
            set(&d, "code", (*code).into());
            set(&d, "reason", reason.as_str().into());
        }
        AppEvent::ClientJoin { uid } => uid_out(&d, *uid),
        AppEvent::ClientLeave { uid, reason } => {
            uid_out(&d, *uid);
            let r = match reason {
                LeaveReason::Left => "left",
                LeaveReason::ConnectionLost => "connection_lost",
                LeaveReason::Kicked => "kicked",
            };
            set(&d, "reason", r.into());
        }
        AppEvent::StreamAdded { uid, media } | AppEvent::StreamRemoved { uid, media } => {
            uid_out(&d, *uid);
            set(&d, "mediaType", media.name().into());
        }
        AppEvent::RtmpTasksStatus {
            task_id,
            code,
            msg,
            stream_url,
        } => {
            set(&d, "taskId", task_id.as_str().into());
            set(&d, "code", (*code).into());
            set(&d, "msg", msg.as_str().into());
            set(&d, "streamUrl", stream_url.as_str().into());
        }
        AppEvent::SyncDone { uid, url } => {
            uid_out(&d, *uid);
            set(&d, "url", url.as_str().into());
            // Newer NetEase docs describe the same news as a list.
            let one: JsValue = Object::new().into();
            uid_out(&one, *uid);
            set(&one, "url", url.as_str().into());
            set(&d, "userlist", js_sys::Array::of1(&one).into());
        }
        AppEvent::Kicked { reason } => {
            let r = match reason {
                crate::protocol::KickReason::Replaced => "replaced",
                crate::protocol::KickReason::Kicked => "kicked",
                crate::protocol::KickReason::TokenExpired => "token_expired",
            };
            set(&d, "reason", r.into());
        }
        AppEvent::LiveRoomClose => {}
        AppEvent::TokenWillExpire { remaining_s } => {
            set(&d, "remainingSeconds", (*remaining_s as f64).into());
        }
        AppEvent::WillReconnect { count } => set(&d, "count", (*count).into()),
        AppEvent::Reconnected { resumed } => set(&d, "resumed", (*resumed).into()),
        AppEvent::ReconnectFailed {
            attempts,
            elapsed_ms,
        } => {
            set(&d, "attempts", (*attempts).into());
            set(&d, "elapsedMs", (*elapsed_ms as f64).into());
        }
        AppEvent::SendCommandOverTime { command } => set(&d, "command", (*command).into()),
        AppEvent::MuteChanged { uid, .. } => uid_out(&d, *uid),
        AppEvent::PusherState { phase, code } => {
            set(&d, "phase", phase.name().into());
            set(&d, "code", (*code as f64).into());
        }
        AppEvent::PlayerState { uid, phase, code } => {
            uid_out(&d, *uid);
            set(&d, "phase", phase.name().into());
            set(&d, "code", (*code as f64).into());
        }
        AppEvent::Identity { uid, user, stream } => {
            uid_out(&d, *uid);
            if let Some(u) = user {
                set(&d, "userID", u.id.as_str().into());
                set(&d, "userName", u.name.as_str().into());
            }
            if let Some(s) = stream {
                set(&d, "streamID", s.as_str().into());
            }
        }
        AppEvent::Quality { kind, uid, net } => {
            set(&d, "kind", kind.name().into());
            uid_out(&d, *uid);
            net_status_out(&d, net);
        }
        AppEvent::RoleChanged { uid, role } => {
            uid_out(&d, *uid);
            set(
                &d,
                "role",
                if *role == Role::Audience {
                    "audience"
                } else {
                    "broadcaster"
                }
                .into(),
            );
        }
    }
    d
}

/// `bindnetstatus` fields under their WeChat names; fields the component did not report are
/// left out.
fn net_status_out(d: &JsValue, n: &crate::core::component::NetStatus) {
    let nums: [(&str, Option<f64>); 16] = [
        ("videoBitrate", n.video_bitrate.map(f64::from)),
        ("audioBitrate", n.audio_bitrate.map(f64::from)),
        ("videoFPS", n.video_fps),
        ("videoGOP", n.video_gop),
        ("netSpeed", n.net_speed.map(f64::from)),
        ("netJitter", n.net_jitter.map(f64::from)),
        ("netQualityLevel", n.net_quality_level.map(f64::from)),
        ("videoWidth", n.video_width.map(f64::from)),
        ("videoHeight", n.video_height.map(f64::from)),
        ("videoCache", n.video_cache.map(f64::from)),
        ("audioCache", n.audio_cache.map(f64::from)),
        ("vDecCacheSize", n.v_dec_cache_size.map(f64::from)),
        ("vSumCacheSize", n.v_sum_cache_size.map(f64::from)),
        ("avPlayInterval", n.av_play_interval.map(|v| v as f64)),
        ("avRecvInterval", n.av_recv_interval.map(|v| v as f64)),
        ("audioCacheThreshold", n.audio_cache_threshold),
    ];
    for (k, v) in nums {
        if let Some(v) = v {
            set(d, k, v.into());
        }
    }
}

fn op_value(v: OpValue) -> JsValue {
    match v {
        OpValue::Done => JsValue::UNDEFINED,
        OpValue::PushUrl(url) => url.into(),
        OpValue::Play { url, flv_url } => {
            let o: JsValue = Object::new().into();
            set(&o, "url", url.into());
            set(&o, "flvUrl", flv_url.into());
            o
        }
    }
}
