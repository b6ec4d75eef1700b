//! The oracle of the fault runs: each app's model of the room, built from its events and
//! checked as they come (nothing twice, nothing missing), and the end check that, once the
//! network healed, every client, its events and the server agree.

use std::collections::BTreeMap;

use mprtc::core::{AppEvent, MediaKind};
use mprtc::protocol::{Media, MemberInfo, Role};

use crate::common::{AUDIO, VIDEO};
use crate::Sim;

/// `uid`'s entry in a model of the room, which an event about `what` of it needs: an event
/// about a member the app never saw join is itself a fault.
fn known<'a>(model: &'a mut BTreeMap<u64, Media>, who: u64, uid: u64, what: &str) -> &'a mut Media {
    model
        .get_mut(&uid)
        .unwrap_or_else(|| panic!("uid {who}: {what} of unknown {uid}"))
}

impl Sim {
    /// Check each app event against the app's model of the room, then apply it.
    pub(crate) fn app_event(&mut self, i: usize, e: AppEvent) {
        match e {
            AppEvent::Reconnected { resumed: true } => self.resumed += 1,
            AppEvent::Reconnected { resumed: false } => self.fresh += 1,
            AppEvent::WillReconnect { count: 1, .. } => self.drops += 1,
            _ => {}
        }
        if let AppEvent::WillReconnect { gap: true, .. } = e {
            self.gaps += 1;
        }
        // A session lost without its final event, which needs none (see `history`).
        let a = &mut self.peers[i].applied;
        let lost = match e {
            AppEvent::Reconnected { resumed: false } => a.prev.clone(),
            AppEvent::ReconnectFailed { .. } | AppEvent::Disconnect { .. } => a.session.clone(),
            _ => None,
        };
        a.excused.extend(lost);
        let p = &mut self.peers[i];
        let who = p.uid;
        let kind = |k: MediaKind| match k {
            MediaKind::Audio => AUDIO,
            MediaKind::Video => VIDEO,
        };
        match e {
            AppEvent::ClientJoin { uid } => {
                assert!(
                    p.view.insert(uid, Media::NONE).is_none(),
                    "uid {who}: {uid} joined twice"
                );
                p.muted.insert(uid, Media::NONE);
            }
            AppEvent::ClientLeave { uid, .. } => {
                p.muted.remove(&uid);
                let live = p.view.remove(&uid);
                assert_eq!(
                    live,
                    Some(Media::NONE),
                    "uid {who}: {uid} left unknown or live"
                );
            }
            AppEvent::StreamAdded { uid, media } => {
                let m = known(&mut p.view, who, uid, "stream");
                assert!(
                    m.intersect(kind(media)).is_empty(),
                    "uid {who}: {uid} {media:?} added twice"
                );
                *m = m.union(kind(media));
            }
            AppEvent::StreamRemoved { uid, media } => {
                let m = known(&mut p.view, who, uid, "stream");
                assert!(
                    !m.intersect(kind(media)).is_empty(),
                    "uid {who}: {uid} {media:?} removed when not live"
                );
                *m = m.minus(kind(media));
            }
            AppEvent::MuteChanged { uid, media, muted } => {
                let m = known(&mut p.muted, who, uid, "mute");
                assert_eq!(
                    m.intersect(kind(media)).is_empty(),
                    muted,
                    "uid {who}: {uid} {media:?} muted={muted} twice"
                );
                *m = if muted {
                    m.union(kind(media))
                } else {
                    m.minus(kind(media))
                };
            }
            _ => {}
        }
    }

    /// What the server holds about each member but `me`, by uid.
    fn others<T>(&self, me: u64, f: impl Fn(&MemberInfo) -> T) -> BTreeMap<u64, T> {
        self.hub
            .snapshot(self.app, "r")
            .iter()
            .filter(|m| m.uid != me)
            .map(|m| (m.uid, f(m)))
            .collect()
    }

    pub(crate) fn check(&self, seed: u64) {
        let truth: BTreeMap<u64, Media> = self
            .hub
            .snapshot(self.app, "r")
            .iter()
            .map(|m| (m.uid, m.live))
            .collect();
        for p in &self.peers {
            let me = p.uid;
            assert!(
                p.ops.is_empty(),
                "seed {seed}: uid {me}: unsettled ops {:?}",
                p.ops
            );
            assert!(
                !p.core.is_reconnecting(),
                "seed {seed}: uid {me} still reconnecting"
            );
            if !p.core.is_joined() {
                assert!(
                    !truth.contains_key(&me),
                    "seed {seed}: uid {me} is out but the server has it"
                );
                continue;
            }
            assert!(
                truth.contains_key(&me),
                "seed {seed}: uid {me} is in but the server lost it"
            );
            assert!(!self.hub.is_detached(self.app, "r", me));
            let expect: BTreeMap<u64, Media> = truth
                .iter()
                .filter(|(u, _)| **u != me)
                .map(|(u, m)| (*u, *m))
                .collect();
            let core: BTreeMap<u64, Media> = p.core.members().map(|(u, r)| (u, r.live)).collect();
            assert_eq!(
                core, expect,
                "seed {seed}: uid {me}'s core differs from the server"
            );
            assert_eq!(
                p.view, expect,
                "seed {seed}: uid {me}'s events add up to another room"
            );
            assert_eq!(
                p.muted,
                self.others(me, |m| m.muted),
                "seed {seed}: uid {me}'s mute events disagree"
            );
            let core_roles: BTreeMap<u64, Role> =
                p.core.members().map(|(u, r)| (u, r.role)).collect();
            assert_eq!(
                core_roles,
                self.others(me, |m| m.role),
                "seed {seed}: uid {me} knows other roles than the server's"
            );
            let own_role = self
                .hub
                .snapshot(self.app, "r")
                .iter()
                .find(|m| m.uid == me)
                .map(|m| m.role);
            assert_eq!(
                Some(p.core.role()),
                own_role,
                "seed {seed}: uid {me} thinks its own role is another than the server's"
            );
            assert_eq!(
                Some(p.core.last_seq()),
                self.hub.member_seq(self.app, "r", me),
                "seed {seed}: uid {me} missed events"
            );
        }
    }
}
