//! The component bridge: what a page forwards from `<live-pusher>` and `<live-player>` (through
//! `client.dataReporter(kind, event, data, uid?)`) read into typed values.
//!
//! Everything here is lenient on purpose. The components' payloads differ between base library
//! versions and platforms, typings disagree on whether numbers are numbers or strings, and pages
//! forward what they get (`e.detail`, `e.detail.info`, or a hand-built object). So the parsers
//! never fail: a field that cannot be read is left out, a code nobody documented is kept as
//! `Unknown(code)`, and a payload with nothing readable parses to `None`. Only the *names* of
//! the component and of the event are strict (see [`ComponentKind`] and [`ReportEvent`]),
//! because a typo there is a programming error the app wants to hear about.

use ::core::str::FromStr;

use crate::prelude::*;
use crate::text::{cat, quoted};

use super::error::Error;

/// Which component a report comes from, as `dataReporter`'s first argument names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ComponentKind {
    /// `'push'`: the page's `<live-pusher>` (this member's own stream).
    Push,
    /// `'pull'`: a `<live-player>` playing a remote member's stream.
    Pull,
}

impl ComponentKind {
    /// The name `dataReporter` takes and events carry (`'push'` / `'pull'`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Push => "push",
            Self::Pull => "pull",
        }
    }
}

impl FromStr for ComponentKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "push" => Ok(Self::Push),
            "pull" => Ok(Self::Pull),
            other => Err(Error::invalid(cat(&[
                "dataReporter kind must be 'push' (<live-pusher>) or 'pull' (<live-player>), not ",
                &quoted(other),
            ]))),
        }
    }
}

/// Which component event a report carries, named after the component's attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportEvent {
    /// `'bindstatechange'`: `e.detail` is `{code}`.
    StateChange,
    /// `'bindnetstatus'`: `e.detail.info` (or `e.detail`) is the [`NetStatus`] object.
    NetStatus,
    /// `'binderror'`: `e.detail` is `{errCode, errMsg}`.
    Error,
}

impl ReportEvent {
    /// The component attribute's name, as `dataReporter` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::StateChange => "bindstatechange",
            Self::NetStatus => "bindnetstatus",
            Self::Error => "binderror",
        }
    }
}

impl FromStr for ReportEvent {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "bindstatechange" => Ok(Self::StateChange),
            "bindnetstatus" => Ok(Self::NetStatus),
            "binderror" => Ok(Self::Error),
            other => Err(Error::invalid(cat(&[
                "dataReporter event must be 'bindstatechange', 'bindnetstatus' or 'binderror', not ",
                &quoted(other),
            ]))),
        }
    }
}

mod codes;
mod lenient;
mod net_status;
#[cfg(test)]
mod tests;

pub use codes::{ComponentErrorCode, PlayerState, PusherState};
pub use lenient::{parse_component_error, parse_player_state, parse_pusher_state};
pub use net_status::{parse_net_status, NetStatus};

/// The last `bindstatechange` of a component, typed by the component it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComponentState {
    /// From `<live-pusher>`.
    Pusher(PusherState),
    /// From a `<live-player>`.
    Player(PlayerState),
}

/// A `binderror` report: `{errCode, errMsg}`, either of which may be missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentError {
    /// `errCode`, when readable.
    pub code: Option<ComponentErrorCode>,
    /// `errMsg`, when readable.
    pub message: Option<String>,
}
