//! Push tasks: compose room members into one layout and push it to an RTMP URL. The field
//! names are those of the NetEase API (`taskId`, `streamUrl`, `layout.canvas`, ...), so task
//! objects written for it travel unchanged (`codec/tasks.rs` reads and writes them). Fields
//! not noted otherwise are zero, false or empty when absent; the ids, URL and layout are required.

use crate::prelude::*;

/// One push task as the app describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpTask {
    /// The app's id for the task: 1 to 64 letters, digits or `_`, unique within a request.
    pub task_id: String,
    /// Where to push: an `rtmp://` or `rtmps://` URL.
    pub stream_url: String,
    /// Ask for the pushed stream to be recorded too (the NetEase API's `record`).
    pub record: bool,
    /// The uid shown big (kept for compatibility; the layout decides positions).
    pub host_uid: Option<u64>,
    /// What is shown where.
    pub layout: Layout,
    /// Encoding options.
    pub config: TaskConfig,
    /// Opaque text for the app, carried as is (at most 4096 bytes).
    pub extra_info: String,
}

/// The composition: a canvas, the members on it and still images over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The output picture.
    pub canvas: Canvas,
    /// The members shown, at most 16.
    pub users: Vec<LayoutUser>,
    /// Still images, at most 4.
    pub images: Vec<LayoutImage>,
}

/// The output picture's size and background.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Canvas {
    /// Pixels, even, 16 to 1920.
    pub width: u32,
    /// Pixels, even, 16 to 1920.
    pub height: u32,
    /// Background colour as a decimal RGB number (`#FFFFFF` is 16777215).
    pub color: u32,
}

/// How a picture fills its rectangle.
pub const ADAPTION_FILL: u8 = 0;
/// Scale to fit inside the rectangle, keeping the aspect ratio (the default).
pub const ADAPTION_FIT: u8 = 1;

/// A member's rectangle on the canvas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayoutUser {
    /// Whose video.
    pub uid: u64,
    /// Left edge, pixels from the canvas's left.
    pub x: u32,
    /// Top edge, pixels from the canvas's top.
    pub y: u32,
    /// Width in pixels; the rectangle must fit the canvas.
    pub width: u32,
    /// Height in pixels; the rectangle must fit the canvas.
    pub height: u32,
    /// Absent: [`ADAPTION_FIT`].
    pub adaption: u8,
    /// Stacking order, 0 to 100; higher is drawn on top.
    pub z_order: i32,
    /// Absent: true.
    pub push_audio: bool,
    /// Absent: true.
    pub push_video: bool,
}

/// A still image on the canvas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutImage {
    /// The image, an `http://` or `https://` URL.
    pub url: String,
    /// Left edge, pixels from the canvas's left.
    pub x: u32,
    /// Top edge, pixels from the canvas's top.
    pub y: u32,
    /// Width in pixels; the rectangle must fit the canvas.
    pub width: u32,
    /// Height in pixels; the rectangle must fit the canvas.
    pub height: u32,
    /// Absent: [`ADAPTION_FIT`].
    pub adaption: u8,
}

/// Encoding options of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskConfig {
    /// The output audio; `None` lets the compositor choose.
    pub audio_param: Option<AudioParam>,
    /// Push a single user's video without re-encoding (accepted; the compositor decides).
    pub single_video_no_trans: bool,
    /// Output frames per second (mprtc's field, which ZEGO's `outputFPS` maps onto; NetEase's
    /// tasks have none); `None`: the server's default.
    pub video_fps: Option<u32>,
    /// Output video bit rate in kbit/s (ZEGO's `outputBitrate`); `None`: from the canvas size.
    pub video_bitrate: Option<u32>,
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
    /// The tasks, 1 to 8, task ids unique.
    pub rtmp_tasks: Vec<RtmpTask>,
}

/// `delete-tasks` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteTasksReq {
    /// The ids of the tasks to stop, 1 to 8.
    pub task_ids: Vec<String>,
}

/// Task status codes, as the NetEase API reports them in `rtmp-tasks-status`.
pub const TASK_PUSHING: u16 = 505;
/// The task stopped with an error; the status `msg` says why.
pub const TASK_FAILED: u16 = 506;
/// The task ended.
pub const TASK_ENDED: u16 = 511;

/// Limits a task must respect. Shared by the SDK (checked before sending) and the server
/// (checked again on arrival), so both refuse the same things with the same words.
pub mod limits {
    /// Longest task id, in bytes.
    pub const TASK_ID_MAX: usize = 64;
    /// Longest stream or image URL, in bytes.
    pub const URL_MAX: usize = 1024;
    /// Smallest canvas side, in pixels.
    pub const CANVAS_MIN: u32 = 16;
    /// Largest canvas side, in pixels.
    pub const CANVAS_MAX: u32 = 1920;
    /// Most members in one layout.
    pub const USERS_MAX: usize = 16;
    /// Most images in one layout.
    pub const IMAGES_MAX: usize = 4;
    /// Highest `zOrder`.
    pub const Z_ORDER_MAX: i32 = 100;
    /// Highest background colour (`#FFFFFF`).
    pub const COLOR_MAX: u32 = 0xFF_FF_FF;
    /// Audio bit rate range, kbit/s, inclusive.
    pub const BIT_RATE: (u32, u32) = (10, 192);
    /// Output frame rate range, frames per second, inclusive.
    pub const VIDEO_FPS: (u32, u32) = (1, 60);
    /// Output video bit rate range, kbit/s, inclusive.
    pub const VIDEO_BIT_RATE: (u32, u32) = (10, 20_000);
    /// Accepted audio sample rates, Hz.
    pub const SAMPLE_RATES: [u32; 3] = [32000, 44100, 48000];
    /// Longest `extraInfo`, in bytes.
    pub const EXTRA_INFO_MAX: usize = 4096;
    /// Most tasks in one request.
    pub const TASKS_PER_REQUEST_MAX: usize = 8;
}

mod rules;
pub use rules::{check_delete, check_task, check_task_id, check_tasks, TaskFieldError};

#[cfg(test)]
mod tests;
