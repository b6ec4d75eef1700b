//! One simulated member: the real sans-IO core (`mprtc::core::Client`) driven by a tokio task
//! over a real WebSocket, so that joins, heartbeats, events and resumes are exactly what a
//! mini-program sends and receives. The task does what the JS shim does: carries socket
//! events and time into the core and the core's outputs out.

use std::collections::HashMap;
use std::future::pending;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use mprtc::core::{AppEvent, Client, ClientConfig, Error, OpId, OpValue, Output};
use mprtc::protocol::{ErrorCode, Media};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An API call, as the app makes it.
#[derive(Debug, Clone)]
pub enum Api {
    Join {
        room: String,
        uid: u64,
    },
    Publish(Media),
    Unpublish(Media),
    Mute(Media),
    Unmute(Media),
    /// Receive `Media` of member `u64`: resolves with its play URLs.
    Subscribe(u64, Media),
}

pub const AUDIO: Media = Media {
    audio: true,
    video: false,
};
pub const VIDEO: Media = Media {
    audio: false,
    video: true,
};
pub const BOTH: Media = Media {
    audio: true,
    video: true,
};

impl Api {
    fn call(self, c: &mut Client, now: u64) -> Result<OpId, Error> {
        match self {
            Api::Join { room, uid } => c.join(now, &room, uid, None),
            Api::Publish(m) => c.publish(now, m),
            Api::Unpublish(m) => c.unpublish(now, m),
            Api::Mute(m) => c.mute(now, m),
            Api::Unmute(m) => c.unmute(now, m),
            Api::Subscribe(uid, m) => c.subscribe(now, uid, m),
        }
    }
}

/// Sees every app event of every member, with when its frame came off the socket.
pub trait Observer: Send + Sync + 'static {
    fn event(&self, member: usize, ev: &AppEvent, read_at: Instant);
}

struct Cmd {
    api: Api,
    reply: oneshot::Sender<Result<OpValue, Error>>,
}

/// The app side of a member: API calls go to its task.
pub struct Member {
    tx: mpsc::UnboundedSender<Cmd>,
}

/// The receive buffer tungstenite allocates (and zero-fills) per socket; its default of
/// 128 KiB would make 10,000 members cost the load generator over a gigabyte. Frames larger
/// than this still arrive: the buffer grows for them.
const READ_BUFFER: usize = 4096;

impl Member {
    /// Starts the member's task. `cfg.server` is where it connects (on `join`).
    pub fn spawn(id: usize, cfg: ClientConfig, obs: Arc<dyn Observer>) -> Member {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(drive(id, Client::new(cfg), rx, obs));
        Member { tx }
    }

    /// Makes an API call and waits for its outcome.
    pub async fn call(&self, api: Api) -> Result<OpValue, Error> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Cmd { api, reply }).map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }
}

fn gone() -> Error {
    Error::new(ErrorCode::Cancelled, "member task ended")
}

/// The member's task: ends when its [`Member`] is dropped (the socket just goes, as when a
/// phone loses its network).
async fn drive(
    id: usize,
    mut core: Client,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    obs: Arc<dyn Observer>,
) {
    let epoch = Instant::now();
    let now = move || epoch.elapsed().as_millis() as u64;
    let mut ws: Option<Ws> = None;
    let mut ops: HashMap<OpId, oneshot::Sender<Result<OpValue, Error>>> = HashMap::new();
    let mut read_at = Instant::now();
    loop {
        while let Some(out) = core.poll_output() {
            match out {
                Output::Connect { url } => {
                    ws = None;
                    let cfg = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
                    let limit = Duration::from_secs(10);
                    let opened = tokio::time::timeout(
                        limit,
                        tokio_tungstenite::connect_async_with_config(url.as_str(), Some(cfg), true),
                    )
                    .await;
                    match opened {
                        Ok(Ok((s, _))) => {
                            ws = Some(s);
                            core.handle_socket_open(now());
                        }
                        Ok(Err(e)) => core.handle_socket_close(now(), 1006, &e.to_string()),
                        Err(_) => core.handle_socket_close(now(), 1006, "connect timed out"),
                    }
                }
                Output::Send(text) => {
                    let failed = match ws.as_mut() {
                        Some(s) => s.send(Message::text(text)).await.is_err(),
                        None => false,
                    };
                    if failed {
                        ws = None;
                        core.handle_socket_close(now(), 1006, "send failed");
                    }
                }
                Output::Close { code, reason } => {
                    if let Some(mut s) = ws.take() {
                        let frame = CloseFrame {
                            code: CloseCode::from(code),
                            reason: reason.clone().into(),
                        };
                        let _ = s.close(Some(frame)).await;
                    }
                    // The shim hears its own close back from WeChat; here it is immediate.
                    core.handle_socket_close(now(), code, &reason);
                }
                Output::Event(e) => obs.event(id, &e, read_at),
                Output::Resolve { op, value } => {
                    if let Some(r) = ops.remove(&op) {
                        let _ = r.send(Ok(value));
                    }
                }
                Output::Reject { op, error } => {
                    if let Some(r) = ops.remove(&op) {
                        let _ = r.send(Err(error));
                    }
                }
            }
        }
        let deadline = core
            .poll_timeout()
            .map(|t| tokio::time::Instant::from_std(epoch + Duration::from_millis(t)));
        tokio::select! {
            msg = next(&mut ws) => {
                read_at = Instant::now();
                match msg {
                    Some(Ok(Message::Text(t))) => core.handle_socket_message(now(), t.as_str()),
                    Some(Ok(Message::Close(f))) => {
                        ws = None;
                        let (code, reason) = f
                            .map(|f| (u16::from(f.code), f.reason.to_string()))
                            .unwrap_or((1005, String::new()));
                        core.handle_socket_close(now(), code, &reason);
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        ws = None;
                        core.handle_socket_close(now(), 1006, &e.to_string());
                    }
                    None => {
                        ws = None;
                        core.handle_socket_close(now(), 1006, "connection closed");
                    }
                }
            }
            _ = sleep_until(deadline) => core.handle_timeout(now()),
            cmd = cmds.recv() => match cmd {
                Some(Cmd { api, reply }) => match api.call(&mut core, now()) {
                    Ok(op) => {
                        ops.insert(op, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                },
                None => return,
            },
        }
    }
}

async fn next(
    ws: &mut Option<Ws>,
) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
    match ws {
        Some(s) => s.next().await,
        None => pending().await,
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => pending().await,
    }
}

/// A core configuration for `url` with the app key the bench server runs in debug mode.
pub fn config(url: &str, seed: u64) -> ClientConfig {
    let mut c = ClientConfig::new("demo", url).expect("ws:// URL and an app key");
    c.seed = seed;
    c
}
