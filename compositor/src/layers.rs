//! Members and images on the running output: added, moved, restacked and removed while the
//! output keeps flowing.
//!
//! A member is `rtmp2src ! decodebin`; each decoded stream gets its own small chain into a
//! new pad of the compositor (video) or the mixer (audio). Geometry, z-order, visibility and
//! muting are pad properties, changed in place. An image is `filesrc ! pngdec|jpegdec !
//! imagefreeze` into a compositor pad.
//!
//! Timestamps: a member's stream carries its publisher's clock, and the server's media
//! sends a burst (its cache) before real time. [`retime`] maps each stream onto the
//! pipeline's running time: it follows the earliest arrival (so a burst collapses to "now"
//! instead of delaying the member by its length) and re-anchors when a buffer would be
//! late (a stall or a slower publisher clock), plus [`MARGIN`] of jitter slack.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;

use crate::command::{Image, ImageFormat, Member, Rect, Refusal, Scene};
use crate::pipeline::{argb, broken, make, Base};

/// Slack between a buffer's arrival and its running time: absorbs network jitter.
const MARGIN_NS: i64 = 120_000_000;
/// A lost member is read again this long after it was lost.
pub const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// When (and why) a member's stream ended or failed; shared with the streaming threads.
type Lost = Arc<Mutex<Option<(Instant, String)>>>;

/// One member's pads and chains, shared with decodebin's streaming thread.
#[derive(Default)]
struct Pads {
    chain: Vec<gst::Element>,
    vpad: Option<gst::Pad>,
    apad: Option<gst::Pad>,
    crop: Option<gst::Element>,
    video: Option<Rect>,
    audio: bool,
    /// Set once the member is being removed: late pads are not linked.
    gone: bool,
}

/// A member on the output.
struct MemberLayer {
    spec: Member,
    elements: Vec<gst::Element>,
    pads: Arc<Mutex<Pads>>,
    /// When (and why) its stream ended or failed.
    lost: Lost,
}

/// An image on the output.
struct ImageLayer {
    spec: Image,
    elements: Vec<gst::Element>,
    pad: gst::Pad,
    crop: gst::Element,
}

/// Every layer above the canvas.
#[derive(Default)]
pub struct Layers {
    members: HashMap<u64, MemberLayer>,
    images: Vec<ImageLayer>,
}

/// Places a compositor pad (and its crop) for `rect`; `None` hides it.
fn place(pad: &gst::Pad, crop: Option<&gst::Element>, rect: Option<&Rect>) {
    let Some(r) = rect else {
        pad.set_property("alpha", 0.0f64);
        return;
    };
    pad.set_property("xpos", r.x as i32);
    pad.set_property("ypos", r.y as i32);
    pad.set_property("width", r.width as i32);
    pad.set_property("height", r.height as i32);
    pad.set_property("zorder", r.z);
    pad.set_property("alpha", 1.0f64);
    // Fit: scaled inside the rectangle, canvas around it. Fill: cropped to its shape first.
    pad.set_property_from_str(
        "sizing-policy",
        if r.fill { "none" } else { "keep-aspect-ratio" },
    );
    if let Some(c) = crop {
        let ratio = if r.fill {
            gst::Fraction::new(r.width as i32, r.height as i32)
        } else {
            gst::Fraction::new(0, 1)
        };
        c.set_property("aspect-ratio", ratio);
    }
}

/// Maps a stream's timestamps onto the pipeline's running time (see the module docs), and
/// turns its end into `lost` instead of an end of the output pad.
fn retime(pad: &gst::Pad, pipeline: glib::WeakRef<gst::Pipeline>, lost: Option<Lost>) {
    // (offset, last timestamp given): output timestamps only ever grow, even while a burst
    // collapses. (A SIGSEGV inside the compositor element was seen at start, during bursts,
    // before this; not seen since, but not proven to be the cause either.)
    let state: Mutex<(Option<i64>, i64)> = Mutex::new((None, -1));
    pad.add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
        move |_, info| {
            match &mut info.data {
                Some(gst::PadProbeData::Event(ev)) => match ev.type_() {
                    gst::EventType::Segment => {
                        let seg = gst::FormattedSegment::<gst::ClockTime>::new();
                        *ev = gst::event::Segment::new(&seg);
                    }
                    gst::EventType::Eos => {
                        if let Some(l) = &lost {
                            if let Ok(mut l) = l.lock() {
                                l.get_or_insert((Instant::now(), "stream ended".into()));
                            }
                            return gst::PadProbeReturn::Drop;
                        }
                    }
                    _ => {}
                },
                Some(gst::PadProbeData::Buffer(buf)) => {
                    let Some(p) = pipeline.upgrade() else {
                        return gst::PadProbeReturn::Ok;
                    };
                    let now = p.current_running_time().map_or(0, |t| t.nseconds() as i64);
                    let pts = buf.pts().map_or(now, |t| t.nseconds() as i64);
                    let o = now - pts;
                    let Ok(mut st) = state.lock() else {
                        return gst::PadProbeReturn::Ok;
                    };
                    let cur = match st.0 {
                        Some(c) if pts + c >= now => c.min(o),
                        _ => o,
                    };
                    let out = (pts + cur + MARGIN_NS).max(st.1 + 1).max(0);
                    *st = (Some(cur), out);
                    let out = out as u64;
                    let b = buf.make_mut();
                    b.set_pts(gst::ClockTime::from_nseconds(out));
                    b.set_dts(gst::ClockTime::NONE);
                }
                _ => {}
            }
            gst::PadProbeReturn::Ok
        },
    );
}

/// Links a decoded stream of a member into the compositor or the mixer.
fn link_stream(
    base: &Base,
    src: &gst::Pad,
    pads: &Mutex<Pads>,
    lost: &Lost,
) -> Result<(), Refusal> {
    let Some(caps) = src.current_caps().or_else(|| Some(src.query_caps(None))) else {
        return Ok(());
    };
    let kind = caps
        .structure(0)
        .map(|s| s.name().to_string())
        .unwrap_or_default();
    let mut pads = pads.lock().map_err(|_| broken("member", "poisoned"))?;
    if pads.gone {
        return Ok(());
    }
    let p = &base.pipeline;
    let queue = make("queue")?;
    // At most a few buffers wait: old ones are dropped, never the pipeline blocked.
    queue.set_property("max-size-bytes", 0u32);
    queue.set_property("max-size-time", 0u64);
    queue.set_property_from_str("leaky", "downstream");
    let (chain, agg) = if kind.starts_with("video/") {
        queue.set_property("max-size-buffers", 3u32);
        let conv = make("videoconvert")?;
        let crop = make("aspectratiocrop")?;
        pads.crop = Some(crop.clone());
        (vec![queue, conv, crop], &base.compositor)
    } else if kind.starts_with("audio/") {
        queue.set_property("max-size-buffers", 50u32);
        (
            vec![queue, make("audioconvert")?, make("audioresample")?],
            &base.mixer,
        )
    } else {
        return Ok(());
    };
    p.add_many(chain.iter()).map_err(|e| broken("add", e))?;
    gst::Element::link_many(chain.iter()).map_err(|e| broken("link", e))?;
    let sink = agg
        .request_pad_simple("sink_%u")
        .ok_or_else(|| broken("aggregator", "no pad"))?;
    if kind.starts_with("video/") {
        place(&sink, pads.crop.as_ref(), pads.video.as_ref());
        pads.vpad = Some(sink.clone());
    } else {
        sink.set_property("mute", !pads.audio);
        pads.apad = Some(sink.clone());
    }
    let last = chain
        .last()
        .and_then(|e| e.static_pad("src"))
        .ok_or_else(|| broken("chain", "no pad"))?;
    last.link(&sink).map_err(|e| broken("link", e))?;
    let first = chain[0]
        .static_pad("sink")
        .ok_or_else(|| broken("chain", "no pad"))?;
    retime(&first, base.pipeline.downgrade(), Some(lost.clone()));
    for e in &chain {
        let _ = e.sync_state_with_parent();
    }
    src.link(&first).map_err(|e| broken("link", e))?;
    pads.chain.extend(chain);
    Ok(())
}

/// Drops whatever `e` would push from now on: a layer being removed must not push into the
/// aggregator pad released under it (a "not linked" error would end the whole output).
fn cut(e: &gst::Element) {
    if let Some(pad) = e.static_pad("src") {
        pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
            |_, _| gst::PadProbeReturn::Drop,
        );
    }
}

impl MemberLayer {
    fn add(base: &Base, spec: &Member) -> Result<Self, Refusal> {
        let src = make("rtmp2src")?;
        src.set_property("location", &spec.url);
        // A stalled stream ends (then the member is read again) instead of freezing.
        if src.has_property("idle-timeout") {
            src.set_property("idle-timeout", 3u32);
        }
        let decode = make("decodebin")?;
        let pads = Arc::new(Mutex::new(Pads {
            video: spec.video,
            audio: spec.audio,
            ..Pads::default()
        }));
        let lost = Arc::new(Mutex::new(None));
        base.pipeline
            .add_many([&src, &decode])
            .map_err(|e| broken("add", e))?;
        src.link(&decode).map_err(|e| broken("link", e))?;
        let weak = WeakBase::of(base);
        let (p2, l2) = (pads.clone(), lost.clone());
        decode.connect_pad_added(move |_, pad| {
            let Some(b) = weak.upgrade() else { return };
            if let Err(e) = link_stream(&b, pad, &p2, &l2) {
                if let Ok(mut l) = l2.lock() {
                    l.get_or_insert((Instant::now(), e.detail));
                }
            }
        });
        for e in [&decode, &src] {
            let _ = e.sync_state_with_parent();
        }
        Ok(Self {
            spec: spec.clone(),
            elements: vec![src, decode],
            pads,
            lost,
        })
    }

    /// Applies the member's new placement and sound in place.
    fn update(&mut self, spec: &Member) {
        if let Ok(mut p) = self.pads.lock() {
            p.video = spec.video;
            p.audio = spec.audio;
            if let Some(v) = &p.vpad {
                place(v, p.crop.as_ref(), spec.video.as_ref());
            }
            if let Some(a) = &p.apad {
                a.set_property("mute", !spec.audio);
            }
        }
        self.spec = spec.clone();
    }

    /// Releases its pads, stops and removes its elements.
    fn remove(self, base: &Base) {
        let mut all = self.elements;
        if let Ok(mut p) = self.pads.lock() {
            p.gone = true;
            // Nothing more reaches the aggregators from this member (see [`cut`]).
            for e in &p.chain {
                cut(e);
            }
            if let Some(v) = p.vpad.take() {
                base.compositor.release_request_pad(&v);
            }
            if let Some(a) = p.apad.take() {
                base.mixer.release_request_pad(&a);
            }
            all.append(&mut p.chain);
        }
        for e in &all {
            let _ = e.set_state(gst::State::Null);
            let _ = base.pipeline.remove(e);
        }
    }

    fn owns(&self, obj: &gst::Object) -> bool {
        let chain = self
            .pads
            .lock()
            .map(|p| p.chain.clone())
            .unwrap_or_default();
        self.elements.iter().chain(chain.iter()).any(|e| {
            let e = e.upcast_ref::<gst::Object>();
            obj == e || obj.has_as_ancestor(e)
        })
    }
}

/// The parts of [`Base`] that decodebin's streaming thread needs, held weakly.
struct WeakBase {
    pipeline: glib::WeakRef<gst::Pipeline>,
    compositor: glib::WeakRef<gst::Element>,
    mixer: glib::WeakRef<gst::Element>,
    canvas: Arc<std::sync::atomic::AtomicU32>,
    output: crate::command::Output,
    counters: Arc<crate::pipeline::Counters>,
}

impl WeakBase {
    fn of(b: &Base) -> Self {
        Self {
            pipeline: b.pipeline.downgrade(),
            compositor: b.compositor.downgrade(),
            mixer: b.mixer.downgrade(),
            canvas: b.canvas.clone(),
            output: b.output.clone(),
            counters: b.counters.clone(),
        }
    }

    fn upgrade(&self) -> Option<Base> {
        Some(Base {
            pipeline: self.pipeline.upgrade()?,
            compositor: self.compositor.upgrade()?,
            mixer: self.mixer.upgrade()?,
            canvas: self.canvas.clone(),
            output: self.output.clone(),
            counters: self.counters.clone(),
        })
    }
}

impl ImageLayer {
    fn add(base: &Base, spec: &Image) -> Result<Self, Refusal> {
        let src = make("filesrc")?;
        src.set_property("location", &spec.path);
        let dec = make(match spec.format {
            ImageFormat::Png => "pngdec",
            ImageFormat::Jpeg => "jpegdec",
        })?;
        let conv = make("videoconvert")?;
        let freeze = make("imagefreeze")?;
        freeze.set_property("is-live", true);
        let crop = make("aspectratiocrop")?;
        let elements = vec![src, dec, conv, freeze, crop.clone()];
        base.pipeline
            .add_many(elements.iter())
            .map_err(|e| broken("add", e))?;
        gst::Element::link_many(elements.iter()).map_err(|e| broken("link", e))?;
        let pad = base
            .compositor
            .request_pad_simple("sink_%u")
            .ok_or_else(|| broken("compositor", "no pad"))?;
        place(&pad, Some(&crop), Some(&spec.rect));
        let out = crop
            .static_pad("src")
            .ok_or_else(|| broken("image", "no pad"))?;
        out.link(&pad).map_err(|e| broken("link", e))?;
        if let Some(fp) = elements[3].static_pad("src") {
            retime(&fp, base.pipeline.downgrade(), None);
        }
        for e in elements.iter().rev() {
            let _ = e.sync_state_with_parent();
        }
        Ok(Self {
            spec: spec.clone(),
            elements,
            pad,
            crop,
        })
    }

    fn remove(self, base: &Base) {
        cut(&self.crop);
        base.compositor.release_request_pad(&self.pad);
        for e in &self.elements {
            let _ = e.set_state(gst::State::Null);
            let _ = base.pipeline.remove(e);
        }
    }
}

impl Layers {
    /// Makes the output show `scene`: the canvas colour, members and images added, moved
    /// or removed, nothing restarted.
    pub fn apply(&mut self, base: &Base, scene: &Scene) -> Result<(), Refusal> {
        scene.check()?;
        base.canvas
            .store(argb(scene.canvas), std::sync::atomic::Ordering::Relaxed);
        let gone: Vec<u64> = self
            .members
            .iter()
            .filter(|(uid, m)| {
                !scene
                    .members
                    .iter()
                    .any(|s| s.uid == **uid && s.url == m.spec.url)
            })
            .map(|(uid, _)| *uid)
            .collect();
        for uid in gone {
            if let Some(m) = self.members.remove(&uid) {
                m.remove(base);
            }
        }
        for s in &scene.members {
            match self.members.get_mut(&s.uid) {
                Some(m) => m.update(s),
                None => {
                    let m = MemberLayer::add(base, s)?;
                    self.members.insert(s.uid, m);
                }
            }
        }
        // Images: kept where the same file is at the same index, re-placed in place.
        let old = std::mem::take(&mut self.images);
        let mut old: Vec<Option<ImageLayer>> = old.into_iter().map(Some).collect();
        for (i, s) in scene.images.iter().enumerate() {
            let keep = old
                .get_mut(i)
                .and_then(|o| o.take_if(|l| l.spec.path == s.path && l.spec.format == s.format));
            let layer = match keep {
                Some(mut l) => {
                    place(&l.pad, Some(&l.crop), Some(&s.rect));
                    l.spec = s.clone();
                    l
                }
                None => ImageLayer::add(base, s)?,
            };
            self.images.push(layer);
        }
        for l in old.into_iter().flatten() {
            l.remove(base);
        }
        Ok(())
    }

    /// Removes every member (before the end of the streams: their ends are not passed on).
    pub fn clear(&mut self, base: &Base) {
        for (_, m) in self.members.drain() {
            m.remove(base);
        }
    }

    /// A member whose element posted an error on the bus: it is lost (read again later).
    /// Returns its uid if `src` belongs to a member.
    pub fn lose(&self, src: &gst::Object, why: &str) -> Option<u64> {
        let (uid, m) = self.members.iter().find(|(_, m)| m.owns(src))?;
        if let Ok(mut l) = m.lost.lock() {
            l.get_or_insert((Instant::now(), why.to_owned()));
        }
        Some(*uid)
    }

    /// Members lost for at least [`RETRY_AFTER`] are rebuilt (their pads new); returns
    /// the uids and reasons of those rebuilt.
    pub fn revive(&mut self, base: &Base) -> Vec<(u64, String)> {
        let due: Vec<(u64, String)> = self
            .members
            .iter()
            .filter_map(|(uid, m)| {
                let l = m.lost.lock().ok()?;
                let (at, why) = l.as_ref()?;
                (at.elapsed() >= RETRY_AFTER).then(|| (*uid, why.clone()))
            })
            .collect();
        for (uid, _) in &due {
            if let Some(m) = self.members.remove(uid) {
                let spec = m.spec.clone();
                m.remove(base);
                match MemberLayer::add(base, &spec) {
                    Ok(n) => {
                        self.members.insert(*uid, n);
                    }
                    Err(e) => eprintln!("member {uid}: {}", e.detail),
                }
            }
        }
        due
    }
}
