//! A member over a real WebSocket that keeps every event it is sent, in order, so that a
//! test can compare what members on different nodes were told.
#![allow(dead_code)] // each suite uses its own part of it

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::live::{connect, join, token_for};

/// How long anything a member waits for may take on a loaded machine; only the event decides.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A member over a WebSocket on `S`: plain TCP by default, TLS through a load balancer too.
pub struct Member<S = MaybeTlsStream<tokio::net::TcpStream>> {
    pub uid: u64,
    ws: WebSocketStream<S>,
    /// Every event frame so far, as sent (with its `seq`).
    pub events: Vec<Value>,
    /// The join's answer (its session id, snapshot, whether it resumed).
    pub joined: Value,
    next_id: u32,
}

impl Member {
    /// Joins app `sec`'s `room` as `uid` through the node at `url`; the join must succeed.
    pub async fn join(url: &str, room: &str, uid: u64) -> Self {
        match Self::join_over(connect(url).await, room, uid).await {
            Ok(m) => m,
            Err(r) => panic!("join of {uid}: {r:?}"),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Member<S> {
    /// Joins app `sec`'s `room` as `uid` over `ws`: the member, or what the server said
    /// instead (its refusal, or the connection's close code).
    pub async fn join_over(ws: WebSocketStream<S>, room: &str, uid: u64) -> Result<Self, Value> {
        Self::rejoin_over(ws, room, uid, None).await
    }

    /// [`Member::join_over`] asking to resume `resume`, a member's earlier self: its session
    /// and the seq of the last event it had.
    pub async fn rejoin_over(
        ws: WebSocketStream<S>,
        room: &str,
        uid: u64,
        resume: Option<&Self>,
    ) -> Result<Self, Value> {
        let claim = resume.map(|old| {
            let last_seq = old.events.last().map_or(0, |e| e["seq"].as_u64().unwrap());
            (old.joined["body"]["session"].clone(), last_seq)
        });
        Self::rejoin_claiming(ws, room, uid, claim).await
    }

    /// [`Member::join_over`] asking to resume session `claim.0` having seen events up to
    /// seq `claim.1` (true or not: a test may claim more than it saw).
    pub async fn rejoin_claiming(
        ws: WebSocketStream<S>,
        room: &str,
        uid: u64,
        claim: Option<(Value, u64)>,
    ) -> Result<Self, Value> {
        let t = token_for(room, &uid.to_string(), Default::default());
        match Self::join_with(ws, room, uid, &t, claim).await {
            Ok((m, r)) if r["ok"] == true => Ok(m),
            Ok((_, r)) => Err(r),
            Err(code) => Err(serde_json::json!({ "closed": code })),
        }
    }

    /// Joins app `sec`'s `room` as `uid` with `token` over `ws`, asking to resume session
    /// `claim.0` from seq `claim.1` if given: the member, its `events` holding the event
    /// frames sent before the answer, and the answer, success or not; or the close code if the
    /// connection closed first.
    pub async fn join_with(
        ws: WebSocketStream<S>,
        room: &str,
        uid: u64,
        token: &str,
        claim: Option<(Value, u64)>,
    ) -> Result<(Self, Value), Option<u16>> {
        let mut m = Self {
            uid,
            ws,
            events: Vec::new(),
            joined: Value::Null,
            next_id: 1,
        };
        let mut frame = join(0, "sec", room, uid, Some(token));
        if let Some((session, last_seq)) = claim {
            frame["body"]["resume"] = serde_json::json!({"session": session, "last_seq": last_seq});
        }
        let r = m.try_ask(frame).await?;
        if r["ok"] == true {
            m.joined = r.clone();
        }
        Ok((m, r))
    }

    /// Numbers this member's next requests after those of `old`, its earlier self, as the
    /// SDK's client does across a resume: the server answers a repeated id from its cache.
    pub fn follow(&mut self, old: &Self) {
        self.next_id = self.next_id.max(old.next_id);
    }

    /// The next frame, within [`PATIENCE`]; `Err` once the connection closed, with its code.
    async fn next(&mut self) -> Result<Value, Option<u16>> {
        loop {
            let m = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("member {}: nothing for 60 s", self.uid));
            match m {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v.get("seq").is_some() {
                        self.events.push(v.clone());
                    }
                    return Ok(v);
                }
                Some(Ok(Message::Close(f))) => return Err(f.map(|f| u16::from(f.code))),
                None | Some(Err(_)) => return Err(None),
                Some(Ok(_)) => {}
            }
        }
    }

    /// Sends `frame` (its `id` replaced by a fresh one) and returns its answer, or the close
    /// code if the connection closed first.
    pub async fn try_ask(&mut self, mut frame: Value) -> Result<Value, Option<u16>> {
        let id = self.next_id;
        self.next_id += 1;
        frame["id"] = id.into();
        if self
            .ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .is_err()
        {
            return Err(None);
        }
        loop {
            let v = self.next().await?;
            if v["re"] == id {
                return Ok(v);
            }
        }
    }

    /// Sends `frame` and returns its answer, which must be a success.
    pub async fn ask_ok(&mut self, frame: Value) -> Value {
        let r = self.try_ask(frame).await.expect("open until answered");
        assert_eq!(r["ok"], true, "member {}: {r}", self.uid);
        r
    }

    /// Reads until an event of `kind` whose body's `uid` is `uid` (any, if `None`).
    pub async fn until(&mut self, kind: &str, uid: Option<u64>) -> Value {
        loop {
            let v = self.next().await.unwrap_or_else(|c| {
                panic!("member {} closed ({c:?}) waiting for {kind}", self.uid)
            });
            let about = uid.is_none_or(|u| v["body"]["uid"] == u);
            if v["type"] == kind && about {
                return v;
            }
        }
    }

    /// Reads until the server closes the connection: its close code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            if let Err(code) = self.next().await {
                return code;
            }
        }
    }

    /// The events about member `about` (`room-closed` included), without their `seq`.
    pub fn about(&self, about: u64) -> Vec<Value> {
        self.events
            .iter()
            .filter(|e| e["body"]["uid"] == about || e["type"] == "room-closed")
            .map(|e| serde_json::json!({"type": e["type"], "body": e["body"]}))
            .collect()
    }

    /// Fails unless the seqs this member was sent are 1, 2, 3, ... without a gap or a repeat.
    pub fn seqs_in_order(&self) {
        for (i, e) in self.events.iter().enumerate() {
            assert_eq!(
                e["seq"],
                i as u64 + 1,
                "member {}: {:?}",
                self.uid,
                self.events
            );
        }
    }
}
