//! Push tasks: compose room members into one layout and push it to an RTMP URL. The field
//! names are those of the NetEase API (`taskId`, `streamUrl`, `layout.canvas`, ...), so task
//! objects written for it travel unchanged (`codec/tasks.rs` reads and writes them). Fields
//! not noted otherwise are zero, false or empty when absent; the ids, URL and layout are required.

use crate::prelude::*;
use crate::text::{cat, num};

/// One push task as the app describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpTask {
    pub task_id: String,
    pub stream_url: String,
    pub record: bool,
    /// The uid shown big (kept for compatibility; the layout decides positions).
    pub host_uid: Option<u64>,
    pub layout: Layout,
    pub config: TaskConfig,
    pub extra_info: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub canvas: Canvas,
    pub users: Vec<LayoutUser>,
    pub images: Vec<LayoutImage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
    /// Background colour as a decimal RGB number (`#FFFFFF` is 16777215).
    pub color: u32,
}

/// How a picture fills its rectangle.
pub const ADAPTION_FILL: u8 = 0;
/// Scale to fit inside the rectangle, keeping the aspect ratio (the default).
pub const ADAPTION_FIT: u8 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayoutUser {
    pub uid: u64,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// Absent: [`ADAPTION_FIT`].
    pub adaption: u8,
    pub z_order: i32,
    /// Absent: true.
    pub push_audio: bool,
    /// Absent: true.
    pub push_video: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutImage {
    pub url: String,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// Absent: [`ADAPTION_FIT`].
    pub adaption: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskConfig {
    pub audio_param: Option<AudioParam>,
    /// Push a single user's video without re-encoding (accepted; the compositor decides).
    pub single_video_no_trans: bool,
}

/// Absent fields take the values of [`AudioParam::default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioParam {
    /// kbit/s, 10 to 192.
    pub bit_rate: u32,
    /// 1 (mono) or 2 (stereo).
    pub channels: u8,
    /// 0 AAC-LC, 1 HE-AAC.
    pub codec_profile: u8,
    /// 32000, 44100 or 48000.
    pub sample_rate: u32,
    /// The seed documents this flag inside `audioParam` too; accepted in either place.
    pub single_video_no_trans: bool,
}

impl Default for AudioParam {
    fn default() -> Self {
        Self {
            bit_rate: 64,
            channels: 2,
            codec_profile: 0,
            sample_rate: 48000,
            single_video_no_trans: false,
        }
    }
}

/// `add-tasks` and `update-tasks` bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TasksReq {
    pub rtmp_tasks: Vec<RtmpTask>,
}

/// `delete-tasks` body.
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl TaskFieldError {
    /// "`field` must be `allowed`".
    pub fn message(&self) -> String {
        let mut s = self.field.clone();
        s.push_str(" must be ");
        s.push_str(&self.allowed);
        s
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
            cat(&[
                "a ",
                &schemes.join(" or "),
                " URL of at most ",
                &num(limits::URL_MAX as u64),
                " characters",
            ]),
        ))
    }
}

fn check_rect(p: &str, x: u32, y: u32, w: u32, h: u32, c: Canvas) -> Result<(), TaskFieldError> {
    let (cw, ch) = (u64::from(c.width), u64::from(c.height));
    if w == 0 || w > c.width {
        return Err(bad(
            cat(&[p, ".width"]),
            cat(&["1 to ", &num(cw), " (the canvas width)"]),
        ));
    }
    if h == 0 || h > c.height {
        return Err(bad(
            cat(&[p, ".height"]),
            cat(&["1 to ", &num(ch), " (the canvas height)"]),
        ));
    }
    if x > c.width - w {
        return Err(bad(
            cat(&[p, ".x"]),
            cat(&[
                "0 to ",
                &num(cw - u64::from(w)),
                " so that x + width fits the canvas",
            ]),
        ));
    }
    if y > c.height - h {
        return Err(bad(
            cat(&[p, ".y"]),
            cat(&[
                "0 to ",
                &num(ch - u64::from(h)),
                " so that y + height fits the canvas",
            ]),
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

/// `p[i]`, for paths in errors.
fn indexed(p: &str, i: usize) -> String {
    cat(&[p, "[", &num(i as u64), "]"])
}

/// Check one task; `p` is the path prefix used in errors (e.g. `rtmpTasks[0]`).
pub fn check_task(p: &str, t: &RtmpTask) -> Result<(), TaskFieldError> {
    let at = |field: &str| cat(&[p, field]);
    check_task_id(at(".taskId"), &t.task_id)?;
    check_url(at(".streamUrl"), &t.stream_url, &["rtmp://", "rtmps://"])?;
    let c = t.layout.canvas;
    let even =
        |v: u32| (limits::CANVAS_MIN..=limits::CANVAS_MAX).contains(&v) && v.is_multiple_of(2);
    let range = || {
        cat(&[
            "an even number from ",
            &num(limits::CANVAS_MIN.into()),
            " to ",
            &num(limits::CANVAS_MAX.into()),
        ])
    };
    if !even(c.width) {
        return Err(bad(at(".layout.canvas.width"), range()));
    }
    if !even(c.height) {
        return Err(bad(at(".layout.canvas.height"), range()));
    }
    if c.color > limits::COLOR_MAX {
        return Err(bad(
            at(".layout.canvas.color"),
            "a decimal RGB number from 0 to 16777215",
        ));
    }
    if t.layout.users.len() > limits::USERS_MAX {
        return Err(bad(
            at(".layout.users"),
            cat(&["at most ", &num(limits::USERS_MAX as u64), " users"]),
        ));
    }
    for (i, u) in t.layout.users.iter().enumerate() {
        let q = indexed(&at(".layout.users"), i);
        if t.layout.users[..i].iter().any(|o| o.uid == u.uid) {
            return Err(bad(
                cat(&[&q, ".uid"]),
                "a uid not listed twice in the layout",
            ));
        }
        check_rect(&q, u.x, u.y, u.width, u.height, c)?;
        check_adaption(cat(&[&q, ".adaption"]), u.adaption)?;
        if !(0..=limits::Z_ORDER_MAX).contains(&u.z_order) {
            return Err(bad(
                cat(&[&q, ".zOrder"]),
                cat(&["0 to ", &num(limits::Z_ORDER_MAX as u64)]),
            ));
        }
    }
    if t.layout.images.len() > limits::IMAGES_MAX {
        return Err(bad(
            at(".layout.images"),
            cat(&["at most ", &num(limits::IMAGES_MAX as u64), " images"]),
        ));
    }
    for (i, im) in t.layout.images.iter().enumerate() {
        let q = indexed(&at(".layout.images"), i);
        check_url(cat(&[&q, ".url"]), &im.url, &["http://", "https://"])?;
        check_rect(&q, im.x, im.y, im.width, im.height, c)?;
        check_adaption(cat(&[&q, ".adaption"]), im.adaption)?;
    }
    if let Some(a) = t.config.audio_param {
        let q = |field: &str| cat(&[p, ".config.audioParam", field]);
        let (lo, hi) = limits::BIT_RATE;
        if !(lo..=hi).contains(&a.bit_rate) {
            return Err(bad(
                q(".bitRate"),
                cat(&[&num(lo.into()), " to ", &num(hi.into()), " (kbit/s)"]),
            ));
        }
        if a.channels != 1 && a.channels != 2 {
            return Err(bad(q(".channels"), "1 (mono) or 2 (stereo)"));
        }
        if a.codec_profile > 1 {
            return Err(bad(q(".codecProfile"), "0 (AAC-LC) or 1 (HE-AAC)"));
        }
        if !limits::SAMPLE_RATES.contains(&a.sample_rate) {
            return Err(bad(q(".sampleRate"), "32000, 44100 or 48000"));
        }
    }
    if t.extra_info.len() > limits::EXTRA_INFO_MAX {
        return Err(bad(
            at(".extraInfo"),
            cat(&["at most ", &num(limits::EXTRA_INFO_MAX as u64), " bytes"]),
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
            cat(&[
                "1 to ",
                &num(limits::TASKS_PER_REQUEST_MAX as u64),
                " tasks",
            ]),
        ));
    }
    for (i, t) in req.rtmp_tasks.iter().enumerate() {
        let p = indexed("rtmpTasks", i);
        if req.rtmp_tasks[..i].iter().any(|o| o.task_id == t.task_id) {
            return Err(bad(cat(&[&p, ".taskId"]), "unique within the request"));
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
            cat(&[
                "1 to ",
                &num(limits::TASKS_PER_REQUEST_MAX as u64),
                " task ids",
            ]),
        ));
    }
    for (i, id) in req.task_ids.iter().enumerate() {
        check_task_id(indexed("taskIds", i), id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> RtmpTask {
        crate::protocol::json::FromJson::from_json(&crate::protocol::json::Json::from(serde_json::json!({
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
        })))
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
        let v: RtmpTask = crate::protocol::json::FromJson::from_json(&crate::protocol::json::Json::from(serde_json::json!({
            "taskId": "a", "streamUrl": "rtmp://h/x",
            "layout": {"canvas": {"width": 640, "height": 360}},
            "config": {"audioParam": {"bitRate": 64, "singleVideoNoTrans": false}, "singleVideoNoTrans": true}
        })))
        .unwrap();
        check_task("t", &v).unwrap();
        assert_eq!(v.config.audio_param.unwrap().sample_rate, 48000);
    }

    #[test]
    fn every_boundary() {
        let ok = |f: &dyn Fn(&mut RtmpTask)| {
            let mut t = task();
            f(&mut t);
            check_task("t", &t).map_err(|e| e.message())
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
            e.message(),
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
