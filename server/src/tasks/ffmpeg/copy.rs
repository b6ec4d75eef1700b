//! `singleVideoNoTrans`: one member's video pushed as it is, never decoded or re-encoded
//! (its packets reach the destination bit for bit); the sound is that member's, encoded
//! with the task's audio parameters, or silence when it is not heard.
//!
//! ```text
//! ffmpeg ... -f flv -rw_timeout .. -i <member's signed play URL> [-re -f lavfi -i anullsrc]
//!   -map 0:v -c:v copy -map 0:a|1:a -c:a aac -b:a .. -ar .. -ac .. -f flv|tee <outputs>
//! ```

use std::path::Path;

use super::args::{audio_bitrate, is_scheme, outputs};
use super::FfmpegRunner;
use crate::tasks::{TaskInput, TaskSpec};

/// The member whose video passes through: `hostUid` when it is drawn and live, else the
/// first drawn live user of the layout. `None`: nobody to pass through (then the task is
/// composed like any other).
pub fn passthrough_input(spec: &TaskSpec) -> Option<(&TaskInput, bool)> {
    let t = &spec.task;
    if !(t.config.single_video_no_trans
        || t.config
            .audio_param
            .is_some_and(|a| a.single_video_no_trans))
    {
        return None;
    }
    let drawn = |uid: u64| {
        t.layout
            .users
            .iter()
            .find(|u| u.uid == uid && u.push_video)
            .and_then(|u| Some((spec.inputs.iter().find(|i| i.uid == uid)?, u.push_audio)))
    };
    t.host_uid.and_then(drawn).or_else(|| {
        t.layout
            .users
            .iter()
            .filter(|u| u.push_video)
            .find_map(|u| drawn(u.uid))
    })
}

/// The argument list of a passthrough push (see the module docs).
pub(super) fn copy_args(
    spec: &TaskSpec,
    input: &TaskInput,
    heard: bool,
    record: Option<&Path>,
    opts: &FfmpegRunner,
) -> Result<Vec<String>, String> {
    if !is_scheme(&input.url, &["rtmp://", "rtmps://"]) {
        return Err(format!("input of uid {} is not an RTMP URL", input.uid));
    }
    let audio = spec.task.config.audio_param.unwrap_or_default();
    let rw = opts.input_timeout.as_micros().to_string();
    let analyze = opts.input_analyze.as_micros().to_string();
    let mut args: Vec<String> = Vec::new();
    let mut push = |a: &[&str]| args.extend(a.iter().map(|s| s.to_string()));
    push(&["-hide_banner", "-nostats", "-loglevel", "error"]);
    push(&["-progress", "pipe:1", "-stats_period", "0.5"]);
    push(&["-protocol_whitelist", "rtmp,rtmps,tcp,tls", "-f", "flv"]);
    push(&[
        "-rw_timeout",
        &rw,
        "-analyzeduration",
        &analyze,
        "-i",
        &input.url,
    ]);
    let layout = if audio.channels == 1 {
        "mono"
    } else {
        "stereo"
    };
    let sound = if heard {
        "0:a"
    } else {
        let anull = format!("anullsrc=r={}:cl={layout}", audio.sample_rate);
        push(&["-re", "-f", "lavfi", "-i", &anull]);
        "1:a"
    };
    let ab = format!("{}k", audio_bitrate(&audio));
    let ar = audio.sample_rate.to_string();
    let ac = audio.channels.max(1).to_string();
    push(&["-map", "0:v", "-c:v", "copy", "-map", sound]);
    push(&["-c:a", "aac", "-b:a", &ab, "-ar", &ar, "-ac", &ac]);
    outputs(&mut args, &spec.task.stream_url, record)?;
    Ok(args)
}
