//! A WebSocket echo server: the floor for a request round trip on the same loopback, with the
//! same WebSocket library family as mprtc-server and, like it, Nagle left on.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

pub async fn run(listen: SocketAddr) -> Result<(), String> {
    let l = TcpListener::bind(listen).await.map_err(|e| e.to_string())?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    // One machine-readable line, as mprtc-server prints its endpoints.
    println!(
        "{}",
        serde_json::json!({ "event": "ready", "url": format!("ws://{addr}/") })
    );
    loop {
        let (tcp, _) = l.accept().await.map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            while let Some(Ok(m)) = ws.next().await {
                let reply = match m {
                    Message::Text(_) | Message::Binary(_) => m,
                    Message::Close(_) => break,
                    _ => continue,
                };
                if ws.send(reply).await.is_err() {
                    break;
                }
            }
        });
    }
}
