//! Webhooks: signed JSON events about an app's rooms, posted to the URLs its operator listed
//! (`webhooks = [...]` in the app's `[[apps]]` table), so that the app's backend learns that a
//! room ended or a recording finished without polling.
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`HookEvent`] (what the hub says happened), [`Webhooks`] (the queues), [`WebhookSample`] |
//! | `deliver.rs` | one worker per queue: sign, post, retry with backoff |
//!
//! # Why one queue per (app, URL)
//!
//! A queue per (app, URL), each drained by one worker in order, keeps every room's events in
//! order (and the app's as a whole, which a backend may rely on across rooms) with one task per
//! URL rather than one per room. The price is head-of-line blocking: a URL that fails holds
//! its later events while it is retried, which is what order means.
//!
//! # Why the room never waits
//!
//! The hub is sans-IO and says what happened as a [`crate::signaling::HubOut::Hook`]; the shell
//! hands it to [`Webhooks::emit`], which only appends to bounded in-memory queues under a
//! short lock and wakes the workers. A full queue loses its oldest event (logged and counted
//! as dropped), so a slow or dead receiver costs memory up to its cap and nothing else.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rand::RngCore;
use tokio_util::sync::CancellationToken;

use crate::config::{AppConfig, Secret};

mod deliver;

pub use deliver::{signature, BACKOFF_START, MAX_ATTEMPTS, TIMEOUT};

/// Events a queue holds when its app sets no `webhook_queue`.
pub const DEFAULT_QUEUE: usize = 1024;

/// What happened in a room, as the hub reports it; [`Webhooks::emit`] gives it an id and a
/// time and encodes it once for all the app's URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookEvent {
    /// The app key.
    pub app: String,
    /// The room name.
    pub room: String,
    /// `room.started`, `member.joined`, … (see the README's table).
    pub kind: &'static str,
    /// The event's fields.
    pub data: serde_json::Value,
}

/// One event waiting for a URL: its id and its body, shared by the app's queues.
#[derive(Debug, Clone)]
struct Pending {
    id: Arc<str>,
    body: Arc<str>,
}

/// The events waiting for one URL of one app.
struct Queue {
    url: String,
    /// The URL as logs show it: without its query, where a backend may have put a token.
    shown: String,
    secret: Secret,
    cap: usize,
    items: Mutex<VecDeque<Pending>>,
    wake: tokio::sync::Notify,
}

/// Totals for `/metrics`; plain atomics, the metrics library stays in `metrics.rs`.
#[derive(Debug, Default)]
struct Counts {
    delivered: AtomicU64,
    failures: AtomicU64,
    retries: AtomicU64,
    dropped: AtomicU64,
    given_up: AtomicU64,
}

/// The webhook totals and queue depth one scrape shows.
#[derive(Debug, Clone, Default)]
pub struct WebhookSample {
    /// Deliveries answered with a 2xx.
    pub delivered: u64,
    /// Attempts that failed (connect error, timeout, non-2xx).
    pub failures: u64,
    /// Attempts made again after a failure.
    pub retries: u64,
    /// Events dropped from a full queue (the oldest first).
    pub dropped: u64,
    /// Events given up after [`MAX_ATTEMPTS`] failed attempts.
    pub given_up: u64,
    /// Events waiting in all queues.
    pub queued: usize,
}

/// The webhook queues of every app that lists URLs, and their workers.
#[derive(Clone, Default)]
pub struct Webhooks {
    by_app: Arc<HashMap<String, Vec<Arc<Queue>>>>,
    counts: Arc<Counts>,
}

impl Webhooks {
    /// A queue per (app, URL) of `apps`; nothing runs until [`Webhooks::start`].
    pub fn new<'a>(apps: impl IntoIterator<Item = &'a AppConfig>) -> Self {
        let mut by_app = HashMap::new();
        for a in apps {
            // Config::resolve refuses webhooks on an app without a secret; none is sent unsigned.
            let Some(secret) = a.secret.clone().filter(|_| !a.webhooks.is_empty()) else {
                continue;
            };
            let queues = a
                .webhooks
                .iter()
                .map(|url| {
                    Arc::new(Queue {
                        url: url.clone(),
                        shown: url.split(['?', '#']).next().unwrap_or("").to_owned(),
                        secret: secret.clone(),
                        cap: a.webhook_queue.unwrap_or(DEFAULT_QUEUE),
                        items: Mutex::new(VecDeque::new()),
                        wake: tokio::sync::Notify::new(),
                    })
                })
                .collect();
            by_app.insert(a.key.clone(), queues);
        }
        Self {
            by_app: Arc::new(by_app),
            counts: Arc::default(),
        }
    }

    /// Starts one delivery worker per queue; they stop when `stop` is cancelled.
    pub fn start(&self, stop: &CancellationToken) -> std::io::Result<()> {
        let tls = crate::tasks::image::web_tls()?;
        for q in self.by_app.values().flatten() {
            let worker = deliver::Worker {
                queue: q.clone(),
                counts: self.counts.clone(),
                tls: tls.clone(),
            };
            tokio::spawn(worker.run(stop.clone()));
        }
        Ok(())
    }

    /// Queues `ev` for each URL of its app; never waits. A full queue drops its oldest event.
    pub fn emit(&self, ev: HookEvent) {
        let Some(queues) = self.by_app.get(&ev.app) else {
            return;
        };
        let mut bits = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bits);
        let id: String = bits.iter().map(|b| format!("{b:02x}")).collect();
        let time_ms = crate::signaling::ws::now_ms();
        let body = serde_json::json!({
            "id": id,
            "type": ev.kind,
            "app": ev.app,
            "room": ev.room,
            "time_ms": time_ms,
            "data": ev.data,
        })
        .to_string();
        let p = Pending {
            id: id.into(),
            body: body.into(),
        };
        for q in queues {
            let mut items = q.items.lock().unwrap_or_else(|e| e.into_inner());
            if items.len() >= q.cap {
                if let Some(old) = items.pop_front() {
                    self.counts.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(url = %q.shown, id = %old.id, "webhook queue full: oldest event dropped");
                }
            }
            items.push_back(p.clone());
            drop(items);
            q.wake.notify_one();
        }
    }

    /// The totals and the queue depth now.
    pub fn sample(&self) -> WebhookSample {
        let c = &self.counts;
        WebhookSample {
            delivered: c.delivered.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            given_up: c.given_up.load(Ordering::Relaxed),
            queued: self
                .by_app
                .values()
                .flatten()
                .map(|q| q.items.lock().map_or(0, |i| i.len()))
                .sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(webhooks: &[&str], queue: Option<usize>) -> AppConfig {
        AppConfig {
            key: "a".into(),
            secret: Some("k".into()),
            insecure: false,
            max_rooms: None,
            webhooks: webhooks.iter().map(|u| (*u).to_owned()).collect(),
            webhook_queue: queue,
        }
    }

    fn ev(n: u64) -> HookEvent {
        HookEvent {
            app: "a".into(),
            room: "r".into(),
            kind: "member.joined",
            data: serde_json::json!({ "uid": n }),
        }
    }

    /// The scheme against a vector computed apart (`printf '1.{}' | openssl dgst -sha256
    /// -hmac k`): HMAC-SHA256 keyed with the secret over `{timestamp}.{body}`, in hex.
    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        assert_eq!(
            signature(b"k", 1, "{}"),
            "v1=3dd49b2593d0f9a349e9e71c4bde3e2b862c2be4003fe9b4ba81332029310158"
        );
    }

    #[test]
    fn a_full_queue_drops_its_oldest_and_counts_it() {
        let w = Webhooks::new([&app(&["http://h/x?token=s"], Some(2))]);
        for n in 1..=5 {
            w.emit(ev(n));
        }
        let s = w.sample();
        assert_eq!((s.queued, s.dropped), (2, 3));
        let q = &w.by_app["a"][0];
        assert_eq!(q.shown, "http://h/x");
        let kept: Vec<serde_json::Value> = q
            .items
            .lock()
            .unwrap()
            .iter()
            .map(|p| {
                serde_json::from_str::<serde_json::Value>(&p.body).unwrap()["data"]["uid"].clone()
            })
            .collect();
        assert_eq!(kept, [4, 5]);
        // Another app's events, and an app without URLs, queue nothing.
        w.emit(HookEvent {
            app: "b".into(),
            ..ev(6)
        });
        assert_eq!(Webhooks::new([&app(&[], None)]).by_app.len(), 0);
        assert_eq!(w.sample().queued, 2);
    }
}
