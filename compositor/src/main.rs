//! `mprtc-compositor`: composes one push task live, as its own process.
//!
//! The server's task supervisor starts it, writes [`command::Command`]s as JSON lines to
//! its stdin and reads [`command::Event`]s from its stdout; stderr is its log. Layout
//! changes go to the running pipeline (no restart, no gap, one recording file); a crash
//! here is a restart there, never a crash of the server, and the server never links
//! GStreamer.
//!
//! `mprtc-compositor --capabilities` prints what this GStreamer can do (`{"he_aac":false}`)
//! and exits.

mod command;
mod layers;
mod pipeline;

use std::io::{BufRead, Read, Write};
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;

use command::{Command, Event, Refusal, MAX_LINE};
use layers::Layers;
use pipeline::Base;

/// How often progress is reported (the supervisor's stall detection reads it).
const PROGRESS_EVERY: Duration = Duration::from_millis(500);
/// How long a stop waits for the streams to end cleanly before tearing down.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// Writes one event line to stdout. A closed stdout (the server went away) ends the process
/// at its next read of stdin.
fn emit(ev: &Event) {
    if let Ok(line) = serde_json::to_string(ev) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

fn refuse(r: &Refusal) -> ExitCode {
    eprintln!("refused: {} ({}): {}", r.code, r.field, r.detail);
    emit(&Event::Error {
        code: r.code,
        field: Some(&r.field),
        detail: &r.detail,
    });
    ExitCode::from(2)
}

/// What the stdin reader hands the main loop.
enum Input {
    Line(Result<Command, Refusal>),
    /// stdin closed: the server is gone or done.
    Closed,
}

/// Reads stdin lines of at most [`MAX_LINE`] bytes into a bounded channel.
fn read_commands() -> Receiver<Input> {
    let (tx, rx) = sync_channel(8);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        loop {
            let mut buf = Vec::new();
            let n = (&mut stdin)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut buf);
            let msg = match n {
                Ok(0) | Err(_) => Input::Closed,
                Ok(_) if buf.len() > MAX_LINE => Input::Line(Err(Refusal::new(
                    "bad_command",
                    "line",
                    format!("longer than {MAX_LINE} bytes"),
                ))),
                Ok(_) => Input::Line(
                    std::str::from_utf8(&buf)
                        .map_err(|_| Refusal::new("bad_command", "line", "not UTF-8"))
                        .and_then(command::parse),
                ),
            };
            let closed = matches!(msg, Input::Closed);
            if tx.send(msg).is_err() || closed {
                return;
            }
        }
    });
    rx
}

fn main() -> ExitCode {
    if let Err(e) = gst::init() {
        eprintln!("GStreamer: {e}");
        return ExitCode::from(3);
    }
    if std::env::args().nth(1).as_deref() == Some("--capabilities") {
        println!("{{\"he_aac\":{}}}", pipeline::he_aac_available());
        return ExitCode::SUCCESS;
    }
    let rx = read_commands();
    let (output, scene) = match rx.recv() {
        Ok(Input::Line(Ok(Command::Start { output, scene }))) => (output, scene),
        Ok(Input::Line(Err(r))) => return refuse(&r),
        Ok(Input::Line(Ok(_))) => {
            return refuse(&Refusal::new(
                "bad_command",
                "cmd",
                "the first command must be start",
            ))
        }
        _ => return ExitCode::SUCCESS,
    };
    if let Err(r) = scene.check() {
        return refuse(&r);
    }
    let base = match Base::build(&output, scene.canvas) {
        Ok(b) => b,
        Err(r) => return refuse(&r),
    };
    let mut layers = Layers::default();
    if let Err(r) = layers.apply(&base, &scene) {
        return refuse(&r);
    }
    emit(&Event::Applied { seq: 0 });
    let code = run(&base, &mut layers, &rx);
    let _ = base.pipeline.set_state(gst::State::Null);
    code
}

/// The main loop: commands, bus messages, lost members, progress. Returns the exit code.
fn run(base: &Base, layers: &mut Layers, rx: &Receiver<Input>) -> ExitCode {
    let Some(bus) = base.pipeline.bus() else {
        return ExitCode::from(3);
    };
    let mut seq = 0u64;
    let mut next_progress = Instant::now();
    loop {
        while let Some(msg) = bus.pop() {
            if let gst::MessageView::Error(e) = msg.view() {
                let why = e.error().to_string();
                let src = msg.src();
                if let Some(uid) = src.and_then(|s| layers.lose(s, &why)) {
                    emit(&Event::InputLost { uid, detail: &why });
                    continue;
                }
                // From a layer already removed (no longer in the pipeline): its last words.
                if src.is_some_and(|s| !s.has_as_ancestor(&base.pipeline)) {
                    eprintln!("error from a removed layer ignored: {why}");
                    continue;
                }
                let name = src.map(|s| s.name().to_string()).unwrap_or_default();
                eprintln!("error from {name}: {why} ({:?})", e.debug());
                let code = if name.starts_with("filesink") {
                    "record_failed"
                } else {
                    "output_failed"
                };
                emit(&Event::Error {
                    code,
                    field: None,
                    detail: &format!("{name}: {why}"),
                });
                return ExitCode::from(1);
            }
        }
        for (uid, why) in layers.revive(base) {
            eprintln!("member {uid} read again after: {why}");
        }
        if Instant::now() >= next_progress {
            next_progress += PROGRESS_EVERY;
            emit(&Event::Progress {
                frames: base.counters.frames.load(Relaxed),
                out_time_us: base.counters.out_time_us.load(Relaxed),
            });
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Input::Line(Ok(Command::Scene { scene }))) => {
                seq += 1;
                if let Err(r) = layers.apply(base, &scene) {
                    return refuse(&r);
                }
                eprintln!("scene {seq} applied");
                emit(&Event::Applied { seq });
            }
            Ok(Input::Line(Ok(Command::Start { .. }))) => {
                return refuse(&Refusal::new("bad_command", "cmd", "already started"))
            }
            Ok(Input::Line(Err(r))) => return refuse(&r),
            Ok(Input::Line(Ok(Command::Stop)))
            | Ok(Input::Closed)
            | Err(RecvTimeoutError::Disconnected) => {
                layers.clear(base);
                finish(base, &bus);
                return ExitCode::SUCCESS;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

/// Ends every stream so the muxer and the recording close cleanly, within [`STOP_GRACE`].
fn finish(base: &Base, bus: &gst::Bus) {
    base.pipeline.send_event(gst::event::Eos::new());
    let grace = gst::ClockTime::from_mseconds(STOP_GRACE.as_millis() as u64);
    // The end reached the sinks, or an error, or the grace is over: either way, done.
    let _ = bus.timed_pop_filtered(grace, &[gst::MessageType::Eos, gst::MessageType::Error]);
}
