//! Push tasks (`tasks.rs`), under the NetEase API's camelCase names.

use crate::prelude::*;
use crate::protocol::json::{DecodeError, Fields, FromJson, Json, ObjOut, ToJson};
use crate::protocol::tasks::*;

// `{"taskId":"t1","streamUrl":"rtmp://cdn/live/x","record":false,"layout":{...},
// "config":{...}}` plus `hostUid` and `extraInfo` when set. Required: `taskId`, `streamUrl`,
// `layout`. `record` reads as false, `config` as the default config and `extraInfo` as empty
// when absent or `null`. Writing always includes `record` and `config` so the object is
// complete for a reader that does not know the defaults; `extraInfo` is left out when empty.
impl RtmpTask {
    /// The task's members, for objects that extend a task (the server API's listing).
    pub fn write_fields<'a, 'b>(&self, o: &'a mut ObjOut<'b>) -> &'a mut ObjOut<'b> {
        o.field("taskId", &self.task_id)
            .field("streamUrl", &self.stream_url)
            .field("record", &self.record)
            .opt("hostUid", &self.host_uid)
            .field("layout", &self.layout)
            .field("config", &self.config);
        if !self.extra_info.is_empty() {
            o.field("extraInfo", &self.extra_info);
        }
        o
    }
}
impl ToJson for RtmpTask {
    fn write_json(&self, out: &mut String) {
        self.write_fields(&mut ObjOut::start(out)).end()
    }
}
impl FromJson for RtmpTask {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(RtmpTask {
            task_id: f.req("taskId")?,
            stream_url: f.req("streamUrl")?,
            record: f.or("record", false)?,
            host_uid: f.opt("hostUid")?,
            layout: f.req("layout")?,
            config: f.or_default("config")?,
            extra_info: f.or_default("extraInfo")?,
        })
    }
}

// `{"canvas":{...},"users":[...],"images":[...]}`: `canvas` is required; the lists read as
// empty when absent or `null` (a layout of just a background is valid) and are always written.
impl ToJson for Layout {
    fn write_json(&self, out: &mut String) {
        ObjOut::start(out)
            .field("canvas", &self.canvas)
            .field("users", &self.users)
            .field("images", &self.images)
            .end()
    }
}
impl FromJson for Layout {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(Layout {
            canvas: f.req("canvas")?,
            users: f.or_default("users")?,
            images: f.or_default("images")?,
        })
    }
}

// `{"width":1280,"height":720,"color":16777215}`: width and height are required, `color`
// (decimal RGB, as the NetEase API has it) is black when absent.
impl ToJson for Canvas {
    fn write_json(&self, out: &mut String) {
        ObjOut::start(out)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("color", &self.color)
            .end()
    }
}
impl FromJson for Canvas {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(Canvas {
            width: f.req("width")?,
            height: f.req("height")?,
            color: f.or("color", 0)?,
        })
    }
}

// `{"uid":100,"x":0,"y":0,"width":640,"height":360}` plus `adaption` (fit when absent),
// `zOrder` (0) and `pushAudio` / `pushVideo` (true when absent: listing a user means showing and
// hearing them unless told otherwise). The rectangle is required. All members are written.
impl ToJson for LayoutUser {
    fn write_json(&self, out: &mut String) {
        ObjOut::start(out)
            .field("uid", &self.uid)
            .field("x", &self.x)
            .field("y", &self.y)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("adaption", &self.adaption)
            .field("zOrder", &self.z_order)
            .field("pushAudio", &self.push_audio)
            .field("pushVideo", &self.push_video)
            .end()
    }
}
impl FromJson for LayoutUser {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(LayoutUser {
            uid: f.req("uid")?,
            x: f.req("x")?,
            y: f.req("y")?,
            width: f.req("width")?,
            height: f.req("height")?,
            adaption: f.or("adaption", ADAPTION_FIT)?,
            z_order: f.or("zOrder", 0)?,
            push_audio: f.or("pushAudio", true)?,
            push_video: f.or("pushVideo", true)?,
        })
    }
}

// `{"url":"https://example.com/bg.png","x":0,"y":360,"width":480,"height":360}`: all required
// except `adaption`, which is fit when absent.
impl ToJson for LayoutImage {
    fn write_json(&self, out: &mut String) {
        ObjOut::start(out)
            .field("url", &self.url)
            .field("x", &self.x)
            .field("y", &self.y)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("adaption", &self.adaption)
            .end()
    }
}
impl FromJson for LayoutImage {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(LayoutImage {
            url: f.req("url")?,
            x: f.req("x")?,
            y: f.req("y")?,
            width: f.req("width")?,
            height: f.req("height")?,
            adaption: f.or("adaption", ADAPTION_FIT)?,
        })
    }
}

// `{"audioParam":{...},"singleVideoNoTrans":false}`: both optional. No `audioParam` (absent or
// `null`) lets the compositor choose; it is left out when `None` so that stays distinguishable
// from an explicit `audioParam` of default values.
impl ToJson for TaskConfig {
    fn write_json(&self, out: &mut String) {
        ObjOut::start(out)
            .opt("audioParam", &self.audio_param)
            .field("singleVideoNoTrans", &self.single_video_no_trans)
            .end()
    }
}
impl FromJson for TaskConfig {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        Ok(TaskConfig {
            audio_param: f.opt("audioParam")?,
            single_video_no_trans: f.or("singleVideoNoTrans", false)?,
        })
    }
}

// `{"bitRate":64,"channels":2,"codecProfile":0,"sampleRate":48000}`: each member takes its
// [`AudioParam::default`] value when absent, so `{}` is a valid, complete parameter set. The
// ranges are not checked here but in `tasks::check_task`, which can name the broken field.
impl ToJson for AudioParam {
    fn write_json(&self, out: &mut String) {
        ObjOut::start(out)
            .field("bitRate", &self.bit_rate)
            .field("channels", &self.channels)
            .field("codecProfile", &self.codec_profile)
            .field("sampleRate", &self.sample_rate)
            .field("singleVideoNoTrans", &self.single_video_no_trans)
            .end()
    }
}
impl FromJson for AudioParam {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        let f = Fields::of(v)?;
        let d = AudioParam::default();
        Ok(AudioParam {
            bit_rate: f.or("bitRate", d.bit_rate)?,
            channels: f.or("channels", d.channels)?,
            codec_profile: f.or("codecProfile", d.codec_profile)?,
            sample_rate: f.or("sampleRate", d.sample_rate)?,
            single_video_no_trans: f.or("singleVideoNoTrans", false)?,
        })
    }
}

// `add-tasks` / `update-tasks` body: `{"rtmpTasks":[{...}]}`, the list required (an empty one
// decodes, and `check_tasks` then refuses it).
impl ToJson for TasksReq {
    fn write_json(&self, out: &mut String) {
        ObjOut::start(out)
            .field("rtmpTasks", &self.rtmp_tasks)
            .end()
    }
}
impl FromJson for TasksReq {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        Ok(TasksReq {
            rtmp_tasks: Fields::of(v)?.req("rtmpTasks")?,
        })
    }
}

// `delete-tasks` body: `{"taskIds":["t1","t2"]}`, the list required.
impl ToJson for DeleteTasksReq {
    fn write_json(&self, out: &mut String) {
        ObjOut::start(out).field("taskIds", &self.task_ids).end()
    }
}
impl FromJson for DeleteTasksReq {
    fn from_json(v: &Json) -> Result<Self, DecodeError> {
        Ok(DeleteTasksReq {
            task_ids: Fields::of(v)?.req("taskIds")?,
        })
    }
}
