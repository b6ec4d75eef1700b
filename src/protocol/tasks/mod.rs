//! Push tasks: compose room members into one layout and push it to an RTMP URL. The field
//! names are those of the NetEase API (`taskId`, `streamUrl`, `layout.canvas`, ...), so task
//! objects written for it travel unchanged (`codec/tasks.rs` reads and writes them). Fields
//! not noted otherwise are zero, false or empty when absent; the ids, URL and layout are required.

use crate::prelude::*;

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

mod rules;
pub use rules::{check_delete, check_task, check_task_id, check_tasks, TaskFieldError};

#[cfg(test)]
mod tests;
