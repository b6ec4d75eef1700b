//! `mprtc-loadgen`: simulated mprtc members in bulk against a running mprtc-server, for the
//! server-scale part of `scripts/bench` (see BENCHMARKS.md). Every member is the real core
//! (`mprtc::core::Client`) over its own WebSocket. Each command prints one JSON object on
//! stdout (progress goes to stderr) and samples the server's CPU and memory from /proc.

mod crowd;
mod echo;
mod fanout;
mod idle;
mod member;
mod procfs;
mod stats;
mod throughput;

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
    Idle {
        #[arg(long)]
        url: String,
        #[arg(long)]
        server_pid: u32,
        #[arg(long, default_value_t = 10_000)]
        members: usize,
        #[arg(long, default_value_t = 1_000)]
        rooms: usize,
        #[arg(long, default_value_t = 30)]
        hold_secs: u64,
        #[arg(long, default_value_t = 200)]
        concurrency: usize,
    },
    /// One big room; one member publishes; time until every other member has stream-added.
    Fanout {
        #[arg(long)]
        url: String,
        #[arg(long)]
        server_pid: u32,
        #[arg(long, default_value_t = 1_000)]
        members: usize,
        #[arg(long, default_value_t = 10)]
        trials: usize,
        #[arg(long, default_value = "ffmpeg")]
        ffmpeg: String,
        #[arg(long, default_value_t = 100)]
        concurrency: usize,
    },
    /// Sustained events per second: one member per room changes state in a loop.
    Events {
        #[arg(long)]
        url: String,
        #[arg(long)]
        server_pid: u32,
        #[arg(long, default_value_t = 50)]
        rooms: usize,
        #[arg(long, default_value_t = 100)]
        per_room: usize,
        #[arg(long, default_value_t = 3)]
        warmup_secs: u64,
        #[arg(long, default_value_t = 15)]
        secs: u64,
        #[arg(long, default_value_t = 200)]
        concurrency: usize,
    },
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
            Cmd::Idle {
                url,
                server_pid,
                members,
                rooms,
                hold_secs,
                concurrency,
            } => {
                idle::run(idle::Args {
                    url,
                    server_pid,
                    members,
                    rooms,
                    hold_secs,
                    concurrency,
                })
                .await
            }
            Cmd::Fanout {
                url,
                server_pid,
                members,
                trials,
                ffmpeg,
                concurrency,
            } => {
                if members < 2 {
                    return Err("--members must be at least 2".to_owned());
                }
                fanout::run(fanout::Args {
                    url,
                    server_pid,
                    members,
                    trials,
                    ffmpeg,
                    concurrency,
                })
                .await
            }
            Cmd::Events {
                url,
                server_pid,
                rooms,
                per_room,
                warmup_secs,
                secs,
                concurrency,
            } => {
                if per_room < 2 || rooms == 0 {
                    return Err("--rooms must be at least 1 and --per-room at least 2".to_owned());
                }
                throughput::run(throughput::Args {
                    url,
                    server_pid,
                    rooms,
                    per_room,
                    warmup_secs,
                    secs,
                    concurrency,
                })
                .await
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
