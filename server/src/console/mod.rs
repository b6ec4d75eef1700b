//! The operator console: a page at `/console` that shows the apps, rooms, members, streams
//! (with a live HTTP-FLV preview), push tasks and recordings, and can kick a member, close a
//! room and stop a task.
//!
//! # Who may use it
//!
//! The operator, with the console's own bearer token, `console_token` (the server API's Basic
//! credentials are per app; the console shows every app). It is not `metrics_token`: that
//! one sits in a monitoring system and only reads, while this one kicks and closes. Without
//! a `console_token` the console is not served at all (404), as `/metrics` is not without its
//! token. A wrong token is a failed login of the address under the same throttle
//! as the server API and `/metrics` (10 a minute, then 429).
//!
//! # Why a bearer header kept in `sessionStorage`, not a cookie
//!
//! Browsers attach cookies to requests other sites make; they never attach an
//! `Authorization` header the page did not set. So no action can be forged from another
//! site (CSRF) without the token, with no CSRF token or `SameSite` rules to get right, and
//! the token never appears in a URL (history, proxy logs) or in the server's logs.
//! `sessionStorage` keeps it for the tab only: it goes when the tab closes. The page holds
//! no inline script and a strict CSP (see [`assets`]), so a hostile room or user name that
//! got into the page as markup would still not run.
//!
//! # Where things are
//!
//! | file | what |
//! | --- | --- |
//! | `assets.rs` | the page, its script and style, the FLV player, and their security headers |
//! | `api.rs` | the JSON reads and the actions, behind the token |
//! | `recordings.rs` | the recordings on disk, capped |

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;

use crate::config::{AppConfig, Secret};
use crate::signaling::ws::Signaling;
use crate::throttle::LoginThrottle;

mod api;
mod assets;
mod recordings;

pub(crate) use api::bearer_matches;
pub use recordings::{Recording, MAX_RECORDINGS_LISTED};

/// What the console reads and acts on.
#[derive(Clone)]
pub struct Console {
    /// The signaling shell and its hub.
    pub signaling: Signaling,
    /// The apps (keys and whether they are insecure; never their secrets).
    pub apps: Arc<HashMap<String, AppConfig>>,
    /// The operator's bearer token.
    pub token: Secret,
    /// Where push tasks record.
    pub recordings_dir: PathBuf,
    /// The HTTP-FLV base URL the previews play from; its origin goes into the page's CSP.
    pub flv_base: String,
}

/// The console's routes: the page and its files, anonymous (they hold no data), and the API
/// behind the token and the login throttle. The files stay outside the throttle: their
/// successful answers would otherwise count as logins and reset a guesser's failures.
pub fn router(console: Console, throttle: Arc<Mutex<LoginThrottle>>) -> Router {
    let page = assets::router(&console.flv_base);
    let api = api::router(console).layer(axum::middleware::from_fn_with_state(
        throttle,
        crate::http_api::throttled,
    ));
    page.merge(api)
}
