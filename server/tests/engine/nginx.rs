//! nginx with its RTMP module, started from `deploy/nginx-rtmp/*.conf` as they are, with only
//! their `@PLACEHOLDERS@` replaced, in the foreground under a private prefix directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_ports, read, terminate, DEADLINE};

/// The nginx binary and the module the deploy configs load.
pub const NGINX: &str = "/usr/sbin/nginx";
pub const RTMP_MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

/// Whether nginx and its RTMP module are installed. Missing: the suite is skipped with a
/// printed reason, except under `CI=true`, where `scripts/setup` installs them and a missing
/// module is a failure.
pub fn available(suite: &str) -> bool {
    installed(suite, &[NGINX, RTMP_MODULE])
}

/// Whether every one of `files` exists; [`available`]'s skip-or-fail rule otherwise.
pub fn installed(suite: &str, files: &[&str]) -> bool {
    let missing: Vec<&str> = files
        .iter()
        .copied()
        .filter(|f| !Path::new(f).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{missing:?} missing under CI=true: scripts/setup installs them");
    }
    eprintln!("skipping {suite}: {missing:?} not installed (scripts/setup installs them)");
    false
}

/// One nginx-rtmp node; stopped (SIGTERM to the master, which ends its worker) when dropped.
pub struct Node {
    _nginx: Nginx,
    pub dir: PathBuf,
    /// Its RTMP listener's port.
    pub rtmp: u16,
    /// Its control HTTP listener's port.
    pub control: u16,
}

impl Node {
    /// `rtmp://127.0.0.1:port/live`.
    pub fn rtmp_base(&self) -> String {
        format!("rtmp://127.0.0.1:{}/live", self.rtmp)
    }

    /// `http://127.0.0.1:port/control`.
    pub fn control_base(&self) -> String {
        format!("http://127.0.0.1:{}/control", self.control)
    }

    /// The node's error log, for failure messages.
    pub fn log(&self) -> String {
        read(&self.dir.join("logs/error.log"))
    }
}

/// The ports a node will listen on, picked before its configuration is written (the server
/// must know them first).
pub struct Ports {
    pub rtmp: u16,
    pub control: u16,
}

impl Ports {
    /// Ports for `n` nodes, all different.
    pub fn pick(n: usize) -> Vec<Self> {
        free_ports(2 * n)
            .chunks(2)
            .map(|p| Self {
                rtmp: p[0],
                control: p[1],
            })
            .collect()
    }
}

/// Starts `deploy/nginx-rtmp/{conf}` under `dir` with `vars` (`@NAME@` → value) and the
/// listeners of `ports`; returns once both listeners accept connections.
pub async fn start(conf: &str, dir: &Path, ports: Ports, vars: &[(&str, String)]) -> Node {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/nginx-rtmp")
        .join(conf);
    start_text(
        conf,
        std::fs::read_to_string(&src).unwrap(),
        dir,
        ports,
        vars,
    )
    .await
}

/// A plain nginx-rtmp without hooks, standing in for a CDN's ingest that push tasks push to:
/// anything may publish and play there.
pub async fn start_plain(dir: &Path, ports: Ports) -> Node {
    let text = format!(
        "load_module {RTMP_MODULE};\nworker_processes 1;\ndaemon off;\npid nginx.pid;\n\
         error_log logs/error.log info;\nevents {{ worker_connections 256; }}\n\
         rtmp {{ server {{ listen @RTMP_LISTEN@; application live {{ live on; }} }} }}\n\
         http {{ access_log off; client_body_temp_path tmp; proxy_temp_path tmp; \
         fastcgi_temp_path tmp; uwsgi_temp_path tmp; scgi_temp_path tmp; \
         server {{ listen @CONTROL_LISTEN@; location /control {{ rtmp_control all; }} }} }}\n"
    );
    start_text("plain", text, dir, ports, &[]).await
}

/// Starts nginx from configuration `text` (named `conf` in messages) with its placeholders
/// replaced.
async fn start_text(
    conf: &str,
    text: String,
    dir: &Path,
    ports: Ports,
    vars: &[(&str, String)],
) -> Node {
    let listen = |p: u16| format!("127.0.0.1:{p}");
    let all: Vec<(&str, String)> = [
        ("RTMP_LISTEN", listen(ports.rtmp)),
        ("CONTROL_LISTEN", listen(ports.control)),
    ]
    .into_iter()
    .chain(vars.iter().cloned())
    .collect();
    let text = replace(conf, text, &all);
    let _nginx = spawn(conf, &text, dir, &[ports.rtmp, ports.control]).await;
    Node {
        _nginx,
        dir: dir.to_owned(),
        rtmp: ports.rtmp,
        control: ports.control,
    }
}

/// `text` with each `@NAME@` of `vars` replaced; fails the test if a placeholder is left.
pub fn replace(conf: &str, mut text: String, vars: &[(&str, String)]) -> String {
    for (k, v) in vars {
        text = text.replace(&format!("@{k}@"), v);
    }
    assert!(
        !text.contains('@'),
        "a placeholder of {conf} is left: {text}"
    );
    text
}

/// An nginx master process; stopped (SIGTERM, which ends its workers) when dropped.
pub struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        terminate(&mut self.0);
    }
}

/// Writes `text` as `dir/nginx.conf`, checks it with `nginx -t` and runs nginx in the foreground
/// with `dir` as its prefix (logs in `dir/logs`); returns once each of `ports` on 127.0.0.1
/// accepts connections.
pub async fn spawn(conf: &str, text: &str, dir: &Path, ports: &[u16]) -> Nginx {
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let path = dir.join("nginx.conf");
    std::fs::write(&path, text).unwrap();
    let prefix = format!("{}/", dir.display());
    let test = Command::new(NGINX)
        .args(["-t", "-q", "-p", &prefix, "-c"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "nginx -t {conf}: {}",
        String::from_utf8_lossy(&test.stderr)
    );
    let child = Command::new(NGINX)
        .args(["-p", &prefix, "-c"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let nginx = Nginx(child);
    for &port in ports {
        accepting(port).await.unwrap_or_else(|| {
            panic!(
                "nginx {conf} does not listen on {port}: {}",
                read(&dir.join("logs/error.log"))
            )
        });
    }
    nginx
}

/// Waits until 127.0.0.1:`port` accepts a connection (within [`DEADLINE`]).
async fn accepting(port: u16) -> Option<()> {
    tokio::time::timeout(DEADLINE, async {
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .ok()
}
