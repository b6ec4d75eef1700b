//! What a [`TaskSpec`] asks of `mprtc-compositor`: the output (fixed for a process) and the
//! scene (changed live). The JSON shapes are the compositor's `command` module's.
//!
//! Stacking: the canvas is at the bottom (0); users are ranked by `zOrder` (ties: layout
//! order) from 1; images are above every user, in layout order. `hostUid` is the big
//! picture, as the NetEase guide's "指定大画面uid" says: that user is drawn over the whole
//! canvas, under every other user (its own rectangle is not used).

use std::path::Path;

use mprtc::protocol::tasks::ADAPTION_FILL;
use serde_json::{json, Value};

use crate::tasks::{ImageFormat, LocalImage, TaskSpec};

/// Video bitrate for a canvas at `fps`, in kbit/s: about 0.1 bit per pixel, 300 to 6000.
pub fn video_kbps(width: u32, height: u32, fps: u32) -> u32 {
    let bits = u64::from(width) * u64::from(height) * u64::from(fps) / 10;
    (bits / 1000).clamp(300, 6000) as u32
}

/// The output part of a start command. Two specs with equal outputs can share a process.
/// `fps` is the server's default frame rate: the task's `videoFps` wins over it, and its
/// `videoBitrate` over the bit rate the canvas size gives.
pub fn output(spec: &TaskSpec, record: Option<&Path>, fps: u32) -> Value {
    let t = &spec.task;
    let c = t.layout.canvas;
    let a = t.config.audio_param.unwrap_or_default();
    let fps = t.config.video_fps.unwrap_or(fps);
    let kbps = t
        .config
        .video_bitrate
        .unwrap_or_else(|| video_kbps(c.width, c.height, fps));
    json!({
        "url": t.stream_url,
        "record": record,
        "width": c.width,
        "height": c.height,
        "fps": fps,
        "video_kbps": kbps,
        "audio": {
            "rate": a.sample_rate,
            "channels": a.channels,
            "kbps": a.bit_rate,
            "he_aac": a.codec_profile == 1,
        },
    })
}

fn rect(x: u32, y: u32, w: u32, h: u32, z: usize, adaption: u8) -> Value {
    json!({"x": x, "y": y, "width": w, "height": h, "z": z, "fill": adaption == ADAPTION_FILL})
}

/// The scene: canvas colour, the live members with their stacking, the fetched images.
pub fn scene(spec: &TaskSpec, images: &[Option<LocalImage>]) -> Value {
    let t = &spec.task;
    let canvas = t.layout.canvas;
    let host = t.host_uid;
    // Drawn users in stacking order: the host first (lowest), then by zOrder, layout order.
    let mut order: Vec<(usize, &_)> = t.layout.users.iter().enumerate().collect();
    order.sort_by_key(|(i, u)| (Some(u.uid) != host, u.z_order, *i));
    let mut members = Vec::new();
    let mut z = 0usize;
    for (_, u) in order {
        let Some(input) = spec.inputs.iter().find(|i| i.uid == u.uid) else {
            continue;
        };
        if !(u.push_video || u.push_audio) {
            continue;
        }
        let video = (u.push_video && u.width > 0 && u.height > 0).then(|| {
            z += 1;
            if Some(u.uid) == host {
                rect(0, 0, canvas.width, canvas.height, z, u.adaption)
            } else {
                rect(u.x, u.y, u.width, u.height, z, u.adaption)
            }
        });
        members
            .push(json!({"uid": u.uid, "url": input.url, "video": video, "audio": u.push_audio}));
    }
    let mut imgs = Vec::new();
    for (img, local) in t.layout.images.iter().zip(images) {
        let Some(local) = local else { continue };
        z += 1;
        let format = match local.format {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpeg",
        };
        imgs.push(json!({
            "path": local.path,
            "format": format,
            "rect": rect(img.x, img.y, img.width, img.height, z, img.adaption),
        }));
    }
    json!({"canvas": canvas.color & 0xFF_FFFF, "members": members, "images": imgs})
}
