//! Logging that never carries a secret, whatever filter the operator sets.
//!
//! Two libraries log secrets of ours: `rtmp-rs` prints stream names with their signed query
//! (`s=`) at info and debug level, and `tungstenite` (through the `log` bridge) prints every
//! WebSocket frame, join tokens included, at trace level. A directive added to the
//! operator's `EnvFilter` is not enough: a more specific one (`tungstenite::protocol=trace`)
//! wins over it. So the caps below are a second filter that every event must also pass; no
//! `MPRTC_LOG` value can lift them.

use tracing::level_filters::LevelFilter;
use tracing::Metadata;
use tracing_subscriber::filter::{EnvFilter, FilterFn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The most verbose level each library may log at: the levels whose lines carry no secret.
const LIBRARY_CAPS: &[(&str, LevelFilter)] = &[
    ("rtmp_rs", LevelFilter::ERROR),
    ("tungstenite", LevelFilter::DEBUG),
    ("tokio_tungstenite", LevelFilter::DEBUG),
];

/// Whether an event or span of `target` at `level` may be logged at all.
pub fn allowed(target: &str, level: &tracing::Level) -> bool {
    LIBRARY_CAPS
        .iter()
        .find(|(lib, _)| {
            target
                .strip_prefix(lib)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
        .is_none_or(|(_, cap)| cap >= level)
}

/// The caps as a `tracing-subscriber` filter.
pub fn caps() -> FilterFn<impl Fn(&Metadata<'_>) -> bool> {
    FilterFn::new(|m: &Metadata<'_>| allowed(m.target(), m.level()))
}

/// How log lines are written (`log_format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Lines for people (the default); colored on a terminal.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`, ...) for log
    /// shippers. The same filter and the same caps decide what is logged, so the same
    /// events, secrets excluded, reach either format.
    Json,
}

/// Installs the process's logger: `filter` (the operator's `MPRTC_LOG`, `info` when unset or
/// invalid) and the caps, to stderr, in `format`.
pub fn init(filter: Option<&str>, format: LogFormat) {
    let env = filter
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // The caps alone give no level hint, which left the `log` bridge's maximum at trace: every
    // WebSocket frame then went through the bridge's `trace!` calls only to be dropped here
    // (a few percent of a busy node's CPU). The operator's filter bounds both.
    let most = env.max_level_hint().unwrap_or(LevelFilter::TRACE);
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    // Two layer types, so two branches: each gets both filters, the caps last.
    let layer = match format {
        LogFormat::Text => layer
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_filter(env)
            .with_filter(caps().with_max_level_hint(most))
            .boxed(),
        LogFormat::Json => layer
            .json()
            .with_ansi(false)
            .with_filter(env)
            .with_filter(caps().with_max_level_hint(most))
            .boxed(),
    };
    tracing_subscriber::registry().with(layer).init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn libraries_are_capped_and_others_are_not() {
        assert!(!allowed("tungstenite::protocol", &Level::TRACE));
        assert!(allowed("tungstenite::protocol", &Level::DEBUG));
        assert!(!allowed("tungstenite", &Level::TRACE));
        assert!(!allowed("tokio_tungstenite::compat", &Level::TRACE));
        assert!(!allowed("rtmp_rs::server::connection", &Level::INFO));
        assert!(!allowed("rtmp_rs", &Level::WARN));
        assert!(allowed("rtmp_rs", &Level::ERROR));
        // Only whole path segments match: a crate whose name merely starts alike is free.
        assert!(allowed("tungstenite_ext", &Level::TRACE));
        assert!(allowed("mprtc_server::media", &Level::TRACE));
    }
}
