//! Push tasks: compose room members into one layout and push it to an RTMP URL. The field
//! names are those of the NetEase API (`taskId`, `streamUrl`, `layout.canvas`, ...), so task
//! objects written for it travel unchanged.

use serde::{Deserialize, Serialize};

/// One push task as the app describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RtmpTask {
    pub task_id: String,
    pub stream_url: String,
    #[serde(default)]
    pub record: bool,
    /// The uid shown big (kept for compatibility; the layout decides positions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_uid: Option<u64>,
    pub layout: Layout,
    #[serde(default)]
    pub config: TaskConfig,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub extra_info: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Layout {
    pub canvas: Canvas,
    #[serde(default)]
    pub users: Vec<LayoutUser>,
    #[serde(default)]
    pub images: Vec<LayoutImage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
    /// Background colour as a decimal RGB number (`#FFFFFF` is 16777215).
    #[serde(default)]
    pub color: u32,
}

/// How a picture fills its rectangle.
pub const ADAPTION_FILL: u8 = 0;
/// Scale to fit inside the rectangle, keeping the aspect ratio (the default).
pub const ADAPTION_FIT: u8 = 1;

fn fit() -> u8 {
    ADAPTION_FIT
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayoutUser {
    pub uid: u64,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    #[serde(default = "fit")]
    pub adaption: u8,
    #[serde(default)]
    pub z_order: i32,
    #[serde(default = "yes")]
    pub push_audio: bool,
    #[serde(default = "yes")]
    pub push_video: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayoutImage {
    pub url: String,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    #[serde(default = "fit")]
    pub adaption: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_param: Option<AudioParam>,
    /// Push a single user's video without re-encoding (accepted; the compositor decides).
    #[serde(default)]
    pub single_video_no_trans: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioParam {
    /// kbit/s, 10 to 192.
    #[serde(default = "AudioParam::default_bit_rate")]
    pub bit_rate: u32,
    /// 1 (mono) or 2 (stereo).
    #[serde(default = "AudioParam::default_channels")]
    pub channels: u8,
    /// 0 AAC-LC, 1 HE-AAC.
    #[serde(default)]
    pub codec_profile: u8,
    /// 32000, 44100 or 48000.
    #[serde(default = "AudioParam::default_sample_rate")]
    pub sample_rate: u32,
    /// The seed documents this flag inside `audioParam` too; accepted in either place.
    #[serde(default)]
    pub single_video_no_trans: bool,
}

impl AudioParam {
    fn default_bit_rate() -> u32 {
        64
    }
    fn default_channels() -> u8 {
        2
    }
    fn default_sample_rate() -> u32 {
        48000
    }
}

impl Default for AudioParam {
    fn default() -> Self {
        Self {
            bit_rate: Self::default_bit_rate(),
            channels: Self::default_channels(),
            codec_profile: 0,
            sample_rate: Self::default_sample_rate(),
            single_video_no_trans: false,
        }
    }
}

/// `add-tasks` and `update-tasks` bodies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TasksReq {
    pub rtmp_tasks: Vec<RtmpTask>,
}

/// `delete-tasks` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteTasksReq {
    pub task_ids: Vec<String>,
}

/// Task status codes, as the NetEase API reports them in `rtmp-tasks-status`.
pub const TASK_PUSHING: u16 = 505;
pub const TASK_FAILED: u16 = 506;
pub const TASK_ENDED: u16 = 511;

/// Limits a task must respect. Shared by the SDK (checked before sending) and the server
/// (checked again on arrival), so both refuse the same things with the same words.
pub mod limits {
    pub const TASK_ID_MAX: usize = 64;
    pub const URL_MAX: usize = 1024;
    pub const CANVAS_MIN: u32 = 16;
    pub const CANVAS_MAX: u32 = 1920;
    pub const USERS_MAX: usize = 16;
    pub const IMAGES_MAX: usize = 4;
    pub const Z_ORDER_MAX: i32 = 100;
    pub const COLOR_MAX: u32 = 0xFF_FF_FF;
    pub const BIT_RATE: (u32, u32) = (10, 192);
    pub const SAMPLE_RATES: [u32; 3] = [32000, 44100, 48000];
    pub const EXTRA_INFO_MAX: usize = 4096;
    pub const TASKS_PER_REQUEST_MAX: usize = 8;
}

/// A task field that breaks a rule: which field, and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFieldError {
    /// Path of the field, e.g. `rtmpTasks[0].layout.users[1].width`.
    pub field: String,
    pub allowed: String,
}

impl std::fmt::Display for TaskFieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} must be {}", self.field, self.allowed)
    }
}

fn bad(field: String, allowed: impl Into<String>) -> TaskFieldError {
    TaskFieldError {
        field,
        allowed: allowed.into(),
    }
}

pub fn check_task_id(field: String, id: &str) -> Result<(), TaskFieldError> {
    let ok = !id.is_empty()
        && id.len() <= limits::TASK_ID_MAX
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(bad(field, "1 to 64 letters, digits or '_'"))
    }
}

fn check_url(field: String, url: &str, schemes: &[&str]) -> Result<(), TaskFieldError> {
    let ok = url.len() <= limits::URL_MAX
        && schemes
            .iter()
            .any(|s| url.starts_with(s) && url.len() > s.len())
        && !url
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control());
    if ok {
        Ok(())
    } else {
        Err(bad(
            field,
            format!(
                "a {} URL of at most {} characters",
                schemes.join(" or "),
                limits::URL_MAX
            ),
        ))
    }
}

fn check_rect(p: &str, x: u32, y: u32, w: u32, h: u32, c: Canvas) -> Result<(), TaskFieldError> {
    if w == 0 || w > c.width {
        return Err(bad(
            format!("{p}.width"),
            format!("1 to {} (the canvas width)", c.width),
        ));
    }
    if h == 0 || h > c.height {
        return Err(bad(
            format!("{p}.height"),
            format!("1 to {} (the canvas height)", c.height),
        ));
    }
    if x > c.width - w {
        return Err(bad(
            format!("{p}.x"),
            format!("0 to {} so that x + width fits the canvas", c.width - w),
        ));
    }
    if y > c.height - h {
        return Err(bad(
            format!("{p}.y"),
            format!("0 to {} so that y + height fits the canvas", c.height - h),
        ));
    }
    Ok(())
}

fn check_adaption(field: String, a: u8) -> Result<(), TaskFieldError> {
    if a == ADAPTION_FILL || a == ADAPTION_FIT {
        Ok(())
    } else {
        Err(bad(field, "0 (fill) or 1 (fit)"))
    }
}

/// Check one task; `p` is the path prefix used in errors (e.g. `rtmpTasks[0]`).
pub fn check_task(p: &str, t: &RtmpTask) -> Result<(), TaskFieldError> {
    check_task_id(format!("{p}.taskId"), &t.task_id)?;
    check_url(
        format!("{p}.streamUrl"),
        &t.stream_url,
        &["rtmp://", "rtmps://"],
    )?;
    let c = t.layout.canvas;
    let even =
        |v: u32| (limits::CANVAS_MIN..=limits::CANVAS_MAX).contains(&v) && v.is_multiple_of(2);
    let range = format!(
        "an even number from {} to {}",
        limits::CANVAS_MIN,
        limits::CANVAS_MAX
    );
    if !even(c.width) {
        return Err(bad(format!("{p}.layout.canvas.width"), range));
    }
    if !even(c.height) {
        return Err(bad(format!("{p}.layout.canvas.height"), range));
    }
    if c.color > limits::COLOR_MAX {
        return Err(bad(
            format!("{p}.layout.canvas.color"),
            "a decimal RGB number from 0 to 16777215",
        ));
    }
    if t.layout.users.len() > limits::USERS_MAX {
        return Err(bad(
            format!("{p}.layout.users"),
            format!("at most {} users", limits::USERS_MAX),
        ));
    }
    for (i, u) in t.layout.users.iter().enumerate() {
        let q = format!("{p}.layout.users[{i}]");
        if t.layout.users[..i].iter().any(|o| o.uid == u.uid) {
            return Err(bad(
                format!("{q}.uid"),
                "a uid not listed twice in the layout",
            ));
        }
        check_rect(&q, u.x, u.y, u.width, u.height, c)?;
        check_adaption(format!("{q}.adaption"), u.adaption)?;
        if !(0..=limits::Z_ORDER_MAX).contains(&u.z_order) {
            return Err(bad(
                format!("{q}.zOrder"),
                format!("0 to {}", limits::Z_ORDER_MAX),
            ));
        }
    }
    if t.layout.images.len() > limits::IMAGES_MAX {
        return Err(bad(
            format!("{p}.layout.images"),
            format!("at most {} images", limits::IMAGES_MAX),
        ));
    }
    for (i, im) in t.layout.images.iter().enumerate() {
        let q = format!("{p}.layout.images[{i}]");
        check_url(format!("{q}.url"), &im.url, &["http://", "https://"])?;
        check_rect(&q, im.x, im.y, im.width, im.height, c)?;
        check_adaption(format!("{q}.adaption"), im.adaption)?;
    }
    if let Some(a) = t.config.audio_param {
        let q = format!("{p}.config.audioParam");
        let (lo, hi) = limits::BIT_RATE;
        if !(lo..=hi).contains(&a.bit_rate) {
            return Err(bad(
                format!("{q}.bitRate"),
                format!("{lo} to {hi} (kbit/s)"),
            ));
        }
        if a.channels != 1 && a.channels != 2 {
            return Err(bad(format!("{q}.channels"), "1 (mono) or 2 (stereo)"));
        }
        if a.codec_profile > 1 {
            return Err(bad(format!("{q}.codecProfile"), "0 (AAC-LC) or 1 (HE-AAC)"));
        }
        if !limits::SAMPLE_RATES.contains(&a.sample_rate) {
            return Err(bad(format!("{q}.sampleRate"), "32000, 44100 or 48000"));
        }
    }
    if t.extra_info.len() > limits::EXTRA_INFO_MAX {
        return Err(bad(
            format!("{p}.extraInfo"),
            format!("at most {} bytes", limits::EXTRA_INFO_MAX),
        ));
    }
    Ok(())
}

/// Check an `addTasks` / `updateTasks` request.
pub fn check_tasks(req: &TasksReq) -> Result<(), TaskFieldError> {
    let n = req.rtmp_tasks.len();
    if n == 0 || n > limits::TASKS_PER_REQUEST_MAX {
        return Err(bad(
            "rtmpTasks".into(),
            format!("1 to {} tasks", limits::TASKS_PER_REQUEST_MAX),
        ));
    }
    for (i, t) in req.rtmp_tasks.iter().enumerate() {
        let p = format!("rtmpTasks[{i}]");
        if req.rtmp_tasks[..i].iter().any(|o| o.task_id == t.task_id) {
            return Err(bad(format!("{p}.taskId"), "unique within the request"));
        }
        check_task(&p, t)?;
    }
    Ok(())
}

/// Check a `deleteTasks` request.
pub fn check_delete(req: &DeleteTasksReq) -> Result<(), TaskFieldError> {
    if req.task_ids.is_empty() || req.task_ids.len() > limits::TASKS_PER_REQUEST_MAX {
        return Err(bad(
            "taskIds".into(),
            format!("1 to {} task ids", limits::TASKS_PER_REQUEST_MAX),
        ));
    }
    for (i, id) in req.task_ids.iter().enumerate() {
        check_task_id(format!("taskIds[{i}]"), id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> RtmpTask {
        serde_json::from_value(serde_json::json!({
            "taskId": "task_1",
            "streamUrl": "rtmp://cdn.example.com/live/x",
            "record": false,
            "layout": {
                "canvas": {"width": 1280, "height": 720, "color": 16777215},
                "users": [
                    {"uid": 100, "x": 0, "y": 0, "width": 640, "height": 360, "adaption": 1, "zOrder": 1, "pushAudio": true, "pushVideo": true},
                    {"uid": 200, "x": 640, "y": 0, "width": 640, "height": 360}
                ],
                "images": [{"url": "https://example.com/bg.png", "x": 0, "y": 360, "width": 480, "height": 360}]
            },
            "config": {"audioParam": {"bitRate": 64, "channels": 2, "codecProfile": 0, "sampleRate": 48000}},
            "extraInfo": ""
        }))
        .unwrap()
    }

    fn field_of(t: &RtmpTask) -> String {
        check_task("t", t).unwrap_err().field
    }

    #[test]
    fn the_seed_example_shape_is_accepted_with_defaults() {
        let t = task();
        check_task("t", &t).unwrap();
        let u = t.layout.users[1];
        assert_eq!(
            (u.adaption, u.z_order, u.push_audio, u.push_video),
            (ADAPTION_FIT, 0, true, true)
        );
        // The seed puts singleVideoNoTrans inside audioParam; both places parse.
        let v: RtmpTask = serde_json::from_value(serde_json::json!({
            "taskId": "a", "streamUrl": "rtmp://h/x",
            "layout": {"canvas": {"width": 640, "height": 360}},
            "config": {"audioParam": {"bitRate": 64, "singleVideoNoTrans": false}, "singleVideoNoTrans": true}
        }))
        .unwrap();
        check_task("t", &v).unwrap();
        assert_eq!(v.config.audio_param.unwrap().sample_rate, 48000);
    }

    #[test]
    fn every_boundary() {
        let ok = |f: &dyn Fn(&mut RtmpTask)| {
            let mut t = task();
            f(&mut t);
            check_task("t", &t).map_err(|e| e.to_string())
        };
        let bad = |f: &dyn Fn(&mut RtmpTask)| {
            let mut t = task();
            f(&mut t);
            field_of(&t)
        };
        // taskId
        assert!(ok(&|t| t.task_id = "a".repeat(64)).is_ok());
        assert_eq!(bad(&|t| t.task_id = "a".repeat(65)), "t.taskId");
        assert_eq!(bad(&|t| t.task_id = String::new()), "t.taskId");
        assert_eq!(bad(&|t| t.task_id = "a-b".into()), "t.taskId");
        // streamUrl
        assert!(ok(&|t| t.stream_url = "rtmps://h/x".into()).is_ok());
        assert_eq!(bad(&|t| t.stream_url = "http://h/x".into()), "t.streamUrl");
        assert_eq!(bad(&|t| t.stream_url = "rtmp://".into()), "t.streamUrl");
        assert_eq!(
            bad(&|t| t.stream_url = "rtmp://h/a b".into()),
            "t.streamUrl"
        );
        assert_eq!(
            bad(&|t| t.stream_url = format!("rtmp://{}", "h".repeat(1020))),
            "t.streamUrl"
        );
        // canvas
        assert!(ok(&|t| {
            t.layout.canvas.width = 1920;
            t.layout.images.clear();
            t.layout.users.clear()
        })
        .is_ok());
        assert_eq!(
            bad(&|t| t.layout.canvas.width = 1922),
            "t.layout.canvas.width"
        );
        assert_eq!(
            bad(&|t| t.layout.canvas.width = 1281),
            "t.layout.canvas.width"
        );
        assert_eq!(
            bad(&|t| t.layout.canvas.height = 14),
            "t.layout.canvas.height"
        );
        assert!(ok(&|t| t.layout.canvas.color = 0xFFFFFF).is_ok());
        assert_eq!(
            bad(&|t| t.layout.canvas.color = 0x1000000),
            "t.layout.canvas.color"
        );
        // users
        assert!(ok(&|t| t.layout.users[1].x = 640).is_ok());
        assert_eq!(bad(&|t| t.layout.users[1].x = 641), "t.layout.users[1].x");
        assert_eq!(bad(&|t| t.layout.users[1].y = 361), "t.layout.users[1].y");
        assert_eq!(
            bad(&|t| t.layout.users[0].width = 0),
            "t.layout.users[0].width"
        );
        assert_eq!(
            bad(&|t| t.layout.users[0].height = 721),
            "t.layout.users[0].height"
        );
        assert_eq!(
            bad(&|t| t.layout.users[0].adaption = 2),
            "t.layout.users[0].adaption"
        );
        assert!(ok(&|t| t.layout.users[0].z_order = 100).is_ok());
        assert_eq!(
            bad(&|t| t.layout.users[0].z_order = 101),
            "t.layout.users[0].zOrder"
        );
        assert_eq!(
            bad(&|t| t.layout.users[0].z_order = -1),
            "t.layout.users[0].zOrder"
        );
        assert_eq!(
            bad(&|t| t.layout.users[1].uid = 100),
            "t.layout.users[1].uid"
        );
        assert_eq!(
            bad(&|t| {
                let u = t.layout.users[0];
                t.layout.users = (0..17).map(|i| LayoutUser { uid: i, ..u }).collect()
            }),
            "t.layout.users"
        );
        // images
        assert_eq!(
            bad(&|t| t.layout.images[0].url = "ftp://x".into()),
            "t.layout.images[0].url"
        );
        assert_eq!(
            bad(&|t| t.layout.images[0].width = 1281),
            "t.layout.images[0].width"
        );
        assert_eq!(
            bad(&|t| t.layout.images[0].adaption = 9),
            "t.layout.images[0].adaption"
        );
        assert_eq!(
            bad(&|t| {
                let i = t.layout.images[0].clone();
                t.layout.images = vec![i; 5]
            }),
            "t.layout.images"
        );
        // audioParam
        fn ap(f: fn(&mut AudioParam)) -> impl Fn(&mut RtmpTask) {
            move |t: &mut RtmpTask| {
                let mut a = t.config.audio_param.unwrap();
                f(&mut a);
                t.config.audio_param = Some(a);
            }
        }
        assert!(ok(&ap(|a| a.bit_rate = 10)).is_ok());
        assert!(ok(&ap(|a| a.bit_rate = 192)).is_ok());
        assert_eq!(bad(&ap(|a| a.bit_rate = 9)), "t.config.audioParam.bitRate");
        assert_eq!(
            bad(&ap(|a| a.bit_rate = 193)),
            "t.config.audioParam.bitRate"
        );
        assert_eq!(bad(&ap(|a| a.channels = 3)), "t.config.audioParam.channels");
        assert_eq!(
            bad(&ap(|a| a.codec_profile = 2)),
            "t.config.audioParam.codecProfile"
        );
        assert!(ok(&ap(|a| a.sample_rate = 32000)).is_ok());
        assert_eq!(
            bad(&ap(|a| a.sample_rate = 22050)),
            "t.config.audioParam.sampleRate"
        );
        // extraInfo
        assert_eq!(bad(&|t| t.extra_info = "x".repeat(4097)), "t.extraInfo");
        // the message names the allowed range
        let e = check_task("t", &{
            let mut t = task();
            t.config.audio_param.as_mut().unwrap().bit_rate = 500;
            t
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.config.audioParam.bitRate must be 10 to 192 (kbit/s)"
        );
    }

    #[test]
    fn requests() {
        let one = TasksReq {
            rtmp_tasks: vec![task()],
        };
        check_tasks(&one).unwrap();
        assert_eq!(
            check_tasks(&TasksReq { rtmp_tasks: vec![] })
                .unwrap_err()
                .field,
            "rtmpTasks"
        );
        assert_eq!(
            check_tasks(&TasksReq {
                rtmp_tasks: vec![task(), task()]
            })
            .unwrap_err()
            .field,
            "rtmpTasks[1].taskId"
        );
        assert_eq!(
            check_tasks(&TasksReq {
                rtmp_tasks: vec![task(); 9]
            })
            .unwrap_err()
            .field,
            "rtmpTasks"
        );
        check_delete(&DeleteTasksReq {
            task_ids: vec!["a_1".into()],
        })
        .unwrap();
        assert_eq!(
            check_delete(&DeleteTasksReq { task_ids: vec![] })
                .unwrap_err()
                .field,
            "taskIds"
        );
        assert_eq!(
            check_delete(&DeleteTasksReq {
                task_ids: vec!["ok".into(), "no!".into()]
            })
            .unwrap_err()
            .field,
            "taskIds[1]"
        );
    }
}
