//! What pages report about their `<live-pusher>` and `<live-player>` components, and the
//! recoveries the core makes when one gives up.

use super::requests::Pend;
use super::room::Joined;
use super::Client;
use crate::core::component::{
    self, ComponentError, ComponentKind, ComponentState, NetStatus, PlayerState, PusherState,
    ReportEvent,
};
use crate::core::error::Error;
use crate::core::output::{AppEvent, Output, Phase};
use crate::protocol::json::Json;
use crate::protocol::*;

/// How often quality samples of one component reach the app at most.
pub const QUALITY_INTERVAL_MS: u64 = 1_000;

/// What the page last reported about one `<live-pusher>` or `<live-player>`
/// (see [`Client::data_reporter`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComponentStatus {
    /// The last `bindstatechange` code.
    pub state: Option<ComponentState>,
    /// The last `bindnetstatus` info.
    pub net: Option<NetStatus>,
    /// The last `binderror`.
    pub error: Option<ComponentError>,
    /// When any of them was last reported (the `now` of that call).
    pub updated_ms: u64,
    /// When a quality sample of this component last reached the app.
    pub quality_sent_ms: Option<u64>,
    /// The phase last announced (`pusher-state` / `player-state`).
    pub phase: Option<Phase>,
}

pub(super) type ComponentKey = (ComponentKind, Option<u64>);

impl Joined {
    /// What the page last reported about one component.
    pub(super) fn component(&self, key: ComponentKey) -> Option<&ComponentStatus> {
        self.components
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, c)| c)
    }

    /// The entry of one component, made empty on its first report.
    pub(super) fn component_mut(&mut self, key: ComponentKey) -> &mut ComponentStatus {
        let i = match self.components.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.components.push((key, ComponentStatus::default()));
                self.components.len() - 1
            }
        };
        &mut self.components[i].1
    }
}

impl Client {
    /// What the page forwards from its `<live-pusher>` (`Push`) or a `<live-player>` (`Pull`):
    /// `report` is the event's `e.detail` (or `e.detail.info` for netstatus), read leniently by
    /// [`component`]; odd contents are ignored, never an error. `uid` names the remote member a
    /// player plays (for `Pull` it may be left out while exactly one member is subscribed); for
    /// `Push` it is this member.
    ///
    /// The core acts on fatal states a fresh URL cures: `<live-pusher>` -1307 re-publishes
    /// what is published and `<live-player>` -2301 re-subscribes what was subscribed from that
    /// member; the new URL comes out as [`AppEvent::SyncDone`]. One recovery per component at a
    /// time: reports of the same failure while it is in flight change nothing.
    pub fn data_reporter(
        &mut self,
        now: u64,
        kind: ComponentKind,
        event: ReportEvent,
        report: &Json,
        uid: Option<u64>,
    ) -> Result<(), Error> {
        let j = self.joined.as_mut().ok_or_else(|| {
            Error::new(
                ErrorCode::NotJoined,
                "dataReporter needs a joined room; join first",
            )
        })?;
        let key = component_key(j, kind, uid);
        // A player report with no uid when no single player can be meant is refused, not kept
        // under no member: the shim logs the refusal (`dataReporter ignored: 1001 ...`).
        if kind == ComponentKind::Pull && key.is_none() {
            return Err(Error::invalid(
                "dataReporter('pull') needs the uid unless exactly one member is subscribed",
            ));
        }
        let entry = j.component_mut((kind, key));
        entry.updated_ms = now;
        let mut recover = false;
        let mut phase = None;
        match event {
            ReportEvent::StateChange => {
                let state = match kind {
                    ComponentKind::Push => component::parse_pusher_state(report).map(|s| {
                        recover = s.needs_new_url();
                        phase = match s {
                            PusherState::PushBegin => Some((Phase::Active, s.code())),
                            _ if s.is_fatal() => Some((Phase::Failed, s.code())),
                            _ => None,
                        };
                        ComponentState::Pusher(s)
                    }),
                    ComponentKind::Pull => component::parse_player_state(report).map(|s| {
                        recover = s.needs_new_url();
                        phase = match s {
                            PlayerState::PlayBegin => Some((Phase::Active, s.code())),
                            _ if s.is_fatal() => Some((Phase::Failed, s.code())),
                            _ => None,
                        };
                        ComponentState::Player(s)
                    }),
                };
                if state.is_some() {
                    entry.state = state;
                }
            }
            ReportEvent::NetStatus => {
                if let Some(n) = component::parse_net_status(report) {
                    // Pages forward every sample (about one a second per component, more on
                    // some phones); the app gets at most one per second per component.
                    let due = entry
                        .quality_sent_ms
                        .is_none_or(|t| now.saturating_sub(t) >= QUALITY_INTERVAL_MS);
                    if due && !n.is_empty() {
                        if let Some(uid) = key {
                            entry.quality_sent_ms = Some(now);
                            self.out.push_back(Output::Event(AppEvent::Quality {
                                kind,
                                uid,
                                net: n.clone(),
                            }));
                        }
                    }
                    entry.net = Some(n);
                }
            }
            ReportEvent::Error => {
                if let Some(e) = component::parse_component_error(report) {
                    entry.error = Some(e);
                }
            }
        }
        // `joined` is still there (checked above); matching it again keeps a panic path out.
        if let (Some((phase, code)), Some(uid), Some(j)) = (phase, key, self.joined.as_mut()) {
            let entry = j.component_mut((kind, key));
            if entry.phase != Some(phase) || phase == Phase::Failed {
                entry.phase = Some(phase);
                self.out.push_back(Output::Event(match kind {
                    ComponentKind::Push => AppEvent::PusherState { phase, code },
                    ComponentKind::Pull => AppEvent::PlayerState { uid, phase, code },
                }));
            }
        }
        if recover {
            match kind {
                ComponentKind::Push => self.recover_push(now),
                ComponentKind::Pull => {
                    if let Some(uid) = key {
                        self.recover_pull(now, uid);
                    }
                }
            }
        }
        Ok(())
    }

    /// `<live-pusher>` gave up: ask for a fresh push URL for what is published.
    pub(super) fn recover_push(&mut self, now: u64) {
        let Some(j) = self.joined.as_mut() else {
            return;
        };
        if j.push_recovering || j.published.is_empty() || j.role == Role::Audience {
            return;
        }
        self.republish(now);
    }

    /// The `<live-player>` playing `uid` gave up: ask for a fresh play URL.
    pub(super) fn recover_pull(&mut self, now: u64, uid: u64) {
        let Some(j) = self.joined.as_mut() else {
            return;
        };
        let Some(media) = j.sub(uid) else {
            return;
        };
        if j.pull_recovering.contains(&uid) {
            return;
        }
        self.resubscribe(now, uid, media);
    }

    /// The component that shows the app's stream `stream` (ZEGO names components by stream
    /// id), as [`Client::data_reporter`] takes it: this member's own stream is its
    /// `<live-pusher>`, any other the `<live-player>` playing the member behind it; `None`
    /// for a stream no member has.
    pub fn stream_component(&self, stream: &str) -> Option<(ComponentKind, Option<u64>)> {
        if self.joined.as_ref()?.stream.as_deref() == Some(stream) {
            return Some((ComponentKind::Push, None));
        }
        Some((ComponentKind::Pull, Some(self.uid_of_stream(stream)?)))
    }

    /// Publish again what is published, for a fresh push URL: the answer comes out as
    /// [`AppEvent::SyncDone`] (a recovery, or the restore after a fresh rejoin).
    pub(super) fn republish(&mut self, now: u64) {
        let Some(j) = self.joined.as_mut() else {
            return;
        };
        j.push_recovering = true;
        let req = PublishReq {
            media: j.published,
            stream: j.stream.clone(),
        };
        self.internal_request(now, RequestKind::Publish, &req, Pend::Republish);
    }

    /// Subscribe again to `media` of `uid`, for a fresh play URL: the answer comes out as
    /// [`AppEvent::SyncDone`] (a recovery, or the restore after a fresh rejoin).
    pub(super) fn resubscribe(&mut self, now: u64, uid: u64, media: Media) {
        if let Some(j) = self.joined.as_mut() {
            j.pull_recovering.push(uid);
        }
        self.internal_request(
            now,
            RequestKind::Subscribe,
            &SubscribeReq { uid, media },
            Pend::Resubscribe { uid },
        );
    }

    /// Announce a component's phase if it changed.
    pub(super) fn set_phase(&mut self, kind: ComponentKind, uid: Option<u64>, phase: Phase) {
        let Some(j) = self.joined.as_mut() else {
            return;
        };
        let key = component_key(j, kind, uid);
        let Some(who) = key else {
            return;
        };
        let entry = j.component_mut((kind, key));
        if entry.phase == Some(phase) {
            return;
        }
        entry.phase = Some(phase);
        self.out.push_back(Output::Event(match kind {
            ComponentKind::Push => AppEvent::PusherState { phase, code: 0 },
            ComponentKind::Pull => AppEvent::PlayerState {
                uid: who,
                phase,
                code: 0,
            },
        }));
    }
}

/// Which component entry a report is about: the pusher is always this member's; a player is the
/// given uid, or the only subscribed member when the page left the uid out.
pub(super) fn component_key(j: &Joined, kind: ComponentKind, uid: Option<u64>) -> Option<u64> {
    match kind {
        ComponentKind::Push => Some(j.uid),
        ComponentKind::Pull => uid.or_else(|| match j.subs[..] {
            [(only, _)] => Some(only),
            _ => None,
        }),
    }
}
