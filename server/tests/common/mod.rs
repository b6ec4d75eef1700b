//! What the in-memory tests share: a hub with a debug app ("dbg") and a secure one ("sec").

use std::collections::HashMap;
use std::sync::Arc;

use mprtc::protocol::Media;
use mprtc_server::config::AppConfig;
use mprtc_server::media::MediaSigner;
use mprtc_server::signaling::Hub;
use mprtc_server::tasks::TaskPolicy;

/// Audio only.
pub const AUDIO: Media = Media {
    audio: true,
    video: false,
};

/// Video only.
pub const VIDEO: Media = Media {
    audio: false,
    video: true,
};

/// The secret of app "sec".
pub const SECRET: &str = "app-secret";

/// A hub with apps "dbg" (no tokens) and "sec" (tokens signed with [`SECRET`]), and the signer
/// it mints media URLs with.
pub fn hub() -> (Hub, Arc<MediaSigner>) {
    hub_with_salt(7)
}

/// As [`hub`], with the per-process salt a restarted server would draw anew.
pub fn hub_with_salt(salt: u64) -> (Hub, Arc<MediaSigner>) {
    let mut apps = HashMap::new();
    for (key, secret) in [("dbg", None), ("sec", Some(SECRET))] {
        apps.insert(
            key.to_owned(),
            AppConfig {
                key: key.into(),
                secret: secret.map(Into::into),
                insecure: secret.is_none(),
                max_rooms: None,
                webhooks: Vec::new(),
                webhook_queue: None,
            },
        );
    }
    let signer = Arc::new(MediaSigner::new(
        b"media".to_vec(),
        "rtmp://h:1/live",
        "http://h:2/live",
        600,
    ));
    // The in-memory tests manage tasks from the debug app: the operator switch that allows it.
    let policy = TaskPolicy {
        insecure_apps: true,
        ..TaskPolicy::default()
    };
    (
        Hub::new(apps, signer.clone(), 4096, seed(salt)).with_task_policy(policy),
        signer,
    )
}

/// A hub's id-generator seed drawn from a test's number.
pub fn seed(n: u64) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&n.to_le_bytes());
    s
}
