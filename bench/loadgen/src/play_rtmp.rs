//! One RTMP viewer: a `rml_rtmp` client session over a tokio socket, playing a signed play URL
//! the way `<live-player>` does (connect to the application, play the stream name with its
//! query), counting what arrives into a [`Meter`]. The session answers the server's pings and
//! acknowledges the bytes it read, as real players do: nginx-rtmp ends a viewer that leaves its
//! ping unanswered for `ping` + `ping_timeout` (90 s by default).

use std::sync::Arc;
use std::time::Duration;

use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::meter::{follow, Meter};

/// Reads from the socket in pieces of this size (the stream's chunks are 4 KiB at nginx-rtmp).
const READ: usize = 16 * 1024;

/// The parts of `rtmp://host:port/app/name?query`: (host:port, app, name?query).
pub fn split(url: &str) -> Result<(String, String, String), String> {
    let rest = url
        .strip_prefix("rtmp://")
        .ok_or_else(|| format!("not an rtmp:// URL: {url}"))?;
    let (addr, path) = rest.split_once('/').ok_or("no application in the URL")?;
    let (app, name) = path.split_once('/').ok_or("no stream name in the URL")?;
    let addr = if addr.contains(':') {
        addr.to_owned()
    } else {
        format!("{addr}:1935")
    };
    Ok((addr, app.to_owned(), name.to_owned()))
}

/// Plays `url` until the connection ends; every way it ends is recorded in `meter`. A viewer
/// whose play is not accepted within `admit_within` is given up.
pub async fn play(url: String, meter: Arc<Meter>, admit_within: Duration) {
    follow(&meter, admit_within, run(&url, &meter)).await;
}

async fn run(url: &str, meter: &Meter) -> Result<(), String> {
    let (addr, app, name) = split(url)?;
    let mut sock = TcpStream::connect(&addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = sock.set_nodelay(true);
    let leftover = handshake(&mut sock).await?;
    let mut cfg = ClientSessionConfig::new();
    // As ffmpeg and the players send it: the application's URL, without the stream.
    cfg.tc_url = Some(format!("rtmp://{addr}/{app}"));
    let (session, first) = ClientSession::new(cfg).map_err(|e| format!("session: {e:?}"))?;
    let mut v = Viewer {
        session,
        name: Some(name),
        meter,
    };
    let connect = v
        .session
        .request_connection(app)
        .map_err(|e| format!("connect request: {e:?}"))?;
    for r in first.into_iter().chain([connect]) {
        v.handle(&mut sock, r).await?;
    }
    v.input(&mut sock, &leftover).await?;
    let mut buf = vec![0u8; READ];
    loop {
        let n = read_some(&mut sock, &mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        v.input(&mut sock, &buf[..n]).await?;
    }
}

/// The client side of the RTMP handshake; returns the bytes that came after it.
async fn handshake(sock: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut hs = Handshake::new(PeerType::Client);
    let c0c1 = hs
        .generate_outbound_p0_and_p1()
        .map_err(|e| format!("handshake: {e:?}"))?;
    write(sock, &c0c1).await?;
    let mut buf = vec![0u8; READ];
    loop {
        let n = read_some(sock, &mut buf).await?;
        if n == 0 {
            return Err("closed during the handshake".to_owned());
        }
        match hs
            .process_bytes(&buf[..n])
            .map_err(|e| format!("handshake: {e:?}"))?
        {
            HandshakeProcessResult::InProgress { response_bytes } => {
                write(sock, &response_bytes).await?;
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                write(sock, &response_bytes).await?;
                return Ok(remaining_bytes);
            }
        }
    }
}

/// A viewer's session: asks to play `name` once connected, and counts media into `meter`.
struct Viewer<'a> {
    session: ClientSession,
    name: Option<String>,
    meter: &'a Meter,
}

impl Viewer<'_> {
    /// Feeds bytes read from the server to the session and carries out what it answers.
    async fn input(&mut self, sock: &mut TcpStream, bytes: &[u8]) -> Result<(), String> {
        if bytes.is_empty() {
            return Ok(());
        }
        let results = self
            .session
            .handle_input(bytes)
            .map_err(|e| format!("RTMP: {e:?}"))?;
        for r in results {
            self.handle(sock, r).await?;
        }
        Ok(())
    }

    /// Carries out one session result: sends packets, asks to play once connected, counts media.
    async fn handle(&mut self, sock: &mut TcpStream, r: ClientSessionResult) -> Result<(), String> {
        let ev = match r {
            ClientSessionResult::OutboundResponse(p) => return write(sock, &p.bytes).await,
            ClientSessionResult::RaisedEvent(ev) => ev,
            ClientSessionResult::UnhandleableMessageReceived(_) => return Ok(()),
        };
        match ev {
            ClientSessionEvent::ConnectionRequestAccepted => {
                let name = self.name.take().ok_or("connected twice")?;
                let play = self
                    .session
                    .request_playback(name)
                    .map_err(|e| format!("play request: {e:?}"))?;
                if let ClientSessionResult::OutboundResponse(p) = play {
                    write(sock, &p.bytes).await?;
                }
            }
            ClientSessionEvent::ConnectionRequestRejected { description } => {
                return Err(format!("connect refused: {description}"));
            }
            ClientSessionEvent::PlaybackRequestAccepted => self.meter.admitted(),
            ClientSessionEvent::VideoDataReceived { timestamp, data } => {
                self.meter.video(timestamp.value, data.len());
            }
            ClientSessionEvent::AudioDataReceived { data, .. } => self.meter.media(data.len()),
            ClientSessionEvent::UnhandleableOnStatusCode { code } if code.contains("Failed") => {
                return Err(format!("play refused: {code}"));
            }
            _ => {}
        }
        Ok(())
    }
}

async fn read_some(sock: &mut TcpStream, buf: &mut [u8]) -> Result<usize, String> {
    sock.read(buf).await.map_err(|e| format!("read: {e}"))
}

async fn write(sock: &mut TcpStream, bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() {
        return Ok(());
    }
    sock.write_all(bytes)
        .await
        .map_err(|e| format!("write: {e}"))
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn a_play_url_splits_into_address_application_and_name_with_its_query() {
        let (addr, app, name) = split("rtmp://127.0.0.1:4000/live/r.2?k=demo&e=9&s=x").unwrap();
        assert_eq!(addr, "127.0.0.1:4000");
        assert_eq!(app, "live");
        assert_eq!(name, "r.2?k=demo&e=9&s=x");
        assert_eq!(split("rtmp://h/live/x").unwrap().0, "h:1935");
        assert!(split("http://h/live/x").is_err());
        assert!(split("rtmp://h/live").is_err());
    }
}
