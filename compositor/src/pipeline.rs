//! The output half of the pipeline, built once per process and never rebuilt:
//!
//! ```text
//! videotestsrc(live, solid canvas colour) ─ compositor ─ x264enc ─ h264parse ─┐
//!                      members, images ──┘                                    flvmux ─ tee ─ rtmp2sink
//! audiotestsrc(live, silence) ─ audiomixer ─ aac encoder ─ aacparse ───────────┘          └─ filesink (record)
//!            members ──────────┘
//! ```
//!
//! The live canvas and silence sources drive both aggregators, so the output keeps its
//! pace whatever the members do: one that stalls or leaves leaves the canvas showing, one
//! that joins is a new pad. Layers are added and changed by [`crate::layers`].

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use gstreamer as gst;
use gstreamer::prelude::*;

use crate::command::{Output, Refusal};

/// Video frames encoded and the running time of the last one, for progress reports.
#[derive(Debug, Default)]
pub struct Counters {
    pub frames: AtomicU64,
    pub out_time_us: AtomicU64,
}

/// The running output: the pipeline, its two aggregators and the canvas colour wanted.
pub struct Base {
    pub pipeline: gst::Pipeline,
    pub compositor: gst::Element,
    pub mixer: gst::Element,
    /// `0xAARRGGBB`; the canvas source takes it between two of its frames (see [`paint`]).
    pub canvas: Arc<AtomicU32>,
    pub counters: Arc<Counters>,
    pub output: Output,
}

/// Makes an element, or says which plugin is missing.
pub fn make(factory: &str) -> Result<gst::Element, Refusal> {
    gst::ElementFactory::make(factory).build().map_err(|_| {
        Refusal::new(
            "unsupported",
            "engine",
            format!("GStreamer element {factory} is not installed"),
        )
    })
}

/// A refusal for a pipeline that could not be put together (a GStreamer bug, not input).
pub fn broken(what: &str, e: impl std::fmt::Display) -> Refusal {
    Refusal::new("start_failed", "engine", format!("{what}: {e}"))
}

/// `0xRRGGBB` as videotestsrc's opaque `0xAARRGGBB`.
pub fn argb(rgb: u32) -> u32 {
    0xFF00_0000 | (rgb & 0xFF_FFFF)
}

/// Whether this GStreamer can encode HE-AAC (fdk-aac's encoder; Debian ships none).
pub fn he_aac_available() -> bool {
    gst::ElementFactory::find("fdkaacenc").is_some()
}

fn add_linked(p: &gst::Pipeline, chain: &[&gst::Element]) -> Result<(), Refusal> {
    // Elements already in the pipeline (a shared aggregator or tee) are only linked.
    let new = chain.iter().copied().filter(|e| e.parent().is_none());
    p.add_many(new).map_err(|e| broken("add", e))?;
    gst::Element::link_many(chain.iter().copied()).map_err(|e| broken("link", e))
}

fn caps_filter(caps: gst::Caps) -> Result<gst::Element, Refusal> {
    let f = make("capsfilter")?;
    f.set_property("caps", caps);
    Ok(f)
}

impl Base {
    /// Builds the output half for `output` (checked) and sets it playing.
    pub fn build(output: &Output, canvas_rgb: u32) -> Result<Self, Refusal> {
        output.check()?;
        if output.audio.he_aac && !he_aac_available() {
            return Err(Refusal::new(
                "unsupported",
                "output.audio.he_aac",
                "no HE-AAC encoder (fdkaacenc) in this GStreamer",
            ));
        }
        let p = gst::Pipeline::with_name("task");
        let fps = gst::Fraction::new(output.fps as i32, 1);
        let (w, h) = (output.width as i32, output.height as i32);

        // Video: canvas → compositor → encoder.
        let canvas = make("videotestsrc")?;
        canvas.set_property("is-live", true);
        canvas.set_property_from_str("pattern", "solid-color");
        canvas.set_property("foreground-color", argb(canvas_rgb));
        // The canvas and the composed picture: the output's size, rate and format.
        let raw_video = gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .field("width", w)
            .field("height", h)
            .field("framerate", fps)
            .build();
        let canvas_caps = caps_filter(raw_video.clone())?;
        let compositor = make("compositor")?;
        let out_caps = caps_filter(raw_video)?;
        let x264 = make("x264enc")?;
        x264.set_property("bitrate", output.video_kbps);
        x264.set_property_from_str("tune", "zerolatency");
        x264.set_property_from_str("speed-preset", "veryfast");
        // A keyframe every 2 s: a new viewer waits at most that long.
        x264.set_property("key-int-max", output.fps * 2);
        let h264_caps = caps_filter(
            gst::Caps::builder("video/x-h264")
                .field("profile", "main")
                .build(),
        )?;
        let h264parse = make("h264parse")?;
        let vqueue = make("queue")?;
        add_linked(&p, &[&canvas, &canvas_caps])?;
        add_linked(
            &p,
            &[
                &compositor,
                &out_caps,
                &x264,
                &h264_caps,
                &h264parse,
                &vqueue,
            ],
        )?;
        let cpad = compositor
            .request_pad_simple("sink_%u")
            .ok_or_else(|| broken("compositor", "no pad"))?;
        cpad.set_property("zorder", 0u32);
        canvas_caps
            .static_pad("src")
            .ok_or_else(|| broken("canvas", "no pad"))?
            .link(&cpad)
            .map_err(|e| broken("canvas link", e))?;

        // Audio: silence → mixer → encoder.
        let a = &output.audio;
        let raw_audio = gst::Caps::builder("audio/x-raw")
            .field("rate", a.rate as i32)
            .field("channels", a.channels as i32)
            .build();
        let silence = make("audiotestsrc")?;
        silence.set_property("is-live", true);
        silence.set_property_from_str("wave", "silence");
        let silence_caps = caps_filter(raw_audio.clone())?;
        let mixer = make("audiomixer")?;
        let mix_caps = caps_filter(raw_audio)?;
        let aconv = make("audioconvert")?;
        let aenc = if a.he_aac {
            make("fdkaacenc")?
        } else {
            make("avenc_aac")?
        };
        aenc.set_property("bitrate", (a.kbps * 1000) as i32);
        let aac_caps = caps_filter(
            gst::Caps::builder("audio/mpeg")
                .field("mpegversion", 4i32)
                .build(),
        )?;
        let aacparse = make("aacparse")?;
        let aqueue = make("queue")?;
        add_linked(&p, &[&silence, &silence_caps, &mixer])?;
        add_linked(
            &p,
            &[
                &mixer, &mix_caps, &aconv, &aenc, &aac_caps, &aacparse, &aqueue,
            ],
        )?;

        // Mux and outputs.
        let mux = make("flvmux")?;
        mux.set_property("streamable", true);
        let tee = make("tee")?;
        p.add_many([&mux, &tee]).map_err(|e| broken("add", e))?;
        vqueue
            .link_pads(None, &mux, Some("video"))
            .map_err(|e| broken("mux video", e))?;
        aqueue
            .link_pads(None, &mux, Some("audio"))
            .map_err(|e| broken("mux audio", e))?;
        mux.link(&tee).map_err(|e| broken("tee", e))?;
        let q = make("queue")?;
        let sink = make("rtmp2sink")?;
        sink.set_property("location", &output.url);
        add_linked(&p, &[&tee, &q, &sink])?;
        if let Some(path) = &output.record {
            let q = make("queue")?;
            let file = make("filesink")?;
            file.set_property("location", path);
            // The recording is written as it comes, not paced by the clock.
            file.set_property("sync", false);
            add_linked(&p, &[&tee, &q, &file])?;
        }

        let counters = Arc::new(Counters::default());
        count_frames(&out_caps, counters.clone());
        let wanted = Arc::new(AtomicU32::new(argb(canvas_rgb)));
        paint(&canvas, wanted.clone());
        p.set_state(gst::State::Playing)
            .map_err(|e| broken("play", e))?;
        Ok(Self {
            pipeline: p,
            compositor,
            mixer,
            canvas: wanted,
            counters,
            output: output.clone(),
        })
    }
}

/// Gives the canvas source the wanted colour from its own streaming thread, between two
/// frames: videotestsrc reuses a rendered solid frame, and changing its colour from another
/// thread while it copies that frame crashed it (SIGSEGV in `gst_video_frame_copy`, seen in our
/// tests under load).
fn paint(canvas: &gst::Element, wanted: Arc<AtomicU32>) {
    let Some(pad) = canvas.static_pad("src") else {
        return;
    };
    let applied = AtomicU32::new(wanted.load(Relaxed));
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, _| {
        let w = wanted.load(Relaxed);
        if applied.swap(w, Relaxed) != w {
            if let Some(src) = pad.parent_element() {
                src.set_property("foreground-color", w);
            }
        }
        gst::PadProbeReturn::Ok
    });
}

/// Counts composed frames and keeps the last one's running time (the encoder offsets its
/// timestamps, so they are read before it).
fn count_frames(parse: &gst::Element, counters: Arc<Counters>) {
    let Some(pad) = parse.static_pad("src") else {
        return;
    };
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(gst::PadProbeData::Buffer(b)) = &info.data {
            counters.frames.fetch_add(1, Relaxed);
            if let Some(t) = b.pts() {
                counters.out_time_us.fetch_max(t.useconds(), Relaxed);
            }
        }
        gst::PadProbeReturn::Ok
    });
}
