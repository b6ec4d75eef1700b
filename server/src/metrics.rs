//! `GET /metrics`: the server's counts in the Prometheus text format (OpenMetrics 1.0, which
//! Prometheus scrapes natively), for the operator's monitoring.
//!
//! # Where, and who may scrape
//!
//! On the signaling listener, behind a bearer token of the operator's (`metrics_token`,
//! at least 32 bytes): that port faces the internet, and rooms, members and load are the
//! operator's business. Without a token `/metrics` is not served at all (404), so nothing
//! is scraped anonymously by default. A wrong token is a failed login of the address, under
//! the same throttle as the server API (10 a minute, then 429).
//!
//! # How it is counted
//!
//! Nothing here is updated on the hot paths. Each scrape reads what the parts already keep:
//! the hub's plain counters and sizes (the hub is sans-IO and knows no metrics library),
//! the shell's outgoing queues, the media server's tables and byte counters, the task
//! supervisor's counters; and writes them through `prometheus-client`'s encoder as constant
//! metrics. Labels are bounded: the only ones are the numeric error code of a refused join
//! (a protocol constant, never something a peer names) and the build version. Never a room,
//! an app or a user id: a label a peer chooses would let it grow the series without bound.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::config::Secret;
use crate::media::{MediaSample, MediaServer};
use crate::signaling::ws::{Signaling, SignalingSample};
use crate::tasks::{Supervisor, TaskSample};
use crate::throttle::LoginThrottle;
use crate::webhooks::{WebhookSample, Webhooks};

/// The content type of the OpenMetrics text format `prometheus-client` writes.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Where a scrape reads from, and the token it must present.
#[derive(Clone)]
pub struct Metrics {
    /// The signaling shell and its hub.
    pub signaling: Signaling,
    /// The media server (embedded: publishers, players, bytes; external: nothing).
    pub media: Arc<dyn MediaServer>,
    /// The push-task supervisor.
    pub supervisor: Arc<Supervisor>,
    /// The apps' webhook queues.
    pub webhooks: Webhooks,
    /// The operator's bearer token.
    pub token: Secret,
}

/// Everything one scrape shows, read at once.
#[derive(Debug)]
pub struct Sample {
    /// Rooms, members, sessions, events and queues.
    pub signaling: SignalingSample,
    /// Publishers, players and bytes; `None` on an external engine.
    pub media: Option<MediaSample>,
    /// Tasks, compositors and their totals.
    pub tasks: TaskSample,
    /// Webhook deliveries, failures, retries, drops and queue depth.
    pub webhooks: WebhookSample,
}

impl Metrics {
    /// What the server shows now.
    pub fn sample(&self) -> Sample {
        Sample {
            signaling: self.signaling.sample(),
            media: self.media.sample(),
            tasks: self.supervisor.sample(),
            webhooks: self.webhooks.sample(),
        }
    }
}

/// `GET /metrics` behind the token, and the login throttle shared with the server API.
pub fn router(metrics: Metrics, throttle: Arc<Mutex<LoginThrottle>>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(metrics)
        .layer(axum::middleware::from_fn_with_state(
            throttle,
            crate::http_api::throttled,
        ))
}

async fn scrape(State(m): State<Metrics>, headers: HeaderMap) -> Response {
    if !crate::console::bearer_matches(&headers, &m.token) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "Authorization: Bearer <metrics_token> required\n",
        )
            .into_response();
    }
    match render(m.sample()) {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `sample` in the text format.
pub fn render(sample: Sample) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(sample));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

/// Writes one unlabelled gauge.
fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: usize) -> std::fmt::Result {
    let g = ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
    g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)
}

/// Writes one unlabelled counter (the encoder adds `_total`).
fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    let c = ConstCounter::new(v);
    c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)
}

impl Collector for Sample {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let s = &self.signaling;
        let info = ConstGauge::new(1i64);
        let help = "The running build: always 1, its version as a label";
        let mut family = e.encode_descriptor("mprtc_build_info", help, None, info.metric_type())?;
        info.encode(family.encode_family(&[("version", env!("CARGO_PKG_VERSION"))])?)?;
        gauge(&mut e, "mprtc_rooms", "Rooms open", s.rooms)?;
        gauge(
            &mut e,
            "mprtc_members",
            "Members in all rooms, those waiting for a resume included",
            s.members,
        )?;
        gauge(
            &mut e,
            "mprtc_connections",
            "Signaling connections open, joined or not",
            s.connections,
        )?;
        let c = &s.counters;
        counter(
            &mut e,
            "mprtc_joins",
            "Joins admitted (resumes included)",
            c.joins,
        )?;
        counter(
            &mut e,
            "mprtc_sessions_resumed",
            "Rejoins that resumed their session",
            c.resumed,
        )?;
        counter(
            &mut e,
            "mprtc_sessions_rejoined",
            "Rejoins that asked to resume and got a fresh session",
            c.rejoined_fresh,
        )?;
        counter(
            &mut e,
            "mprtc_sessions_expired",
            "Dropped members given up when their resume window ran out",
            c.expired,
        )?;
        // One series per code a join was refused with; the family is declared even before any.
        let help = "Joins refused, by error code";
        let kind = ConstCounter::new(0u64).metric_type();
        let mut family = e.encode_descriptor("mprtc_joins_refused", help, None, kind)?;
        for (code, n) in &c.refused_joins {
            let code = code.to_string();
            ConstCounter::new(*n).encode(family.encode_family(&[("code", code.as_str())])?)?;
        }
        counter(
            &mut e,
            "mprtc_events_sent",
            "Events (frames with a seq) handed to connections",
            s.events_sent,
        )?;
        gauge(
            &mut e,
            "mprtc_queued_bytes",
            "Bytes queued for all connections, not yet written",
            s.queued_bytes,
        )?;
        gauge(
            &mut e,
            "mprtc_queued_bytes_max",
            "The most bytes queued for one connection",
            s.queued_bytes_max,
        )?;
        gauge(
            &mut e,
            "mprtc_queued_frames",
            "Frames queued for all connections",
            s.queued_frames,
        )?;
        if let Some(m) = &self.media {
            gauge(
                &mut e,
                "mprtc_media_publishers",
                "Admitted publishers",
                m.publishers,
            )?;
            gauge(
                &mut e,
                "mprtc_media_players",
                "Admitted plays (RTMP and HTTP-FLV)",
                m.players,
            )?;
            counter(
                &mut e,
                "mprtc_media_received_bytes",
                "Bytes received from RTMP clients",
                m.bytes_in,
            )?;
            counter(
                &mut e,
                "mprtc_media_sent_bytes",
                "Bytes sent to RTMP and HTTP-FLV clients",
                m.bytes_out,
            )?;
        }
        let t = &self.tasks;
        gauge(
            &mut e,
            "mprtc_tasks",
            "Push tasks running or about to",
            t.tasks,
        )?;
        gauge(
            &mut e,
            "mprtc_compositors",
            "Compositor processes alive",
            t.compositors,
        )?;
        counter(
            &mut e,
            "mprtc_compositor_starts",
            "Compositors started",
            t.starts,
        )?;
        counter(
            &mut e,
            "mprtc_compositor_restarts",
            "Compositors started again for the same task",
            t.restarts,
        )?;
        counter(
            &mut e,
            "mprtc_compositor_failures",
            "Compositor failures (start, exit, stall, refusal)",
            t.failures,
        )?;
        counter(
            &mut e,
            "mprtc_recordings_finished",
            "Recorded task runs that ended",
            t.recordings,
        )?;
        let w = &self.webhooks;
        for (name, help, v) in [
            (
                "mprtc_webhook_deliveries",
                "Webhook events a URL answered with 2xx",
                w.delivered,
            ),
            (
                "mprtc_webhook_failures",
                "Webhook attempts that failed (connect, timeout, non-2xx)",
                w.failures,
            ),
            (
                "mprtc_webhook_retries",
                "Webhook attempts made again after a failure",
                w.retries,
            ),
            (
                "mprtc_webhook_dropped",
                "Webhook events dropped from a full queue, oldest first",
                w.dropped,
            ),
            (
                "mprtc_webhook_given_up",
                "Webhook events given up after their last attempt",
                w.given_up,
            ),
        ] {
            counter(&mut e, name, help, v)?;
        }
        gauge(
            &mut e,
            "mprtc_webhook_queued",
            "Webhook events waiting in all queues",
            w.queued,
        )?;
        Ok(())
    }
}
