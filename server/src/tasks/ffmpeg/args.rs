//! [`build_args`]: the ffmpeg command line a [`TaskSpec`] becomes (its shape is in the
//! [module docs](super)), with the video bitrate and the tee muxer's escaping.

use std::fmt::Write as _;
use std::path::Path;

use mprtc::protocol::tasks::{AudioParam, ADAPTION_FILL};

use super::{FfmpegRunner, FPS, GOP};
use crate::tasks::{LocalImage, TaskSpec};

/// Video bitrate for a canvas, in kbit/s: about 0.1 bit per pixel, 300 to 6000.
pub(super) fn video_kbps(width: u32, height: u32) -> u32 {
    let bits = u64::from(width) * u64::from(height) * u64::from(FPS) / 10;
    (bits / 1000).clamp(300, 6000) as u32
}

/// Whether `url` starts with one of `schemes` (given in lower case), ignoring case: a URL's
/// scheme is case-insensitive, so `RTMP://` must not slip past a check for `rtmp://`.
pub(super) fn is_scheme(url: &str, schemes: &[&str]) -> bool {
    let lower = url.to_ascii_lowercase();
    schemes.iter().any(|s| lower.starts_with(s))
}

/// A rectangle of the canvas and the input drawn into it: cropped to fill it, or fitted
/// inside it and centred.
struct Tile {
    input: usize,
    x: u32,
    y: u32,
    w: u32,
    h: u32,
    fill: bool,
}

/// What differs between drawing a user's video and a layout image.
struct TileKind {
    /// The graph label prefix of the scaled input.
    label: char,
    /// Extra scale options when fitting (video encoders want even sizes).
    fit: &'static str,
    /// A pixel format for the scaled input (images keep their alpha).
    format: &'static str,
    /// Extra overlay options (a user's ended stream must not freeze the canvas).
    overlay: &'static str,
}

/// Users' video: labelled `u{k}`, fitted to even sizes, passed over once it ends.
const USER_TILE: TileKind = TileKind {
    label: 'u',
    fit: ":force_divisible_by=2",
    format: "",
    overlay: ":eof_action=pass",
};

/// Layout images: labelled `i{k}`, kept RGBA so transparency shows the canvas.
const IMAGE_TILE: TileKind = TileKind {
    label: 'i',
    fit: "",
    format: ",format=rgba",
    overlay: "",
};

impl Tile {
    /// Appends the filters that scale this tile's input (as tile `k` of its kind) and lay it
    /// over canvas `c{cur}`, yielding `c{cur + 1}`.
    fn overlay(&self, g: &mut String, kind: &TileKind, k: usize, cur: usize) {
        let Self {
            input: i,
            x,
            y,
            w,
            h,
            fill,
        } = self;
        let TileKind {
            label,
            fit,
            format,
            overlay,
        } = kind;
        let next = cur + 1;
        if *fill {
            let _ = write!(
                g,
                ";[{i}:v]scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},setsar=1{format}[{label}{k}]"
            );
            let _ = write!(
                g,
                ";[c{cur}][{label}{k}]overlay=x={x}:y={y}{overlay}[c{next}]"
            );
        } else {
            let _ = write!(
                g,
                ";[{i}:v]scale={w}:{h}:force_original_aspect_ratio=decrease{fit},setsar=1{format}[{label}{k}]"
            );
            let _ = write!(
                g,
                ";[c{cur}][{label}{k}]overlay=x={x}+({w}-w)/2:y={y}+({h}-h)/2{overlay}[c{next}]"
            );
        }
    }
}

/// Escapes a tee muxer slave file name (`av_get_token` rules plus the separators).
pub(super) fn tee_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '\'' | '|' | '[' | ']') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// The ffmpeg argument list (without the program) for `spec`, with `images[i]` the local
/// file of layout image `i`. `Err` for URLs of a scheme the compositor must not open, or a
/// drawn image without its local file.
pub fn build_args(
    spec: &TaskSpec,
    images: &[Option<LocalImage>],
    record: Option<&Path>,
    opts: &FfmpegRunner,
) -> Result<Vec<String>, String> {
    if let Some((input, heard)) = super::copy::passthrough_input(spec) {
        return super::copy::copy_args(spec, input, heard, record, opts);
    }
    let preset = opts.preset.as_str();
    let task = &spec.task;
    let layout = &task.layout;
    let canvas = layout.canvas;
    if !is_scheme(&task.stream_url, &["rtmp://", "rtmps://"]) {
        return Err("streamUrl must be an rtmp:// or rtmps:// URL".to_owned());
    }
    let audio = task.config.audio_param.unwrap_or_default();
    let rw = opts.input_timeout.as_micros().to_string();
    let analyze = opts.input_analyze.as_micros().to_string();
    let mut args: Vec<String> = [
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "error",
        "-progress",
        "pipe:1",
        "-stats_period",
        "0.5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut push = |a: &[&str]| args.extend(a.iter().map(|s| s.to_string()));

    // Inputs: users in layout order (each input once), then images, canvas, silence.
    struct Drawn {
        tile: Tile,
        z: i32,
        order: usize,
    }
    let mut drawn = Vec::new();
    let mut heard = Vec::new();
    let mut next = 0usize;
    for (order, u) in layout.users.iter().enumerate() {
        if !(u.push_video || u.push_audio) {
            continue;
        }
        let Some(input) = spec.inputs.iter().find(|i| i.uid == u.uid) else {
            continue;
        };
        if !is_scheme(&input.url, &["rtmp://", "rtmps://"]) {
            return Err(format!("input of uid {} is not an RTMP URL", u.uid));
        }
        let idx = next;
        next += 1;
        push(&[
            "-protocol_whitelist",
            "rtmp,rtmps,tcp,tls",
            "-f",
            "flv",
            "-rw_timeout",
            &rw,
            "-analyzeduration",
            &analyze,
            "-thread_queue_size",
            "512",
            "-i",
            &input.url,
        ]);
        if u.push_video && u.width > 0 && u.height > 0 {
            drawn.push(Drawn {
                tile: Tile {
                    input: idx,
                    x: u.x,
                    y: u.y,
                    w: u.width,
                    h: u.height,
                    fill: u.adaption == ADAPTION_FILL,
                },
                z: u.z_order,
                order,
            });
        }
        if u.push_audio {
            heard.push(idx);
        }
    }
    drawn.sort_by_key(|d| (d.z, d.order));
    let mut drawn_images = Vec::new();
    for (k, img) in layout.images.iter().enumerate() {
        if img.width == 0 || img.height == 0 {
            continue;
        }
        let Some(Some(local)) = images.get(k) else {
            return Err(format!("layout image {k} was not fetched"));
        };
        let path = local.path.to_str().ok_or("image path is not UTF-8")?;
        drawn_images.push(Tile {
            input: next,
            x: img.x,
            y: img.y,
            w: img.width,
            h: img.height,
            fill: img.adaption == ADAPTION_FILL,
        });
        next += 1;
        push(&[
            "-protocol_whitelist",
            "file",
            "-f",
            "image2",
            "-pattern_type",
            "none",
            "-c:v",
            local.format.decoder(),
            "-i",
            path,
        ]);
    }
    let bg = next;
    let silence = next + 1;
    let color = format!(
        "color=c=0x{:06X}:s={}x{}:r={FPS}",
        canvas.color & 0xFF_FFFF,
        canvas.width,
        canvas.height
    );
    let layout_name = if audio.channels == 1 {
        "mono"
    } else {
        "stereo"
    };
    let anull = format!("anullsrc=r={}:cl={layout_name}", audio.sample_rate);
    push(&["-re", "-f", "lavfi", "-i", &color]);
    push(&["-re", "-f", "lavfi", "-i", &anull]);

    // Video graph.
    let mut g = String::new();
    let _ = write!(g, "[{bg}:v]setsar=1[c0]");
    // Each tile lays canvas `c{cur}` under it and yields `c{cur + 1}`: users by z order,
    // then images on top.
    let mut cur = 0usize;
    for (k, d) in drawn.iter().enumerate() {
        d.tile.overlay(&mut g, &USER_TILE, k, cur);
        cur += 1;
    }
    for (k, t) in drawn_images.iter().enumerate() {
        t.overlay(&mut g, &IMAGE_TILE, k, cur);
        cur += 1;
    }
    let _ = write!(g, ";[c{cur}]format=yuv420p[vout]");

    // Audio graph.
    let aformat = format!(
        "aresample={},aformat=sample_fmts=fltp:channel_layouts={layout_name}",
        audio.sample_rate
    );
    // The silent source is always mixed in first: it never ends, so the output has audio
    // from the start and keeps it while members come and go (`duration=first`), and no
    // member's level is scaled down by the mix (`normalize=0`).
    if heard.is_empty() {
        let _ = write!(g, ";[{silence}:a]{aformat}[aout]");
    } else {
        let _ = write!(g, ";[{silence}:a]");
        for i in &heard {
            let _ = write!(g, "[{i}:a]");
        }
        let _ = write!(
            g,
            "amix=inputs={}:duration=first:dropout_transition=0:normalize=0,{aformat}[aout]",
            heard.len() + 1
        );
    }

    // x264 tuned for live: a fixed GOP with no scene-cut key frames, so players
    // joining mid-stream wait at most one GOP, and a capped rate a CDN ingest accepts.
    let vk = video_kbps(canvas.width, canvas.height);
    let (vb, vbuf) = (format!("{vk}k"), format!("{}k", vk * 2));
    let gop = GOP.to_string();
    let ab = format!("{}k", audio_bitrate(&audio));
    let ar = audio.sample_rate.to_string();
    let ac = audio.channels.max(1).to_string();
    push(&["-filter_complex", &g, "-map", "[vout]", "-map", "[aout]"]);
    push(&[
        "-c:v",
        "libx264",
        "-preset",
        preset,
        "-tune",
        "zerolatency",
        "-profile:v",
        "main",
        "-pix_fmt",
        "yuv420p",
        "-g",
        &gop,
        "-keyint_min",
        &gop,
        "-sc_threshold",
        "0",
        "-b:v",
        &vb,
        "-maxrate",
        &vb,
        "-bufsize",
        &vbuf,
    ]);
    // codecProfile 1 (HE-AAC) is encoded as LC: see the module docs.
    push(&["-c:a", "aac", "-b:a", &ab, "-ar", &ar, "-ac", &ac]);
    outputs(&mut args, &task.stream_url, record)?;
    Ok(args)
}

/// Appends the outputs: the push, or the push and the recording through one tee.
pub(super) fn outputs(
    args: &mut Vec<String>,
    url: &str,
    record: Option<&Path>,
) -> Result<(), String> {
    let mut push = |a: &[&str]| args.extend(a.iter().map(|s| s.to_string()));
    match record {
        None => push(&["-f", "flv", url]),
        Some(file) => {
            let file = file.to_str().ok_or("recordings path is not UTF-8")?;
            // One encode, two outputs: the push must succeed (`abort`), while a failing
            // recording is dropped without taking the push down (`ignore`).
            let tee = format!(
                "[f=flv:onfail=abort]{}|[f=flv:onfail=ignore]{}",
                tee_escape(url),
                tee_escape(file)
            );
            push(&["-flags:v", "+global_header", "-flags:a", "+global_header"]);
            push(&["-f", "tee", &tee]);
        }
    }
    Ok(())
}

/// The AAC bitrate in kbit/s: the task's, held to what the encoder does well (10 to 192).
pub(super) fn audio_bitrate(a: &AudioParam) -> u32 {
    a.bit_rate.clamp(10, 192)
}
