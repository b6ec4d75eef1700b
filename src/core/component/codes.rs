//! The components' numeric codes, each listed once: `state_codes!` writes the enum, its
//! `from_code` and its `code` from one table, so a code cannot be added to one side and missed
//! on the other.

macro_rules! state_codes {
    // `..rtmp_codes` last in the list: the RTMP connection codes both components report (they
    // both speak RTMP to the media server), listed once here.
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(#[$umeta:meta])* Unknown(i64),
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal, )*
            ..rtmp_codes
        }
    ) => {
        state_codes! {
            $(#[$meta])*
            pub enum $name {
                $(#[$umeta])* Unknown(i64),
                $( $(#[$vmeta])* $variant = $code, )*
                /// 3001: the RTMP server's name could not be resolved.
                RtmpDnsFailed = 3001,
                /// 3002: the RTMP server could not be reached.
                RtmpConnectFailed = 3002,
                /// 3003: the RTMP handshake failed.
                RtmpHandshakeFailed = 3003,
                /// 3004: the RTMP server closed the connection (the URL may be wrong or
                /// expired).
                RtmpServerClosed = 3004,
                /// 3005: reading from or writing to the RTMP connection failed.
                RtmpReadWriteFailed = 3005,
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(#[$umeta:meta])* Unknown(i64),
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal, )*
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            $(#[$umeta])* Unknown(i64),
        }

        impl $name {
            /// The value for a code the component reported; a code not listed is kept as
            /// `Unknown`, never refused (new base libraries add codes).
            pub fn from_code(code: i64) -> Self {
                match code {
                    $( $code => Self::$variant, )*
                    other => Self::Unknown(other),
                }
            }

            /// The component's code for this value (what the app is shown with it).
            pub fn code(self) -> i64 {
                match self {
                    $( Self::$variant => $code, )*
                    Self::Unknown(c) => c,
                }
            }
        }
    };
}

state_codes! {
    /// A `<live-pusher>` `bindstatechange` code. Positive 1xxx codes are news, negative codes are
    /// fatal errors (the pusher has stopped), 11xx and 3xxx are warnings (it keeps trying).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum PusherState {
        /// A code not listed here (TRTC room codes, newer base libraries, ...), kept as is.
        Unknown(i64),
        /// 1001: connected to the push server.
        Connected = 1001,
        /// 1002: handshake with the push server done; pushing has started.
        PushBegin = 1002,
        /// 1003: the camera opened.
        CameraOpened = 1003,
        /// 1004: screen recording started.
        ScreenCaptureStarted = 1004,
        /// 1005: the encoder changed the resolution to fit the uplink.
        ResolutionChanged = 1005,
        /// 1006: the encoder changed the bitrate to fit the uplink.
        BitrateChanged = 1006,
        /// 1007: the first frame was captured.
        FirstFrameCaptured = 1007,
        /// 1008: the encoder started.
        EncoderStarted = 1008,
        /// -1301: the camera could not be opened.
        CameraOpenFailed = -1301,
        /// -1302: the microphone could not be opened.
        MicOpenFailed = -1302,
        /// -1303: video encoding failed.
        VideoEncodeFailed = -1303,
        /// -1304: audio encoding failed.
        AudioEncodeFailed = -1304,
        /// -1305: the requested video resolution is not supported.
        UnsupportedResolution = -1305,
        /// -1306: the requested audio sample rate is not supported.
        UnsupportedSampleRate = -1306,
        /// -1307: the network dropped and the pusher's own retries gave up; pushing must be
        /// restarted (the core asks for a fresh push URL and emits `syncDone`).
        NetworkDisconnected = -1307,
        /// -1308: screen recording could not start.
        ScreenCaptureFailed = -1308,
        /// -1309: screen recording is not supported (Android below 5.0).
        ScreenCaptureUnsupported = -1309,
        /// -1310: screen recording was interrupted.
        ScreenCaptureInterrupted = -1310,
        /// -1311: the microphone opened but delivers no data (Android).
        MicNoData = -1311,
        /// -1312: screen recording could not follow an orientation change.
        ScreenCaptureOrientationFailed = -1312,
        /// 1101: the uplink is poor; consider lowering the resolution or bitrate.
        NetBusy = 1101,
        /// 1102: the network dropped; the pusher is reconnecting by itself.
        Reconnecting = 1102,
        /// 1103: hardware encoding failed; switched to software encoding.
        HwEncoderFallback = 1103,
        /// 1104: video encoding failed (a warning; the pusher carries on).
        VideoEncodeWarning = 1104,
        /// 1105: the new beauty filter's software encoding failed; switched to the old one.
        BeautyEncodeFallback = 1105,
        /// 1106: like 1105, reported by other builds.
        BeautyEncodeFallback2 = 1106,
        ..rtmp_codes
    }
}

impl PusherState {
    /// A documented fatal error: the pusher has stopped (negative codes -1301 to -1312).
    pub fn is_fatal(self) -> bool {
        (-1312..=-1301).contains(&self.code())
    }

    /// The pusher stopped in a way a fresh push URL fixes: only -1307 (network gone after the
    /// pusher's own retries). The other fatal codes are device failures (camera, microphone,
    /// encoder, screen recording) that a new URL cannot cure, so the core does not re-publish
    /// for them.
    pub fn needs_new_url(self) -> bool {
        self == Self::NetworkDisconnected
    }
}

state_codes! {
    /// A `<live-player>` `bindstatechange` code. 200x are news, negative codes are fatal (the
    /// player has stopped), 21xx and 3xxx are warnings (it keeps trying).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum PlayerState {
        /// A code not listed here (2026, 2027, 2032, 6000 have been seen), kept as is.
        Unknown(i64),
        /// 2001: connected to the server.
        Connected = 2001,
        /// 2002: connected; pulling the stream has started.
        PullBegin = 2002,
        /// 2003: the first key frame (IDR) arrived.
        FirstIdrReceived = 2003,
        /// 2004: playback started.
        PlayBegin = 2004,
        /// 2005: playback progress.
        Progress = 2005,
        /// 2006: playback ended.
        PlayEnd = 2006,
        /// 2007: loading (buffering).
        Loading = 2007,
        /// 2008: the decoder started.
        DecoderStarted = 2008,
        /// 2009: the video resolution changed.
        ResolutionChanged = 2009,
        /// -2301: the network dropped and the player's own retries gave up; playing must be
        /// restarted (the core asks for a fresh play URL and emits `syncDone`).
        NetworkDisconnected = -2301,
        /// -2302: the accelerated play URL could not be obtained.
        AccUrlFailed = -2302,
        /// 2101: decoding a video frame failed.
        VideoDecodeFailed = 2101,
        /// 2102: decoding an audio frame failed.
        AudioDecodeFailed = 2102,
        /// 2103: the network dropped; the player is reconnecting by itself.
        Reconnecting = 2103,
        /// 2104: incoming packets are unstable (poor downlink, or the pusher's uplink).
        StreamUnstable = 2104,
        /// 2105: playback stutters.
        Stutter = 2105,
        /// 2106: hardware decoding failed; switched to software decoding.
        HwDecoderFallback = 2106,
        /// 2107: the video frames are not contiguous; some may have been dropped.
        FramesDiscontinuous = 2107,
        /// 2108: hardware decoding of the first I-frame failed; switched to software decoding.
        FirstIFrameHwDecodeFallback = 2108,
        ..rtmp_codes
    }
}

impl PlayerState {
    /// A documented fatal error: the player has stopped (-2301, -2302).
    pub fn is_fatal(self) -> bool {
        matches!(self, Self::NetworkDisconnected | Self::AccUrlFailed)
    }

    /// The player stopped in a way a fresh play URL fixes: only -2301. (-2302 is about a CDN
    /// acceleration service this server does not offer.)
    pub fn needs_new_url(self) -> bool {
        self == Self::NetworkDisconnected
    }
}

state_codes! {
    /// A `binderror` `errCode`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum ComponentErrorCode {
        /// Any other code, kept as is.
        Unknown(i64),
        /// 10001: the user has not allowed the camera (`scope.camera`).
        CameraDenied = 10001,
        /// 10002: the user has not allowed recording (`scope.record`).
        RecordDenied = 10002,
        /// 10003: the background music could not be loaded.
        BgmLoadFailed = 10003,
        /// 10004: `waiting-image` could not be loaded.
        WaitingImageLoadFailed = 10004,
    }
}
