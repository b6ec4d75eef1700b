//! A client that does not read what it is sent, and the member whose requests make the
//! server send it more than it may hold: the slow-consumer bound's tests, on one node and
//! behind a relay.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::{recv, Ws};

/// Mute toggles a flood sends: with ~70 bytes an event, far past any socket buffer.
pub const TOGGLES: u32 = 120_000;
/// Toggles sent before their answers are read.
const BATCH: u32 = 500;

/// A WebSocket to `url` whose receive buffer is 4 KiB: as long as it reads nothing, what the
/// server sends it piles up at the server.
pub async fn connect_unread(url: &str) -> Ws {
    let addr = super::binary::host_port(url);
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(addr.parse().unwrap()).await.unwrap();
    let tcp = tokio_tungstenite::MaybeTlsStream::Plain(tcp);
    tokio_tungstenite::client_async(url, tcp).await.unwrap().0
}

/// Sends [`TOGGLES`] audio mute toggles over `busy` (ids from 10), reading the answers of
/// each batch of them, so that only the other members of its room fall behind; every
/// batch's last answer must be a success.
pub async fn flood_mutes(busy: &mut Ws) {
    for batch in 0..TOGGLES / BATCH {
        for i in batch * BATCH..(batch + 1) * BATCH {
            let f =
                json!({"v":1,"id":10 + i,"type":"mute","body":{"audio":true,"muted":i % 2 == 0}});
            busy.feed(Message::Text(f.to_string().into()))
                .await
                .unwrap();
        }
        busy.flush().await.unwrap();
        let last = 10 + (batch + 1) * BATCH - 1;
        loop {
            let v = recv(busy).await;
            if v["re"] == last {
                assert_eq!(v["ok"], true, "{v}");
                break;
            }
        }
    }
}

/// Reads `victim` until its connection ends, within `bound`: the text frames it read (what
/// the kernel buffered) and the close code, if a close came.
pub async fn read_to_end(victim: &mut Ws, bound: Duration) -> (u64, Option<u16>) {
    let mut events = 0u64;
    let end = tokio::time::timeout(bound, async {
        loop {
            match victim.next().await {
                Some(Ok(Message::Text(_))) => events += 1,
                Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
                None | Some(Err(_)) => return None,
                _ => {}
            }
        }
    })
    .await
    .expect("the unread member's connection was ended");
    (events, end)
}
