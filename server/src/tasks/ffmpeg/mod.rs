//! The ffmpeg compositor: one `ffmpeg` process per task, restarted for every change. In
//! production it runs only `singleVideoNoTrans` (its `copy` module); the live compositor
//! ([`super::LiveRunner`]) composes everything else.
//!
//! Command shape (see [`build_args`]):
//!
//! ```text
//! ffmpeg -hide_banner -nostats -loglevel error -progress pipe:1 -stats_period 0.5
//!   -protocol_whitelist rtmp,rtmps,tcp,tls -f flv -rw_timeout 3000000 -analyzeduration 1000000
//!     -thread_queue_size 512 -i <signed play url of the server's own media>  (per live user drawn or heard)
//!   -protocol_whitelist file -f image2 -pattern_type none -c:v png|mjpeg -i <local file>
//!                                              (one per drawn layout image, fetched by the server)
//!   -re -f lavfi -i color=c=0xRRGGBB:s=WxH:r=15                           (canvas, real-time paced)
//!   -re -f lavfi -i anullsrc=r=<rate>:cl=<mono|stereo>                    (silence, real-time paced)
//!   -filter_complex <graph> -map [vout] -map [aout]
//!   -c:v libx264 -preset veryfast -tune zerolatency -profile:v main -pix_fmt yuv420p
//!     -g 30 -keyint_min 30 -sc_threshold 0 -b:v <k> -maxrate <k> -bufsize <2k>
//!   -c:a aac -b:a <bitRate>k -ar <rate> -ac <channels>
//!   -f flv <streamUrl>
//!   | (record) -flags:v +global_header -flags:a +global_header
//!     -f tee "[f=flv:onfail=abort]<streamUrl>|[f=flv:onfail=ignore]<file.flv>"
//! ```
//!
//! The graph: the canvas, then each drawn user in `zOrder` order (ties: layout order)
//! scaled into its rectangle (fit: `force_original_aspect_ratio=decrease`, centred in
//! the rectangle, canvas visible around it; fill: `increase` + `crop`) and overlaid
//! with `eof_action=pass` (a user whose input ends or stalls past `-rw_timeout`
//! disappears instead of freezing the output), then the images on top of all users in
//! layout order. Audio: `anullsrc` first, then every heard user, `amix` with
//! `duration=first` (the output never ends), resampled to the task's rate/channels.
//!
//! No URL a member or app gave is ever an ffmpeg *input*: user inputs are the server's own
//! signed play URLs, demuxed as FLV over RTMP only; layout images were fetched by the server
//! ([`super::image`]) and are opened as local files with a forced demuxer and decoder, so no
//! content can select another demuxer (ffmpeg's `tty` demuxer would render text as video).
//!
//! Limits: 15 fps output; HE-AAC (`codecProfile` 1) would be encoded as AAC-LC (the hub
//! refuses such tasks unless the live compositor has an HE-AAC encoder), because the native
//! ffmpeg AAC encoder (Debian has no libfdk_aac) writes an HE-AAC header it cannot actually
//! encode (players then fail to decode); a user whose stream lacks
//! the audio (video) track while `pushAudio` (`pushVideo`) is set makes ffmpeg fail
//! ("matches no streams"); a user who leaves is dropped from the picture but cannot
//! come back without a restart (the hub re-applies the task when publishers change).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

mod args;
mod copy;

pub use copy::passthrough_input;

pub use args::build_args;
#[cfg(test)]
use args::{tee_escape, video_kbps};

use super::process::{child_parts, ChildCompositor, Protocol};
use super::{Compositor, CompositorRunner, FailCode, Failure, LocalImage, TaskSpec};

/// Output frame rate of v1 compositions.
pub const FPS: u32 = 15;
/// Keyframe interval: 2 s.
const GOP: u32 = FPS * 2;

/// Starts `ffmpeg` compositors.
#[derive(Debug, Clone)]
pub struct FfmpegRunner {
    /// The ffmpeg binary (default `ffmpeg`, found through `PATH`).
    pub ffmpeg: PathBuf,
    /// x264 preset (default `veryfast`).
    pub preset: String,
    /// A stalled input becomes end-of-file after this (`-rw_timeout`, default 3 s).
    pub input_timeout: Duration,
    /// How long ffmpeg probes each user's stream before composing (`-analyzeduration`,
    /// default 1 s; ffmpeg's 5 s default delays `Pushing` by seconds).
    pub input_analyze: Duration,
    /// How long `kill` waits for ffmpeg to quit after `q` (it closes the FLV files
    /// cleanly) before SIGKILL. Default 3 s.
    pub stop_grace: Duration,
    /// When set (default: `/usr/bin/setpriv` if it exists), ffmpeg is started through
    /// `setpriv --pdeathsig KILL`, so it dies even if the server is SIGKILLed.
    pub pdeathsig_wrapper: Option<PathBuf>,
}

impl Default for FfmpegRunner {
    fn default() -> Self {
        Self::new("ffmpeg")
    }
}

impl FfmpegRunner {
    /// A runner of the ffmpeg binary at `ffmpeg` (a name on the `PATH`, or a path).
    pub fn new(ffmpeg: impl Into<PathBuf>) -> Self {
        let setpriv = Path::new("/usr/bin/setpriv");
        Self {
            ffmpeg: ffmpeg.into(),
            preset: "veryfast".to_owned(),
            input_timeout: Duration::from_secs(3),
            input_analyze: Duration::from_secs(1),
            stop_grace: Duration::from_secs(3),
            pdeathsig_wrapper: setpriv.exists().then(|| setpriv.to_path_buf()),
        }
    }
}

impl CompositorRunner for FfmpegRunner {
    fn start(
        &self,
        spec: &TaskSpec,
        images: &[Option<LocalImage>],
        record: Option<&Path>,
    ) -> Result<Box<dyn Compositor>, Failure> {
        let args = build_args(spec, images, record, self)
            .map_err(|e| Failure::new(FailCode::StartFailed, e))?;
        let mut cmd = match &self.pdeathsig_wrapper {
            Some(w) => {
                let mut c = Command::new(w);
                c.arg("--pdeathsig").arg("KILL").arg("--").arg(&self.ffmpeg);
                c
            }
            None => Command::new(&self.ffmpeg),
        };
        cmd.args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group: a terminal's Ctrl-C reaches the server, which then
            // stops the compositors itself.
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            Failure::new(
                FailCode::StartFailed,
                format!("cannot start ffmpeg ({}): {e}", self.ffmpeg.display()),
            )
        })?;
        tracing::debug!(pid = ?child.id(), task = %spec.task.task_id, "compositor started");
        let parts = child_parts(&mut child);
        Ok(Box::new(ChildCompositor::watch(
            parts,
            self.stop_grace,
            child,
            Protocol::Ffmpeg,
        )))
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn tee_escapes_specials() {
        assert_eq!(tee_escape("rtmp://a/b?x=1|[y]"), "rtmp://a/b?x=1\\|\\[y\\]");
    }

    #[test]
    fn bitrate_bounds() {
        assert_eq!(video_kbps(1280, 720), 1382);
        assert_eq!(video_kbps(16, 16), 300);
        assert_eq!(video_kbps(1920, 1920), 5529);
    }
}
