//! `mprtc-server` command line: `serve` (the default) and `token`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use mprtc_server::app::Server;
use mprtc_server::config::{self, Config, FileConfig, Settings};
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

/// `serve`'s flags: every setting, with its `MPRTC_*` variable (see [`Settings`]).
type ServeArgs = Settings;

#[derive(Args)]
struct TokenArgs {
    /// App key the token is for.
    #[arg(long)]
    app: String,
    /// The room the token admits to.
    #[arg(long, required_unless_present = "any_room")]
    room: Option<String>,
    /// Admit the member to any room of the app instead (ZEGO-style per-user tokens): a leaked
    /// token then opens every room until it expires; keep the ttl short.
    #[arg(long, conflicts_with = "room")]
    any_room: bool,
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
    Config::resolve(file, args.clone())
}

fn token_cmd(t: TokenArgs) -> ExitCode {
    let secret = match (&t.secret, &t.config) {
        (Some(s), _) => s.clone(),
        (None, Some(p)) => match FileConfig::load(p) {
            Ok(f) => match f
                .file_apps
                .into_iter()
                .find(|a| a.key == t.app)
                .and_then(|a| a.secret)
            {
                Some(s) => s.expose().to_owned(),
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
    let room = match &t.room {
        Some(r) => match mprtc::protocol::names::check_room(r) {
            Ok(()) => r.clone(),
            Err(e) => return fail("token.bad_room", e.0),
        },
        None => token::ANY_ROOM.to_owned(),
    };
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
    if mprtc::protocol::names::check_user_id(&t.uid).is_err() {
        eprintln!("error[token.bad_uid]: --uid must be a decimal uid or a user id of 1 to 64 printable characters");
        return ExitCode::from(2);
    }
    // A decimal uid stands for itself, any other user id for its hash (as at the join).
    let uid = t
        .uid
        .parse::<u64>()
        .unwrap_or_else(|_| mprtc::protocol::names::uid_for_user(&t.uid));
    if uid >= mprtc_server::signaling::FIRST_RESERVED_UID {
        eprintln!("error[token.reserved_uid]: --uid stands for a uid the server keeps for its own players (the top three of 2^64)");
        return ExitCode::from(2);
    }
    let claims = token::Claims {
        app: t.app,
        room,
        uid: t.uid,
        iat: now,
        exp: now.saturating_add(t.ttl),
        privileges: p,
    };
    println!("{}", token::sign(secret.as_bytes(), &claims));
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let serve_matches = matches.subcommand_matches("serve").unwrap_or(&matches);
    let secret_flags: Vec<&str> = [
        ("media_secret", "--media-secret"),
        ("apps", "--app"),
        ("media_hook_secret", "--media-hook-secret"),
        ("metrics_token", "--metrics-token"),
        ("console_token", "--console-token"),
    ]
    .into_iter()
    .filter(|(id, _)| serve_matches.value_source(id) == Some(ValueSource::CommandLine))
    .map(|(_, flag)| flag)
    .collect();
    let mut args = match cli.cmd {
        Some(Cmd::Token(t)) => return token_cmd(t),
        Some(Cmd::Serve(a)) => *a,
        None => cli.serve,
    };
    // `MPRTC_MEDIA_SECRET=` (an `.env` template left blank) is a secret set to nothing, not an
    // unset one: the config check refuses it rather than quietly using a random secret.
    if args.media_secret.is_none() {
        if let Some(v) = std::env::var_os("MPRTC_MEDIA_SECRET") {
            args.media_secret = Some(v.to_string_lossy().into_owned().into());
        }
    }
    // Loaded before the logger, which needs its `log_format`; a refusal is printed as it is.
    let cfg = match load(&args) {
        Ok(c) => c,
        Err(e) => return fail(e.code(), e),
    };
    // No MPRTC_LOG value can make the libraries log secrets (see `logging`).
    mprtc_server::logging::init(std::env::var("MPRTC_LOG").ok().as_deref(), cfg.log_format);
    for flag in secret_flags {
        tracing::warn!(
            flag,
            "a secret given on the command line is visible to every local user (ps, /proc); \
             put it in the config file or the environment instead"
        );
    }
    for app in cfg.apps.values() {
        if app
            .secret
            .as_ref()
            .is_some_and(|s| s.len() < config::SHORT_APP_SECRET)
        {
            tracing::warn!(
                app = %app.key,
                "app secret shorter than {} bytes: join tokens and the server API are only as \
                 safe as it is hard to guess",
                config::SHORT_APP_SECRET
            );
        }
    }
    raise_fd_limit();
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
        // Listened for before the ready line: a supervisor may stop the server as soon as it
        // is up, and a signal without a handler would kill it without closing anything.
        let signals = match StopSignals::install() {
            Ok(s) => s,
            Err(e) => return fail("serve.signals", e),
        };
        // One machine-readable line on stdout so scripts and tests can find the ports.
        println!("{}", serde_json::json!({ "event": "ready", "endpoints": &server.endpoints }));
        tracing::info!(signal = %server.endpoints.signal, rtmp = %server.endpoints.rtmp, flv = %server.endpoints.flv, "mprtc-server ready");
        let shutdown = CancellationToken::new();
        let s = shutdown.clone();
        tokio::spawn(async move {
            signals.wait().await;
            tracing::info!("shutting down");
            s.cancel();
        });
        match server.run(shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e.code(), e),
        }
    })
}

/// Raises the soft limit on open files to the hard limit: every connection costs a
/// descriptor (an RTMP one three), and the usual soft limit of 1024 would otherwise be
/// the real cap on connections long before the configured ones.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
    let raised = unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max && {
            let want = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0
        }
    };
    if raised {
        tracing::debug!(
            from = lim.rlim_cur,
            to = lim.rlim_max,
            "raised the open-files limit"
        );
    }
}

/// SIGINT (a terminal's Ctrl-C) and SIGTERM (a supervisor's stop), each of which stops the
/// server cleanly. Their handlers are in place from [`StopSignals::install`] on.
struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Installs the handlers (inside the runtime).
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Waits for the first of the two signals.
    async fn wait(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}
