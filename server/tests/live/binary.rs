//! The `mprtc-server` binary as a process: started with its listeners on loopback ports, read
//! up to its ready line, and stopped with SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};

use serde_json::Value;

/// The server binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_mprtc-server");

/// The binary with its three listeners (signaling, RTMP, HTTP-FLV) on loopback ports the system
/// picks; the caller adds its own flags and environment.
pub fn on_loopback() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--rtmp-listen",
        "127.0.0.1:0",
        "--flv-listen",
        "127.0.0.1:0",
    ]);
    cmd
}

/// Spawns `cmd` with its stdout piped and reads the first line, the ready line: the process,
/// that line as printed, and the rest of its stdout (drop it to stop reading).
pub fn spawn_ready(cmd: &mut Command) -> (Child, String, BufReader<ChildStdout>) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    (child, line, stdout)
}

/// The signaling URL a ready line names.
pub fn signal_url(ready: &str) -> String {
    let ready: Value = serde_json::from_str(ready).expect("ready line");
    ready["endpoints"]["signal"].as_str().unwrap().to_string()
}

/// Sends SIGTERM and waits (off the async threads) for the process to exit.
pub async fn terminate(mut child: Child) -> ExitStatus {
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap()
}
