//! Wiring: bind the listeners, run signaling and media until shutdown.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use rand::RngCore;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::media::embedded::PlayGate;
use crate::media::{external, EmbeddedMedia, ExternalMedia, MediaServer, MediaSigner};
use crate::ready::{self, MediaProbe, Readiness};
use crate::signaling::ws::{self, Signaling};
use crate::signaling::Hub;
use crate::tasks::{
    ImageFetcher, LiveRunner, OutputPolicy, RecordLimits, Supervisor, TaskKey, TaskState,
};
use crate::{http_api, metrics};

/// Why the server could not start or stopped serving; each has a stable code
/// ([`ServeError::code`]) that operators and scripts can match on, unlike the message.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The signaling address is taken or not ours to bind.
    #[error("cannot bind signaling listener on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The embedded media server could not start.
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
    /// The signaling listener failed while serving.
    #[error("signaling listener failed: {0}")]
    Serve(std::io::Error),
    /// Push-task images need a directory only the server can read; it could not be made.
    #[error("cannot make the private directory for push-task images: {0}")]
    ImageDir(std::io::Error),
    /// The TLS client of the webhooks could not be set up.
    #[error("cannot set up the webhook client: {0}")]
    Webhooks(std::io::Error),
    /// The cluster settings could not be put to use (the Redis URL).
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
}

impl ServeError {
    /// The stable code of this error (`serve.*` or the media server's), printed as
    /// `error[code]`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Bind { .. } => "serve.bind_failed",
            Self::Media(e) => e.code(),
            Self::Serve(_) => "serve.failed",
            Self::ImageDir(_) => "serve.image_dir",
            Self::Webhooks(_) => "serve.webhooks",
            Self::Cluster(e) => e.code(),
        }
    }
}

/// How long a stopping server waits for its connections to carry the close frame (1001) each
/// was sent and to end: without it the process could exit before a connection's writer ran, and
/// members would see a reset instead of "server shutting down" (then they take it for a network
/// failure). A client that does not answer the close costs at most this.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits until no signaling connection is open, or `grace` has passed.
async fn close_grace(signaling: &Signaling, grace: std::time::Duration) {
    let deadline = tokio::time::Instant::now() + grace;
    // A connection's count goes when its task ends, after its close frame was written; polled,
    // since nothing else waits on all of them.
    while signaling.stats().0 > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Where the running server can be reached.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Endpoints {
    /// The signaling WebSocket URL clients pass as `server`.
    pub signal: String,
    /// The media server's RTMP base URL (`rtmp://host:port/live`): the embedded server's, or
    /// an external engine's origin.
    pub rtmp: String,
    /// The media server's HTTP-FLV base URL (`http://host:port/live`).
    pub flv: String,
}

/// The media server: the embedded one, or the adapter of an external engine.
enum Media {
    Embedded(EmbeddedMedia),
    External(ExternalMedia),
}

impl Media {
    /// What signaling kicks through.
    fn server(&self) -> Arc<dyn MediaServer> {
        match self {
            Self::Embedded(m) => Arc::new(m.handle()),
            Self::External(m) => Arc::new(m.clone()),
        }
    }

    fn set_play_gate(&self, gate: PlayGate) {
        match self {
            Self::Embedded(m) => m.handle().set_play_gate(gate),
            Self::External(m) => m.set_play_gate(gate),
        }
    }
}

/// An external engine's adapter and the signer of its URLs: pushers get the engine's RTMP
/// base, players one of its play bases (edges), spread by viewer.
/// Events of member recordings a webhook queue may fall behind by before they are dropped.
const RECORDING_EVENTS: usize = 1024;

/// The member recorder, writing under `recordings_dir`; its events go to the apps' webhooks.
fn member_recorder(
    cfg: &Config,
    webhooks: &crate::webhooks::Webhooks,
) -> crate::recording::Recorder {
    let (tx, mut rx) = tokio::sync::mpsc::channel(RECORDING_EVENTS);
    let (hooks, dir) = (webhooks.clone(), cfg.recordings_dir.clone());
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            hooks.emit(crate::recording::hook_of(ev, &dir));
        }
    });
    crate::recording::Recorder::new(
        cfg.recordings_dir.clone(),
        cfg.ffmpeg.clone(),
        cfg.recording,
        tx,
    )
}

fn external_media(
    ext: crate::config::ExternalMediaConfig,
    secret: Vec<u8>,
    ttl: u64,
) -> (Media, Arc<MediaSigner>, String, String) {
    // `.invalid` never resolves: a deployment without HTTP-FLV hands out no working FLV URL.
    let flv_base = ext
        .flv_base
        .clone()
        .unwrap_or_else(|| "http://no-flv.invalid/live".to_owned());
    let signer = Arc::new(
        MediaSigner::new(secret, ext.rtmp_base.clone(), flv_base.clone(), ttl)
            .with_play_bases(ext.play_bases.clone()),
    );
    let rtmp_base = ext.rtmp_base.clone();
    let media = ExternalMedia::new(ext, signer.clone());
    (Media::External(media), signer, rtmp_base, flv_base)
}

/// A bound, not yet running server. Binding first lets port 0 work and the URLs be known.
pub struct Server {
    listener: tokio::net::TcpListener,
    media: Media,
    signaling: Signaling,
    supervisor: Arc<Supervisor>,
    /// Task state changes from the supervisor, carried into the hub by [`Server::run`] so
    /// that members hear them as events.
    task_rx: tokio::sync::mpsc::UnboundedReceiver<(TaskKey, TaskState)>,
    apps: Arc<std::collections::HashMap<String, crate::config::AppConfig>>,
    /// Serve the development token endpoint.
    debug_tokens: bool,
    /// Reverse proxies whose `X-Real-IP` the login throttle believes.
    trusted_proxies: Vec<crate::config::IpRange>,
    listen_limits: crate::listen::ListenLimits,
    /// The media server as signaling sees it, also read by `/metrics`.
    media_server: Arc<dyn MediaServer>,
    /// The apps' webhook queues; their workers start with [`Server::run`].
    webhooks: crate::webhooks::Webhooks,
    /// The bearer token of `/metrics`; `None`: not served.
    metrics_token: Option<crate::config::Secret>,
    /// The bearer token of the operator console; `None`: not served.
    console_token: Option<crate::config::Secret>,
    /// Where push tasks record, listed by the operator console.
    recordings_dir: std::path::PathBuf,
    /// This node's part in a cluster; `None`: a single node.
    cluster: Option<Arc<crate::cluster::Cluster>>,
    /// Where the server can be reached, known once bound (port 0 resolved).
    pub endpoints: Endpoints,
}

impl Server {
    /// The push-task supervisor, for an embedding process (and the tests) to see which tasks
    /// run; the server keeps driving it.
    pub fn supervisor(&self) -> Arc<Supervisor> {
        self.supervisor.clone()
    }

    /// Bind the signaling and media listeners of `cfg` and build the hub, the signer and the
    /// task supervisor; nothing is served until [`Server::run`].
    pub async fn bind(cfg: Config) -> Result<Self, ServeError> {
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| ServeError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let signal_addr = listener.local_addr().map_err(ServeError::Serve)?;
        let secret = match &cfg.media_secret {
            Some(s) => s.as_bytes().to_vec(),
            None => {
                let mut b = vec![0u8; 32];
                rand::thread_rng().fill_bytes(&mut b);
                b
            }
        };
        let host = |a: SocketAddr| {
            cfg.public_host
                .clone()
                .unwrap_or_else(|| a.ip().to_string())
        };
        let (media, signer, rtmp_base, flv_base) = match cfg.external_media.clone() {
            Some(ext) => external_media(ext, secret, cfg.url_ttl_secs),
            None => {
                // The media server verifies with the secret alone; the URL bases are known
                // once bound.
                let provisional =
                    Arc::new(MediaSigner::new(secret.clone(), "", "", cfg.url_ttl_secs));
                let media = EmbeddedMedia::bind(cfg.rtmp_listen, cfg.flv_listen, provisional)
                    .await?
                    .with_limits(&cfg.listen_limits)
                    .with_publisher_grace(std::time::Duration::from_millis(cfg.publisher_grace_ms));
                let (ra, fa) = (media.rtmp_addr(), media.flv_addr());
                let rtmp_base = format!("rtmp://{}:{}/live", host(ra), ra.port());
                let flv_base = format!("http://{}:{}/live", host(fa), fa.port());
                let signer = Arc::new(MediaSigner::new(
                    secret,
                    rtmp_base.clone(),
                    flv_base.clone(),
                    cfg.url_ttl_secs,
                ));
                media.handle().set_signer(signer.clone());
                (Media::Embedded(media), signer, rtmp_base, flv_base)
            }
        };
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        let runner = Arc::new(LiveRunner::new(cfg.ffmpeg.clone()));
        let hub = Hub::new(cfg.apps.clone(), signer, cfg.max_frame_bytes, seed)
            .with_heartbeat(cfg.ping_interval_ms, cfg.ping_timeout_ms)
            .with_resume_window(cfg.resume_window_ms)
            .with_limits(cfg.limits)
            .with_task_policy(cfg.tasks.clone())
            .with_member_recording(true)
            .with_external_media(cfg.external_media.is_some())
            .with_he_aac(crate::tasks::he_aac_available(&runner.compositor));
        let (task_tx, task_rx) = tokio::sync::mpsc::unbounded_channel();
        // Layout images are fetched by the server under the policy, never by a compositor.
        let images = if cfg.tasks.images {
            Some(Arc::new(
                ImageFetcher::new(&cfg.tasks).map_err(ServeError::ImageDir)?,
            ))
        } else {
            None
        };
        let webhooks = crate::webhooks::Webhooks::new(cfg.apps.values());
        let supervisor = Arc::new(
            Supervisor::new(runner, cfg.recordings_dir.clone(), task_tx)
                .with_policy(images, OutputPolicy::new(&cfg.tasks, &rtmp_base))
                .with_record_limits(RecordLimits::from_policy(&cfg.tasks))
                .with_webhooks(webhooks.clone()),
        );
        let media_server = media.server();
        let recorder = member_recorder(&cfg, &webhooks);
        let mut signaling = Signaling::new(hub, media_server.clone(), supervisor.clone())
            .with_allowed_origins(cfg.allowed_origins.clone())
            .with_webhooks(webhooks.clone())
            .with_recorder(recorder);
        let cluster = match &cfg.cluster {
            Some(cc) => {
                let c = Arc::new(crate::cluster::Cluster::new(
                    cc,
                    cfg.apps.keys().cloned().collect(),
                )?);
                signaling = signaling.with_cluster(c.clone());
                Some(c)
            }
            None => None,
        };
        let gate = signaling.clone();
        // Members by their privileges, and the operator console's previews while the room is open.
        media.set_play_gate(Arc::new(move |room, viewer| {
            gate.may_play(room, viewer)
                || (viewer == crate::signaling::hub::CONSOLE_VIEWER
                    && gate.api(|h, _| h.console_may_play(room)))
        }));
        let apps = Arc::new(cfg.apps.clone());
        let endpoints = Endpoints {
            signal: format!("ws://{}:{}/ws", host(signal_addr), signal_addr.port()),
            rtmp: rtmp_base,
            flv: flv_base,
        };
        Ok(Self {
            listener,
            media,
            signaling,
            supervisor,
            task_rx,
            apps,
            debug_tokens: cfg.debug_token_endpoint,
            trusted_proxies: cfg.trusted_proxies.clone(),
            listen_limits: cfg.listen_limits,
            media_server,
            metrics_token: cfg.metrics_token,
            console_token: cfg.console_token,
            recordings_dir: cfg.recordings_dir.clone(),
            webhooks,
            cluster,
            endpoints,
        })
    }

    /// Serve until `shutdown` is cancelled, then close every connection and return.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ServeError> {
        self.webhooks
            .start(&shutdown)
            .map_err(ServeError::Webhooks)?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (media_task, hooks, probe) = match self.media {
            Media::Embedded(m) => {
                // Ready while the embedded server runs: its `run` returns only when it stops.
                let running = Arc::new(AtomicBool::new(true));
                let flag = running.clone();
                let stop = shutdown.clone();
                let task = tokio::spawn(async move {
                    let r = m.run(tx, stop).await;
                    flag.store(false, Ordering::Relaxed);
                    r
                });
                (task, None, MediaProbe::Embedded(running))
            }
            Media::External(m) => {
                m.set_events(tx);
                let probe = MediaProbe::External(m.clone());
                let mut hooks = external::router(m.clone());
                if let Some(c) = &self.cluster {
                    // Hooks about rooms another node owns are answered by that node.
                    m.set_forward(crate::cluster::hook_forward(c));
                    hooks = hooks.layer(axum::middleware::from_fn_with_state(
                        c.clone(),
                        crate::cluster::forward_layer,
                    ));
                    let records = c
                        .clone()
                        .run_media_records(self.signaling.clone(), shutdown.clone());
                    tokio::spawn(records);
                }
                (tokio::spawn(async { Ok(()) }), Some(hooks), probe)
            }
        };
        let sig = self.signaling.clone();
        let events = tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                sig.media_event(ev);
            }
        });
        let sig = self.signaling.clone();
        let mut task_rx = self.task_rx;
        let task_events = tokio::spawn(async move {
            while let Some((key, state)) = task_rx.recv().await {
                sig.task_state(key, state);
            }
        });
        let sig = self.signaling.clone();
        let ticker = tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                every.tick().await;
                sig.tick();
            }
        });
        // One throttle of failed logins for the server API and `/metrics`.
        let throttle = Arc::new(std::sync::Mutex::new(
            crate::throttle::LoginThrottle::behind(self.trusted_proxies.clone()),
        ));
        let mut api = http_api::router(http_api::Api {
            signaling: self.signaling.clone(),
            apps: self.apps.clone(),
            throttle: throttle.clone(),
        });
        let mut readiness = Readiness::new(probe, shutdown.clone());
        let mut leases = None;
        if let Some(c) = &self.cluster {
            // Calls about a room another node owns go there, before this node's throttle
            // or hub sees them; the owner's throttle counts the client.
            api = api.layer(axum::middleware::from_fn_with_state(
                c.clone(),
                crate::cluster::forward_layer,
            ));
            api = api.merge(crate::cluster::router(c.clone(), self.signaling.clone()));
            readiness = readiness.with_cluster(c.clone());
            leases = Some(tokio::spawn(
                c.clone()
                    .run_leases(self.signaling.clone(), shutdown.clone()),
            ));
        }
        let mut app = Router::new()
            .route("/ws", get(ws::upgrade))
            .route("/healthz", get(|| async { "ok" }))
            .with_state(self.signaling.clone())
            .merge(api)
            .merge(ready::router(readiness));
        if let Some(token) = self.console_token {
            // The operator's, behind its own token (see `console`).
            app = app.merge(crate::console::router(
                crate::console::Console {
                    signaling: self.signaling.clone(),
                    apps: self.apps.clone(),
                    token,
                    recordings_dir: self.recordings_dir.clone(),
                    flv_base: self.endpoints.flv.clone(),
                },
                throttle.clone(),
            ));
        }
        if let Some(token) = self.metrics_token {
            app = app.merge(metrics::router(
                metrics::Metrics {
                    signaling: self.signaling.clone(),
                    media: self.media_server.clone(),
                    supervisor: self.supervisor.clone(),
                    webhooks: self.webhooks.clone(),
                    token,
                },
                throttle,
            ));
        }
        if let Some(hooks) = hooks {
            app = app.merge(hooks);
        }
        if self.debug_tokens {
            tracing::warn!(
                "debug token endpoint on: anyone who reaches this server can mint join tokens"
            );
            app = app.merge(crate::debug_token::router(self.apps.clone()));
        }
        let sig = self.signaling.clone();
        let stop = shutdown.clone();
        let mut limiter =
            crate::listen::ConnLimiter::new("signaling", self.listen_limits.signaling);
        if let Some(c) = &self.cluster {
            // Each member another node relays here is one connection from that node.
            let c = c.clone();
            limiter = limiter.with_exempt(Arc::new(move |ip| c.is_peer(ip)));
        }
        let served = crate::listen::http::serve(
            self.listener,
            app,
            limiter,
            self.listen_limits.header_timeout,
            async move {
                stop.cancelled().await;
                sig.close_all();
            },
        )
        .await;
        shutdown.cancel();
        close_grace(&self.signaling, CLOSE_GRACE).await;
        if let Some(leases) = leases {
            // Gives up this node's rooms and registry entry (bounded by Redis's deadline).
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), leases).await;
        }
        // Compositors die with the server.
        self.supervisor.shutdown().await;
        task_events.abort();
        ticker.abort();
        let media = media_task.await;
        events.abort();
        served.map_err(ServeError::Serve)?;
        match media {
            Ok(r) => r.map_err(ServeError::from),
            Err(_) => Ok(()),
        }
    }
}
