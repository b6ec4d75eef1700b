//! Why a task failed, in two forms: a typed [`FailCode`] with a fixed explanation, which is
//! all members (and the server API) are told, and the engine's own detail, which only the
//! server log gets.
//!
//! ffmpeg's error text must not reach members: it names internal hosts and tells a refused
//! port from an open one ("Connection refused" against "Cannot read RTMP handshake
//! response"), which turned push tasks into an internal port scanner.

/// A task failure as members see it. The string forms are stable: apps may match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailCode {
    /// A layout image was refused by the server's policy (address, redirect, size, type).
    ImageRefused,
    /// A layout image could not be fetched (network, HTTP status, timeout).
    ImageFetchFailed,
    /// `streamUrl` names a destination the server's egress policy refuses.
    OutputRefused,
    /// The push destination could not be reached.
    ConnectFailed,
    /// The push destination did not complete the RTMP handshake or refused the stream.
    HandshakeFailed,
    /// Writing to the push destination failed.
    OutputFailed,
    /// A member's stream could not be read.
    InputFailed,
    /// The compositor could not be started (a server problem).
    StartFailed,
    /// The compositor showed no output in time after starting.
    NoOutput,
    /// The compositor's output stopped advancing.
    Stalled,
    /// The compositor ended for another reason.
    CompositorExited,
    /// The recording could not be set up (a server problem).
    RecordFailed,
    /// The task asks for what this server's compositor cannot do (HE-AAC without an
    /// encoder for it, a parameter out of its range); the detail names the field.
    Unsupported,
}

impl FailCode {
    /// The code as members see it in a task's `reason` (`image_refused`, `stalled`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ImageRefused => "image_refused",
            Self::ImageFetchFailed => "image_fetch_failed",
            Self::OutputRefused => "output_refused",
            Self::ConnectFailed => "connect_failed",
            Self::HandshakeFailed => "handshake_failed",
            Self::OutputFailed => "output_failed",
            Self::InputFailed => "input_failed",
            Self::StartFailed => "start_failed",
            Self::NoOutput => "no_output",
            Self::Stalled => "stalled",
            Self::CompositorExited => "compositor_exited",
            Self::RecordFailed => "record_failed",
            Self::Unsupported => "unsupported",
        }
    }

    fn explain(self) -> &'static str {
        match self {
            Self::ImageRefused => "a layout image was refused by the server",
            Self::ImageFetchFailed => "a layout image could not be fetched",
            Self::OutputRefused => "the server does not push to this destination",
            Self::ConnectFailed => "cannot connect to the push destination",
            Self::HandshakeFailed => "the push destination refused the stream",
            Self::OutputFailed => "pushing to the destination failed",
            Self::InputFailed => "a member's stream could not be read",
            Self::StartFailed => "the compositor could not start",
            Self::NoOutput => "the compositor produced no output in time",
            Self::Stalled => "the compositor's output stalled",
            Self::CompositorExited => "the compositor stopped",
            Self::RecordFailed => "the recording could not be written",
            Self::Unsupported => "the server's compositor cannot produce what the task asks for",
        }
    }

    /// Whether retrying cannot help until the task changes (the server refused it).
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            Self::ImageRefused | Self::OutputRefused | Self::Unsupported
        )
    }
}

/// A failure: what members are told, and what only the log gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What members are told.
    pub code: FailCode,
    /// Engine or system detail (URL queries already redacted). Logged, never sent.
    pub detail: String,
}

impl Failure {
    /// A failure of kind `code`; `detail` must already have its URL queries redacted.
    pub fn new(code: FailCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }

    /// `code: fixed explanation`, the whole of what members hear.
    pub fn public_msg(&self) -> String {
        format!("{}: {}", self.code.as_str(), self.code.explain())
    }

    /// Classifies the compositor's own account of its end (ffmpeg's stderr tail).
    pub fn from_engine(detail: String) -> Self {
        let d = detail.to_ascii_lowercase();
        let has = |ps: &[&str]| ps.iter().any(|p| d.contains(p));
        // `mprtc-compositor` names a refused parameter: `refused: <code> (<field>): ...`.
        let code = if has(&["refused: unsupported", "refused: bad_value"]) {
            FailCode::Unsupported
        } else if has(&["handshake", "server error"]) {
            FailCode::HandshakeFailed
        } else if has(&[
            "connection refused",
            "connection timed out",
            "no route to host",
            "network is unreachable",
            "failed to resolve",
            "name or service not known",
            "cannot assign requested address",
        ]) {
            FailCode::ConnectFailed
        } else if has(&[
            "matches no streams",
            "error opening input",
            "invalid data found",
        ]) {
            FailCode::InputFailed
        } else if has(&[
            "error opening output",
            "could not write header",
            "broken pipe",
            "connection reset",
            "error writing trailer",
            "error muxing",
        ]) {
            FailCode::OutputFailed
        } else {
            FailCode::CompositorExited
        };
        Self { code, detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_text_is_classified_and_never_public() {
        let refused = Failure::from_engine(
            "compositor exited with status 1: [tcp] Connection to tcp://127.0.0.1:1?… failed: Connection refused".into(),
        );
        assert_eq!(refused.code, FailCode::ConnectFailed);
        let open = Failure::from_engine(
            "compositor exited with status 1: [rtmp] Cannot read RTMP handshake response; rtmp://127.0.0.1:42299/live/probe: End of file".into(),
        );
        assert_eq!(open.code, FailCode::HandshakeFailed);
        for f in [&refused, &open] {
            let m = f.public_msg();
            assert!(
                !m.contains("127.0.0.1") && !m.contains("tcp") && !m.contains("rtmp://"),
                "{m}"
            );
        }
        assert_eq!(
            Failure::from_engine(
                "Stream specifier ':a' in filtergraph description matches no streams.".into()
            )
            .code,
            FailCode::InputFailed
        );
        assert_eq!(
            Failure::from_engine("odd".into()).code,
            FailCode::CompositorExited
        );
    }
}
