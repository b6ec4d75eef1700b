//! Tokens: checked at join, warned of, renewed and expired, and naming the member by user id.

use mprtc::core::{AppEvent, Client, ClientConfig, OpValue};
use mprtc::protocol::{ErrorCode, KickReason, LeaveReason, Role};
use mprtc_server::token::{self, Privileges};

use crate::common::SECRET;
use crate::support::*;

/// A token of app `sec` for `room` and `uid` with the default privileges, issued at `iat` (s)
/// and valid for `ttl` seconds.
fn sec_token(room: &str, uid: u64, iat: u64, ttl: u64) -> String {
    token::mint(
        SECRET.as_bytes(),
        "sec",
        room,
        uid,
        Privileges::default(),
        iat,
        ttl,
    )
}

#[test]
fn tokens_are_checked() {
    let mut net = Net::new(1).with_app(0, "sec");
    let now_s = net.now / 1000;
    assert_eq!(
        net.join(0, "r", 5).unwrap_err().code,
        ErrorCode::TokenRequired
    );
    let expired = sec_token("r", 5, now_s - 100, 10);
    assert_eq!(
        net.run(0, |c, now| c.join(now, "r", 5, Some(expired)))
            .unwrap_err()
            .code,
        ErrorCode::TokenExpired
    );
    let other_room = sec_token("x", 5, now_s, 60);
    assert_eq!(
        net.run(0, |c, now| c.join(now, "r", 5, Some(other_room)))
            .unwrap_err()
            .code,
        ErrorCode::TokenInvalid
    );
    let forged = token::mint(b"wrong", "sec", "r", 5, Privileges::default(), now_s, 60);
    assert_eq!(
        net.run(0, |c, now| c.join(now, "r", 5, Some(forged)))
            .unwrap_err()
            .code,
        ErrorCode::TokenInvalid
    );
    let watch_only = token::mint(
        SECRET.as_bytes(),
        "sec",
        "r",
        5,
        Privileges {
            publish: false,
            subscribe: true,
            tasks: None,
            record: None,
        },
        now_s,
        60,
    );
    assert_eq!(
        net.run(0, |c, now| c.join(now, "r", 5, Some(watch_only))),
        Ok(OpValue::Done)
    );
    assert_eq!(
        net.peers[0].core.role(),
        Role::Audience,
        "no publish privilege means audience"
    );
    assert_eq!(
        net.run(0, |c, now| c.set_role(now, Role::Broadcaster))
            .unwrap_err()
            .code,
        ErrorCode::PermissionDenied
    );
    assert_eq!(net.hub.session_count(), 1);
}

#[test]
fn tokens_warn_renew_and_expire() {
    let mut net = Net::new(2).with_app(0, "sec");
    let t0 = net.now / 1000;
    let tok = sec_token("r", 5, t0, 60);
    net.run(0, |c, now| c.join(now, "r", 5, Some(tok))).unwrap();
    net.peers[1].core = Client::new(ClientConfig::new("sec", "ws://x/ws").unwrap());
    let tok6 = sec_token("r", 6, t0, 3600);
    net.run(1, |c, now| c.join(now, "r", 6, Some(tok6)))
        .unwrap();
    net.events(0);
    net.events(1);
    let tick = |net: &mut Net, secs: u64| {
        net.now += secs * 1000;
        let mut out = Vec::new();
        net.hub.tick(net.now, &mut out);
        deliver(net, out);
    };
    tick(&mut net, 20);
    assert_eq!(net.events(0), vec![], "not yet");
    tick(&mut net, 15);
    assert_eq!(
        net.events(0),
        vec![AppEvent::TokenWillExpire { remaining_s: 25 }]
    );
    tick(&mut net, 1);
    assert_eq!(net.events(0), vec![], "warned once");
    // a token for another uid is refused; a fresh one for this uid is taken
    let wrong = sec_token("r", 6, net.now / 1000, 120);
    assert_eq!(
        net.run(0, |c, now| c.renew_token(now, wrong))
            .unwrap_err()
            .code,
        ErrorCode::TokenInvalid
    );
    let fresh = sec_token("r", 5, net.now / 1000, 120);
    assert_eq!(
        net.run(0, |c, now| c.renew_token(now, fresh)),
        Ok(OpValue::Done)
    );
    tick(&mut net, 60);
    assert_eq!(
        net.events(0),
        vec![],
        "the renewed token holds past the old expiry"
    );
    // never renewed again: warned, then the session ends with a typed reason
    tick(&mut net, 40);
    assert!(matches!(
        net.events(0)[..],
        [AppEvent::TokenWillExpire { .. }]
    ));
    tick(&mut net, 30);
    let ev = net.events(0);
    assert_eq!(
        ev,
        vec![AppEvent::Kicked {
            reason: KickReason::TokenExpired
        }]
    );
    assert!(!net.peers[0].core.is_joined());
    assert_eq!(
        net.events(1),
        vec![AppEvent::ClientLeave {
            uid: 5,
            reason: LeaveReason::Kicked
        }]
    );
    assert!(
        net.peers[1].core.is_joined(),
        "the other member's token is still good"
    );
}

/// A token may name the member by its app-chosen user id.
#[test]
fn a_token_may_name_the_user_id() {
    use mprtc::protocol::names::uid_for_user;
    use mprtc::protocol::UserTag;
    let mut net = Net::new(1).with_app(0, "sec");
    let t0 = net.now / 1000;
    let claims_for = |who: &str| {
        let c = token::Claims {
            app: "sec".into(),
            room: "r".into(),
            uid: who.into(),
            iat: t0,
            exp: t0 + 600,
            privileges: Privileges::default(),
        };
        token::sign(SECRET.as_bytes(), &c)
    };
    let tag = UserTag {
        id: "carol".into(),
        name: String::new(),
    };
    let uid = uid_for_user("carol");
    let wrong = claims_for("dave");
    let r = net.run(0, |c, now| {
        c.join_as(now, "r", uid, Some(wrong), Some(tag.clone()))
    });
    assert_eq!(r.unwrap_err().code, ErrorCode::TokenInvalid);
    let right = claims_for("carol");
    net.run(0, |c, now| {
        c.join_as(now, "r", uid, Some(right), Some(tag.clone()))
    })
    .unwrap();
}
