//! What the server says to the compositor, one JSON object per line on stdin, and what the
//! compositor answers on stdout.
//!
//! The first line is a [`Command::Start`]: the output (destination, recording, picture and
//! sound parameters, fixed for the process's life) and the first [`Scene`]. Every later
//! [`Command::Scene`] replaces the whole scene (members, images, canvas colour) while the
//! output keeps flowing; a change of the output is a new process (the server restarts it).
//! [`Command::Stop`] (or the end of stdin) finishes the streams cleanly and exits.
//!
//! Every field is checked before anything is built: a bad value is an [`Refusal`] naming
//! the field, never a silently changed parameter.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Longest command line read from stdin (a scene of the hub's largest layout fits well).
pub const MAX_LINE: usize = 256 * 1024;
/// Most members and images in one scene (the hub's layout limits are lower).
pub const MAX_LAYERS: usize = 64;

/// One line from the server.
#[derive(Debug, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Builds the pipeline: the output, then the first scene.
    Start { output: Output, scene: Scene },
    /// The new scene, applied to the running output.
    Scene { scene: Scene },
    /// Ends the streams (the recording is closed cleanly) and exits.
    Stop,
}

/// The composed stream: where it goes and how it is encoded.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// RTMP destination (`rtmp://` or `rtmps://`).
    pub url: String,
    /// The FLV file that also receives the stream, if the task records.
    pub record: Option<PathBuf>,
    /// Canvas size in pixels.
    pub width: u32,
    pub height: u32,
    /// Output frames per second.
    pub fps: u32,
    /// Video bitrate in kbit/s.
    pub video_kbps: u32,
    /// Audio encoding.
    pub audio: Audio,
}

/// Audio encoding parameters (the task's `audioParam`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audio {
    /// Sample rate in Hz.
    pub rate: u32,
    /// 1 or 2.
    pub channels: u32,
    /// Bitrate in kbit/s.
    pub kbps: u32,
    /// HE-AAC (`codecProfile` 1) instead of AAC-LC.
    pub he_aac: bool,
}

/// Everything drawn and heard; replaced whole by each scene command.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scene {
    /// Canvas colour, `0xRRGGBB`.
    pub canvas: u32,
    /// Live members composed, by uid.
    pub members: Vec<Member>,
    /// Layout images, drawn as still pictures.
    pub images: Vec<Image>,
}

/// One live member: its stream, where it is drawn (if it is) and whether it is heard.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Any u64 (read as an integer, never through a float).
    pub uid: u64,
    /// The server's own signed RTMP play URL of the member.
    pub url: String,
    /// `None`: not drawn.
    pub video: Option<Rect>,
    /// Mixed into the sound.
    pub audio: bool,
}

/// A layout image: a local file the server fetched, of a known format.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub path: PathBuf,
    pub format: ImageFormat,
    pub rect: Rect,
}

/// Which decoder opens an image (no content sniffing here: the server sniffed it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Png,
    Jpeg,
}

/// Where a layer is drawn and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// Stacking rank above the canvas (0); higher is on top.
    pub z: u32,
    /// Fill the rectangle, cropping the picture (else fit it, canvas around).
    pub fill: bool,
}

/// A command that cannot be carried out as asked, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// Stable code: `bad_command`, `bad_value` or `unsupported`.
    pub code: &'static str,
    /// The field at fault (`output.audio.he_aac`, `scene.members[2].url`, ...).
    pub field: String,
    /// What is wrong, for the log.
    pub detail: String,
}

impl Refusal {
    pub fn new(code: &'static str, field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            code,
            field: field.into(),
            detail: detail.into(),
        }
    }
}

/// Reads one command line; a malformed line names no field beyond the line itself.
pub fn parse(line: &str) -> Result<Command, Refusal> {
    serde_json::from_str(line).map_err(|e| Refusal::new("bad_command", "line", e.to_string()))
}

/// A value outside `lo..=hi` is refused, naming `field`.
fn within(field: &str, v: u32, lo: u32, hi: u32) -> Result<(), Refusal> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(Refusal::new(
            "bad_value",
            field,
            format!("{v} is not within {lo}..={hi}"),
        ))
    }
}

/// Only RTMP URLs are read or written: no other protocol can be selected through a URL.
fn rtmp_url(field: &str, url: &str) -> Result<(), Refusal> {
    let ok = (url.starts_with("rtmp://") || url.starts_with("rtmps://"))
        && !url.chars().any(|c| c.is_control() || c == ' ');
    if ok {
        Ok(())
    } else {
        Err(Refusal::new("bad_value", field, "not an rtmp:// URL"))
    }
}

impl Output {
    /// Checks every parameter against what the pipeline can encode.
    pub fn check(&self) -> Result<(), Refusal> {
        rtmp_url("output.url", &self.url)?;
        // Even sizes: the encoder's 4:2:0 chroma needs them.
        within("output.width", self.width, 16, 3840)?;
        within("output.height", self.height, 16, 2160)?;
        if self.width % 2 == 1 || self.height % 2 == 1 {
            return Err(Refusal::new("bad_value", "output.width", "odd canvas size"));
        }
        within("output.fps", self.fps, 1, 60)?;
        within("output.video_kbps", self.video_kbps, 10, 20_000)?;
        let a = &self.audio;
        if ![32_000, 44_100, 48_000].contains(&a.rate) {
            return Err(Refusal::new(
                "bad_value",
                "output.audio.rate",
                format!("{} Hz is not 32000, 44100 or 48000", a.rate),
            ));
        }
        within("output.audio.channels", a.channels, 1, 2)?;
        within("output.audio.kbps", a.kbps, 10, 192)?;
        Ok(())
    }
}

impl Scene {
    /// Checks sizes and URLs; unique uids.
    pub fn check(&self) -> Result<(), Refusal> {
        if self.members.len() + self.images.len() > MAX_LAYERS {
            return Err(Refusal::new("bad_value", "scene", "too many layers"));
        }
        within("scene.canvas", self.canvas, 0, 0xFF_FFFF)?;
        for (i, m) in self.members.iter().enumerate() {
            rtmp_url(&format!("scene.members[{i}].url"), &m.url)?;
            if self.members[..i].iter().any(|o| o.uid == m.uid) {
                return Err(Refusal::new(
                    "bad_value",
                    format!("scene.members[{i}].uid"),
                    "uid listed twice",
                ));
            }
            if let Some(r) = &m.video {
                r.check(&format!("scene.members[{i}].video"))?;
            }
        }
        for (i, img) in self.images.iter().enumerate() {
            img.rect.check(&format!("scene.images[{i}].rect"))?;
        }
        Ok(())
    }
}

impl Rect {
    fn check(&self, field: &str) -> Result<(), Refusal> {
        within(&format!("{field}.x"), self.x, 0, 8192)?;
        within(&format!("{field}.y"), self.y, 0, 8192)?;
        within(&format!("{field}.width"), self.width, 1, 8192)?;
        within(&format!("{field}.height"), self.height, 1, 8192)?;
        within(&format!("{field}.z"), self.z, 1, 10_000)
    }
}

/// One line to the server.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event<'a> {
    /// Video frames encoded so far and the output clock (running time of the last frame).
    Progress { frames: u64, out_time_us: u64 },
    /// A scene command was applied (its sequence number, counting from the start's scene, 0).
    Applied { seq: u64 },
    /// A member's stream ended or failed; it is drawn again once it can be read.
    InputLost { uid: u64, detail: &'a str },
    /// The process stops: a refused command or a failed output.
    Error {
        code: &'a str,
        field: Option<&'a str>,
        detail: &'a str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(extra: &str) -> String {
        format!(
            r#"{{"cmd":"start","output":{{"url":"rtmp://h/live/x","record":null,"width":640,"height":360,"fps":30,"video_kbps":800,"audio":{{"rate":48000,"channels":2,"kbps":64,"he_aac":false}}}},"scene":{{"canvas":255,"members":[{extra}],"images":[]}}}}"#
        )
    }

    #[test]
    fn uids_above_2_pow_53_are_exact() {
        let line = start(
            r#"{"uid":18446744073709551615,"url":"rtmp://h/live/r.1","video":null,"audio":true}"#,
        );
        let Command::Start { scene, output } = parse(&line).unwrap() else {
            panic!("not a start")
        };
        output.check().unwrap();
        scene.check().unwrap();
        assert_eq!(scene.members[0].uid, u64::MAX);
        // 2^53 + 1 is the first integer a float cannot hold.
        let line = start(
            r#"{"uid":9007199254740993,"url":"rtmp://h/live/r.1","video":null,"audio":true}"#,
        );
        let Command::Start { scene, .. } = parse(&line).unwrap() else {
            panic!("not a start")
        };
        assert_eq!(scene.members[0].uid, 9_007_199_254_740_993);
    }

    #[test]
    fn bad_values_name_their_field() {
        let line = start(r#"{"uid":1,"url":"file:///etc/passwd","video":null,"audio":true}"#);
        let Command::Start { scene, .. } = parse(&line).unwrap() else {
            panic!("not a start")
        };
        assert_eq!(scene.check().unwrap_err().field, "scene.members[0].url");
        let Command::Start { mut output, .. } = parse(&start("")).unwrap() else {
            panic!("not a start")
        };
        output.audio.rate = 22_050;
        assert_eq!(output.check().unwrap_err().field, "output.audio.rate");
        output.audio.rate = 48_000;
        output.fps = 0;
        assert_eq!(output.check().unwrap_err().field, "output.fps");
        assert_eq!(
            parse("{\"cmd\":\"launch\"}").unwrap_err().code,
            "bad_command"
        );
    }
}
