//! `mprtc-loadgen`: simulated mprtc members in bulk against a running mprtc-server, for the
//! server-scale part of `scripts/bench` (see BENCHMARKS.md). Every member is the real core
//! (`mprtc::core::Client`) over its own WebSocket. Each command prints one JSON object on
//! stdout (progress goes to stderr) and samples the server's CPU and memory from /proc.
//! `viewers` (the edge benchmark) plays the media instead: RTMP or HTTP-FLV viewers by the
//! thousand, each cheap, so that the servers and not the load generator set the limit.

mod crowd;
mod echo;
mod fanout;
mod flv;
mod idle;
mod member;
mod meter;
mod play_flv;
mod play_rtmp;
mod procfs;
mod pusher;
mod stats;
mod throughput;
mod viewers;
mod window;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "mprtc-loadgen",
    about = "Simulated mprtc members against a running mprtc-server"
)]
struct Cli {
    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 2, global = true)]
    threads: usize,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Many members in many rooms, joined and then idle with heartbeats running.
    Idle(idle::Args),
    /// One big room; one member publishes; time until every other member has stream-added.
    Fanout(fanout::Args),
    /// Sustained events per second: one member per room changes state in a loop.
    Events(throughput::Args),
    /// Viewers of one stream (RTMP or HTTP-FLV), stepped up until they no longer hold.
    Viewers(viewers::Args),
    /// A WebSocket echo server (the round-trip floor for the request benchmark).
    Echo {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mprtc-loadgen: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.cmd {
            Cmd::Idle(a) => idle::run(a).await,
            Cmd::Fanout(a) => {
                if a.members < 2 {
                    return Err("--members must be at least 2".to_owned());
                }
                fanout::run(a).await
            }
            Cmd::Events(a) => {
                if a.per_room < 2 || a.rooms == 0 {
                    return Err("--rooms must be at least 1 and --per-room at least 2".to_owned());
                }
                throughput::run(a).await
            }
            Cmd::Viewers(a) => {
                if a.steps.is_empty() || a.target.url.is_empty() || a.window_secs == 0 {
                    return Err("--steps, --url and a non-zero --window-secs are needed".to_owned());
                }
                // Viewers stay from step to step: each step must have more.
                if a.steps[0] == 0 || a.steps.windows(2).any(|w| w[0] >= w[1]) {
                    return Err("--steps must be rising numbers above 0".to_owned());
                }
                viewers::run(a).await
            }
            Cmd::Echo { listen } => echo::run(listen).await.map(|_| serde_json::Value::Null),
        }
    });
    match result {
        Ok(v) => {
            println!("{v}");
            // Thousands of member tasks are still parked on their sockets: do not wait for them.
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("mprtc-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
