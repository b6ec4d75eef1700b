//! The rules a push task must follow, checked by the SDK before it sends a task and by the
//! server again on arrival. Each check names the first broken field by its JSON path and says
//! what is allowed, so both sides refuse the same things with the same words.

use super::{limits, Canvas, DeleteTasksReq, RtmpTask, TasksReq, ADAPTION_FILL, ADAPTION_FIT};
use crate::prelude::*;
use crate::text::{cat, num};
use core::ops::RangeInclusive;

/// A task field that breaks a rule: which field, and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFieldError {
    /// Path of the field, e.g. `rtmpTasks[0].layout.users[1].width`.
    pub field: String,
    /// What the field must be, phrased to follow "must be", e.g. `1 to 64 letters, digits or '_'`.
    pub allowed: String,
}

impl TaskFieldError {
    /// "`field` must be `allowed`".
    pub fn message(&self) -> String {
        let mut s = self.field.clone();
        s.push_str(" must be ");
        s.push_str(&self.allowed);
        s
    }
}

fn bad(field: String, allowed: impl Into<String>) -> TaskFieldError {
    TaskFieldError {
        field,
        allowed: allowed.into(),
    }
}

/// Check a task id: 1 to [`limits::TASK_ID_MAX`] ASCII letters, digits or `_`, so it is safe
/// in logs, URLs and stream names. `field` is the path to name in the error.
pub fn check_task_id(field: String, id: &str) -> Result<(), TaskFieldError> {
    let ok = !id.is_empty()
        && id.len() <= limits::TASK_ID_MAX
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(bad(field, "1 to 64 letters, digits or '_'"))
    }
}

fn check_url(field: String, url: &str, schemes: &[&str]) -> Result<(), TaskFieldError> {
    let ok = url.len() <= limits::URL_MAX
        && schemes
            .iter()
            .any(|s| url.starts_with(s) && url.len() > s.len())
        && !url
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control());
    if ok {
        Ok(())
    } else {
        Err(bad(
            field,
            cat(&[
                "a ",
                &schemes.join(" or "),
                " URL of at most ",
                &num(limits::URL_MAX as u64),
                " characters",
            ]),
        ))
    }
}

fn check_rect(p: &str, x: u32, y: u32, w: u32, h: u32, c: Canvas) -> Result<(), TaskFieldError> {
    let (cw, ch) = (u64::from(c.width), u64::from(c.height));
    if w == 0 || w > c.width {
        return Err(bad(
            cat(&[p, ".width"]),
            cat(&["1 to ", &num(cw), " (the canvas width)"]),
        ));
    }
    if h == 0 || h > c.height {
        return Err(bad(
            cat(&[p, ".height"]),
            cat(&["1 to ", &num(ch), " (the canvas height)"]),
        ));
    }
    if x > c.width - w {
        return Err(bad(
            cat(&[p, ".x"]),
            cat(&[
                "0 to ",
                &num(cw - u64::from(w)),
                " so that x + width fits the canvas",
            ]),
        ));
    }
    if y > c.height - h {
        return Err(bad(
            cat(&[p, ".y"]),
            cat(&[
                "0 to ",
                &num(ch - u64::from(h)),
                " so that y + height fits the canvas",
            ]),
        ));
    }
    Ok(())
}

fn check_adaption(field: String, a: u8) -> Result<(), TaskFieldError> {
    if a == ADAPTION_FILL || a == ADAPTION_FIT {
        Ok(())
    } else {
        Err(bad(field, "0 (fill) or 1 (fit)"))
    }
}

/// A count of `n` (items, bytes) that must be in `allowed`; the error says "at most 16 users" or
/// "1 to 16 tasks" (`what` is the unit, after a space).
fn check_len(
    field: String,
    n: usize,
    allowed: RangeInclusive<usize>,
    what: &str,
) -> Result<(), TaskFieldError> {
    if allowed.contains(&n) {
        return Ok(());
    }
    let (lo, hi) = (*allowed.start() as u64, *allowed.end() as u64);
    let lead = if lo == 0 {
        "at most ".into()
    } else {
        cat(&[&num(lo), " to "])
    };
    Err(bad(field, cat(&[&lead, &num(hi), what])))
}

/// A list at `field`: its length checked as [`check_len`] does, then each item, given its path
/// (`field[i]`), its index and itself, in order; the first error is the answer.
fn check_list<T>(
    field: &str,
    items: &[T],
    allowed: RangeInclusive<usize>,
    what: &str,
    mut each: impl FnMut(&str, usize, &T) -> Result<(), TaskFieldError>,
) -> Result<(), TaskFieldError> {
    check_len(field.into(), items.len(), allowed, what)?;
    for (i, x) in items.iter().enumerate() {
        each(&indexed(field, i), i, x)?;
    }
    Ok(())
}

/// `p[i]`, for paths in errors.
fn indexed(p: &str, i: usize) -> String {
    cat(&[p, "[", &num(i as u64), "]"])
}

/// Check one task; `p` is the path prefix used in errors (e.g. `rtmpTasks[0]`).
pub fn check_task(p: &str, t: &RtmpTask) -> Result<(), TaskFieldError> {
    let at = |field: &str| cat(&[p, field]);
    check_task_id(at(".taskId"), &t.task_id)?;
    check_url(at(".streamUrl"), &t.stream_url, &["rtmp://", "rtmps://"])?;
    let c = t.layout.canvas;
    let even =
        |v: u32| (limits::CANVAS_MIN..=limits::CANVAS_MAX).contains(&v) && v.is_multiple_of(2);
    let range = || {
        cat(&[
            "an even number from ",
            &num(limits::CANVAS_MIN.into()),
            " to ",
            &num(limits::CANVAS_MAX.into()),
        ])
    };
    if !even(c.width) {
        return Err(bad(at(".layout.canvas.width"), range()));
    }
    if !even(c.height) {
        return Err(bad(at(".layout.canvas.height"), range()));
    }
    if c.color > limits::COLOR_MAX {
        return Err(bad(
            at(".layout.canvas.color"),
            "a decimal RGB number from 0 to 16777215",
        ));
    }
    let (users, n) = (&t.layout.users, 0..=limits::USERS_MAX);
    check_list(&at(".layout.users"), users, n, " users", |q, i, u| {
        if users[..i].iter().any(|o| o.uid == u.uid) {
            return Err(bad(
                cat(&[q, ".uid"]),
                "a uid not listed twice in the layout",
            ));
        }
        check_rect(q, u.x, u.y, u.width, u.height, c)?;
        check_adaption(cat(&[q, ".adaption"]), u.adaption)?;
        if !(0..=limits::Z_ORDER_MAX).contains(&u.z_order) {
            return Err(bad(
                cat(&[q, ".zOrder"]),
                cat(&["0 to ", &num(limits::Z_ORDER_MAX as u64)]),
            ));
        }
        Ok(())
    })?;
    let (images, n) = (&t.layout.images, 0..=limits::IMAGES_MAX);
    check_list(&at(".layout.images"), images, n, " images", |q, _, im| {
        check_url(cat(&[q, ".url"]), &im.url, &["http://", "https://"])?;
        check_rect(q, im.x, im.y, im.width, im.height, c)?;
        check_adaption(cat(&[q, ".adaption"]), im.adaption)
    })?;
    if let Some(a) = t.config.audio_param {
        let q = |field: &str| cat(&[p, ".config.audioParam", field]);
        let (lo, hi) = limits::BIT_RATE;
        if !(lo..=hi).contains(&a.bit_rate) {
            return Err(bad(
                q(".bitRate"),
                cat(&[&num(lo.into()), " to ", &num(hi.into()), " (kbit/s)"]),
            ));
        }
        if a.channels != 1 && a.channels != 2 {
            return Err(bad(q(".channels"), "1 (mono) or 2 (stereo)"));
        }
        if a.codec_profile > 1 {
            return Err(bad(q(".codecProfile"), "0 (AAC-LC) or 1 (HE-AAC)"));
        }
        if !limits::SAMPLE_RATES.contains(&a.sample_rate) {
            return Err(bad(q(".sampleRate"), "32000, 44100 or 48000"));
        }
    }
    let q = |field: &str| cat(&[p, ".config", field]);
    if let Some(fps) = t.config.video_fps {
        let (lo, hi) = limits::VIDEO_FPS;
        if !(lo..=hi).contains(&fps) {
            let range = cat(&[
                &num(lo.into()),
                " to ",
                &num(hi.into()),
                " (frames per second)",
            ]);
            return Err(bad(q(".videoFps"), range));
        }
    }
    if let Some(kbps) = t.config.video_bitrate {
        let (lo, hi) = limits::VIDEO_BIT_RATE;
        if !(lo..=hi).contains(&kbps) {
            let range = cat(&[&num(lo.into()), " to ", &num(hi.into()), " (kbit/s)"]);
            return Err(bad(q(".videoBitrate"), range));
        }
    }
    let n = 0..=limits::EXTRA_INFO_MAX;
    check_len(at(".extraInfo"), t.extra_info.len(), n, " bytes")
}

/// Check an `addTasks` / `updateTasks` request.
pub fn check_tasks(req: &TasksReq) -> Result<(), TaskFieldError> {
    let (tasks, n) = (&req.rtmp_tasks, 1..=limits::TASKS_PER_REQUEST_MAX);
    check_list("rtmpTasks", tasks, n, " tasks", |p, i, t| {
        if tasks[..i].iter().any(|o| o.task_id == t.task_id) {
            return Err(bad(cat(&[p, ".taskId"]), "unique within the request"));
        }
        check_task(p, t)
    })
}

/// Check a `deleteTasks` request.
pub fn check_delete(req: &DeleteTasksReq) -> Result<(), TaskFieldError> {
    let (ids, n) = (&req.task_ids, 1..=limits::TASKS_PER_REQUEST_MAX);
    check_list("taskIds", ids, n, " task ids", |p, _, id| {
        check_task_id(p.into(), id)
    })
}
