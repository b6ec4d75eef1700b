//! Push tasks (`tasks.rs`), under the NetEase API's camelCase names.

use super::{wire_object, Members};
use crate::protocol::json::ObjOut;
use crate::protocol::tasks::*;

// `{"taskId":"t1","streamUrl":"rtmp://cdn/live/x","record":false,"layout":{...},
// "config":{...}}` plus `hostUid` and `extraInfo` when set. Required: `taskId`, `streamUrl`,
// `layout`. `record` reads as false, `config` as the default config and `extraInfo` as empty
// when absent or `null`. Writing always includes `record` and `config` so the object is
// complete for a reader that does not know the defaults; `extraInfo` is left out when empty.
wire_object!(RtmpTask {
    task_id "taskId": req,
    stream_url "streamUrl": req,
    record: or(false),
    host_uid "hostUid": opt,
    layout: req,
    config: or_default,
    extra_info "extraInfo": omit_empty,
});
impl RtmpTask {
    /// The task's members, for objects that extend a task (the server API's listing).
    pub fn write_fields<'a, 'b>(&self, o: &'a mut ObjOut<'b>) -> &'a mut ObjOut<'b> {
        self.write_members(o)
    }
}

// `{"canvas":{...},"users":[...],"images":[...]}`: `canvas` is required; the lists read as
// empty when absent or `null` (a layout of just a background is valid) and are always written.
wire_object!(Layout {
    canvas: req,
    users: or_default,
    images: or_default,
});

// `{"width":1280,"height":720,"color":16777215}`: width and height are required, `color`
// (decimal RGB, as the NetEase API has it) is black when absent.
wire_object!(Canvas {
    width: req,
    height: req,
    color: or(0),
});

// `{"uid":100,"x":0,"y":0,"width":640,"height":360}` plus `adaption` (fit when absent),
// `zOrder` (0) and `pushAudio` / `pushVideo` (true when absent: listing a user means showing and
// hearing them unless told otherwise). The rectangle is required. All members are written.
wire_object!(LayoutUser {
    uid: req,
    x: req,
    y: req,
    width: req,
    height: req,
    adaption: or(ADAPTION_FIT),
    z_order "zOrder": or(0),
    push_audio "pushAudio": or(true),
    push_video "pushVideo": or(true),
});

// `{"url":"https://example.com/bg.png","x":0,"y":360,"width":480,"height":360}`: all required
// except `adaption`, which is fit when absent.
wire_object!(LayoutImage {
    url: req,
    x: req,
    y: req,
    width: req,
    height: req,
    adaption: or(ADAPTION_FIT),
});

// `{"audioParam":{...},"singleVideoNoTrans":false,"videoFps":30,"videoBitrate":1200}`: all
// optional. No `audioParam` (absent or `null`) lets the compositor choose; it is left out when
// `None` so that stays distinguishable from an explicit `audioParam` of default values. The same
// for the video's frame rate and bit rate: absent, the server picks them.
wire_object!(TaskConfig {
    audio_param "audioParam": opt,
    single_video_no_trans "singleVideoNoTrans": or(false),
    video_fps "videoFps": opt,
    video_bitrate "videoBitrate": opt,
});

// `{"bitRate":64,"channels":2,"codecProfile":0,"sampleRate":48000}`: each member takes its
// [`AudioParam::default`] value when absent, so `{}` is a valid, complete parameter set. The
// ranges are not checked here but in `tasks::check_task`, which can name the broken field.
wire_object!(AudioParam {
    bit_rate "bitRate": or(AudioParam::default().bit_rate),
    channels: or(AudioParam::default().channels),
    codec_profile "codecProfile": or(AudioParam::default().codec_profile),
    sample_rate "sampleRate": or(AudioParam::default().sample_rate),
    single_video_no_trans "singleVideoNoTrans": or(false),
});

// `add-tasks` / `update-tasks` body: `{"rtmpTasks":[{...}]}`, the list required (an empty one
// decodes, and `check_tasks` then refuses it).
wire_object!(TasksReq {
    rtmp_tasks "rtmpTasks": req,
});

// `delete-tasks` body: `{"taskIds":["t1","t2"]}`, the list required.
wire_object!(DeleteTasksReq {
    task_ids "taskIds": req,
});
