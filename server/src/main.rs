//! `mprtc-server` command line: `serve` (the default) and `token`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use mprtc_server::app::Server;
use mprtc_server::config::{Config, FileConfig, Overrides};
use mprtc_server::token::{self, Privileges};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "mprtc-server",
    version,
    about = "Signaling and media for mprtc mini-program clients"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server (the default).
    Serve(Box<ServeArgs>),
    /// Mint a join token for a room and uid.
    Token(TokenArgs),
}

#[derive(Args, Clone, Default)]
struct ServeArgs {
    /// TOML config file.
    #[arg(long, env = "MPRTC_CONFIG")]
    config: Option<PathBuf>,
    /// Signaling HTTP/WebSocket address.
    #[arg(long, env = "MPRTC_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// RTMP address of the embedded media server.
    #[arg(long, env = "MPRTC_RTMP_LISTEN")]
    rtmp_listen: Option<std::net::SocketAddr>,
    /// HTTP-FLV address of the embedded media server.
    #[arg(long, env = "MPRTC_FLV_LISTEN")]
    flv_listen: Option<std::net::SocketAddr>,
    /// Host name to put into media URLs.
    #[arg(long, env = "MPRTC_PUBLIC_HOST")]
    public_host: Option<String>,
    /// Secret that signs media URLs (random per process if unset).
    #[arg(long, env = "MPRTC_MEDIA_SECRET", hide_env_values = true)]
    media_secret: Option<String>,
    /// Lifetime of media URLs in seconds.
    #[arg(long, env = "MPRTC_URL_TTL_SECS")]
    url_ttl_secs: Option<u64>,
    /// Largest signaling frame answered normally.
    #[arg(long, env = "MPRTC_MAX_FRAME_BYTES")]
    max_frame_bytes: Option<usize>,
    /// Rooms this server holds at most.
    #[arg(long, env = "MPRTC_MAX_ROOMS")]
    max_rooms: Option<usize>,
    /// Members one room holds at most.
    #[arg(long, env = "MPRTC_MAX_MEMBERS_PER_ROOM")]
    max_members_per_room: Option<usize>,
    /// Sustained requests per second one connection may send.
    #[arg(long, env = "MPRTC_MAX_REQUESTS_PER_SEC")]
    max_requests_per_sec: Option<u32>,
    /// Clients ping this often (ms).
    #[arg(long, env = "MPRTC_PING_INTERVAL_MS")]
    ping_interval_ms: Option<u64>,
    /// A ping unanswered this long means a dead connection (ms).
    #[arg(long, env = "MPRTC_PING_TIMEOUT_MS")]
    ping_timeout_ms: Option<u64>,
    /// How long a dropped member keeps its place for a resume (ms; 0: a drop is a leave).
    #[arg(long, env = "MPRTC_RESUME_WINDOW_MS")]
    resume_window_ms: Option<u64>,
    /// Serve GET /api/v1/debug/token, which mints join tokens for anyone (development only).
    #[arg(long, env = "MPRTC_DEBUG_TOKEN_ENDPOINT", num_args = 0..=1, default_missing_value = "true")]
    debug_token_endpoint: Option<bool>,
    /// Directory for push-task recordings.
    #[arg(long, env = "MPRTC_RECORDINGS_DIR")]
    recordings_dir: Option<PathBuf>,
    /// ffmpeg binary used by push-task compositors.
    #[arg(long, env = "MPRTC_FFMPEG")]
    ffmpeg: Option<PathBuf>,
    /// An app as KEY:SECRET (repeatable).
    #[arg(
        long = "app",
        env = "MPRTC_APPS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    apps: Vec<String>,
    /// An app key that joins without tokens (debug mode; repeatable).
    #[arg(
        long = "insecure-app",
        env = "MPRTC_INSECURE_APPS",
        value_delimiter = ','
    )]
    insecure_apps: Vec<String>,
    /// A web origin (scheme://host[:port]) allowed to open the signaling WebSocket
    /// (repeatable; none: any). Requests without an Origin header, as mini-programs send,
    /// are always accepted.
    #[arg(
        long = "allowed-origin",
        env = "MPRTC_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    allowed_origins: Vec<String>,
}

#[derive(Args)]
struct TokenArgs {
    /// App key the token is for.
    #[arg(long)]
    app: String,
    #[arg(long)]
    room: String,
    /// The member: a decimal uid, or an app-chosen user id (ZEGO's userID).
    #[arg(long)]
    uid: String,
    /// Seconds until expiry.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
    /// The app secret (otherwise read from --config).
    #[arg(long, env = "MPRTC_APP_SECRET", hide_env_values = true)]
    secret: Option<String>,
    #[arg(long, env = "MPRTC_CONFIG")]
    config: Option<PathBuf>,
    /// Deny publishing (the member joins as audience).
    #[arg(long)]
    no_publish: bool,
    /// Deny subscribing.
    #[arg(long)]
    no_subscribe: bool,
    /// Allow managing push tasks even as audience.
    #[arg(long, conflicts_with = "no_tasks")]
    tasks: bool,
    /// Deny managing push tasks (by default broadcasters may).
    #[arg(long)]
    no_tasks: bool,
    /// Allow push tasks with `record: true` (denied unless granted).
    #[arg(long)]
    record: bool,
}

fn fail(code: &str, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error[{code}]: {msg}");
    ExitCode::from(2)
}

fn load(args: &ServeArgs) -> Result<Config, mprtc_server::config::ConfigError> {
    let file = match &args.config {
        Some(p) => FileConfig::load(p)?,
        None => FileConfig::default(),
    };
    let o = Overrides {
        listen: args.listen,
        rtmp_listen: args.rtmp_listen,
        flv_listen: args.flv_listen,
        public_host: args.public_host.clone(),
        media_secret: args.media_secret.clone(),
        url_ttl_secs: args.url_ttl_secs,
        max_frame_bytes: args.max_frame_bytes,
        ping_interval_ms: args.ping_interval_ms,
        max_rooms: args.max_rooms,
        max_members_per_room: args.max_members_per_room,
        max_requests_per_sec: args.max_requests_per_sec,
        ping_timeout_ms: args.ping_timeout_ms,
        resume_window_ms: args.resume_window_ms,
        debug_token_endpoint: args.debug_token_endpoint,
        recordings_dir: args.recordings_dir.clone(),
        ffmpeg: args.ffmpeg.clone(),
        apps: args.apps.clone(),
        insecure_apps: args.insecure_apps.clone(),
        allowed_origins: args.allowed_origins.clone(),
    };
    Config::resolve(file, o)
}

fn token_cmd(t: TokenArgs) -> ExitCode {
    let secret = match (&t.secret, &t.config) {
        (Some(s), _) => s.clone(),
        (None, Some(p)) => match FileConfig::load(p) {
            Ok(f) => match f
                .apps
                .into_iter()
                .find(|a| a.key == t.app)
                .and_then(|a| a.secret)
            {
                Some(s) => s,
                None => {
                    return fail(
                        "token.no_secret",
                        format!("app {:?} has no secret in {}", t.app, p.display()),
                    )
                }
            },
            Err(e) => return fail(e.code(), e),
        },
        (None, None) => return fail("token.no_secret", "give --secret or --config"),
    };
    if let Err(e) = mprtc::core::params::check_room(&t.room) {
        return fail("token.bad_room", e.message);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let p = Privileges {
        publish: !t.no_publish,
        subscribe: !t.no_subscribe,
        tasks: match (t.tasks, t.no_tasks) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        record: t.record.then_some(true),
    };
    if mprtc::core::params::check_user_id(&t.uid).is_err() {
        eprintln!("error[token.bad_uid]: --uid must be a decimal uid or a user id of 1 to 64 printable characters");
        return ExitCode::from(2);
    }
    let claims = token::Claims {
        app: t.app,
        room: t.room,
        uid: t.uid,
        iat: now,
        exp: now.saturating_add(t.ttl),
        privileges: p,
    };
    println!("{}", token::sign(secret.as_bytes(), &claims));
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.cmd {
        Some(Cmd::Token(t)) => return token_cmd(t),
        Some(Cmd::Serve(a)) => *a,
        None => cli.serve,
    };
    // The RTMP library logs stream names with their signatures below error level, and the
    // WebSocket library logs whole frames (join tokens, signed URLs) at trace level; keep them
    // quiet whatever MPRTC_LOG says, so no secret reaches the logs.
    let filter = [
        mprtc_server::media::LIBRARY_LOG_DIRECTIVE,
        mprtc_server::signaling::ws::LIBRARY_LOG_DIRECTIVE,
    ]
    .into_iter()
    .fold(
        tracing_subscriber::EnvFilter::try_from_env("MPRTC_LOG").unwrap_or_else(|_| "info".into()),
        |f, d| f.add_directive(d.parse().expect("static directive parses")),
    );
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let cfg = match load(&args) {
        Ok(c) => c,
        Err(e) => return fail(e.code(), e),
    };
    if cfg.apps.is_empty() {
        tracing::warn!("no apps configured: every join will fail with unknown_app_key (use --app or --insecure-app)");
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail("serve.runtime", e),
    };
    rt.block_on(async move {
        let server = match Server::bind(cfg).await {
            Ok(s) => s,
            Err(e) => return fail(e.code(), e),
        };
        // One machine-readable line on stdout so scripts and tests can find the ports.
        println!("{}", serde_json::json!({ "event": "ready", "endpoints": &server.endpoints }));
        tracing::info!(signal = %server.endpoints.signal, rtmp = %server.endpoints.rtmp, flv = %server.endpoints.flv, "mprtc-server ready");
        let shutdown = CancellationToken::new();
        let s = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            s.cancel();
        });
        match server.run(shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e.code(), e),
        }
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
