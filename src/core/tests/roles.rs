//! A member's own role as the server has it: the server tells every member of every role
//! change, its own included, so a demotion it decided and a `setRole` whose answer was lost
//! both reach the core's `role()`; the app hears only what it did not ask for.

use super::*;
use crate::protocol::frame::encode_event;

fn own_role(role: Role) -> Event {
    Event::RoleChanged { uid: 1, role }
}

/// The server demotes the member (its renewed token no longer grants publishing): the core's
/// role follows, publishing is refused, and the app is told.
#[test]
fn a_role_the_server_decided_is_taken_and_told() {
    let mut c = publishing(Media::BOTH);
    c.handle_socket_message(5, &encode_event(1, &own_role(Role::Audience)));
    assert_eq!(
        events(&drain(&mut c)),
        vec![AppEvent::RoleChanged {
            uid: 1,
            role: Role::Audience
        }]
    );
    assert_eq!(c.role(), Role::Audience);
    assert_eq!(
        c.publish(6, Media::BOTH).unwrap_err().code,
        ErrorCode::AudienceCannotPublish
    );
}

/// The member's own `setRole`: its event may arrive before the answer; the call's promise is
/// the news, so the event adds nothing for the app.
#[test]
fn an_asked_role_is_not_told_twice() {
    let mut c = joined(vec![]);
    let op = c.set_role(1, Role::Audience).unwrap();
    let (id, _, _) = sent(&drain(&mut c)).remove(0);
    c.handle_socket_message(2, &encode_event(1, &own_role(Role::Audience)));
    assert_eq!(drain(&mut c), vec![]);
    assert_eq!(c.role(), Role::Audience);
    c.handle_socket_message(3, &encode_ok(id, &serde_json::json!({})));
    assert_eq!(
        drain(&mut c),
        vec![Output::Resolve {
            op,
            value: OpValue::Done
        }]
    );
    // The same role again (a replay, a repeat) is no news either.
    c.handle_socket_message(4, &encode_event(2, &own_role(Role::Audience)));
    assert_eq!(drain(&mut c), vec![]);
}

/// A `setRole` the app gave up on (1004) that the server carried out all the same: the event
/// corrects the core, and the app hears the role it has after all.
#[test]
fn a_timed_out_set_role_the_server_applied_still_lands() {
    let mut c = joined(vec![]);
    let op = c.set_role(1, Role::Audience).unwrap();
    drain(&mut c);
    let at = c.poll_timeout().expect("the request has a deadline");
    c.handle_timeout(at);
    let outs = drain(&mut c);
    assert!(
        outs.iter().any(|o| matches!(o, Output::Reject { op: o2, error } if *o2 == op && error.code == ErrorCode::Timeout)),
        "{outs:?}"
    );
    assert_eq!(c.role(), Role::Broadcaster, "not applied on a timeout");
    c.handle_socket_message(at + 1, &encode_event(1, &own_role(Role::Audience)));
    assert_eq!(
        events(&drain(&mut c)),
        vec![AppEvent::RoleChanged {
            uid: 1,
            role: Role::Audience
        }]
    );
    assert_eq!(c.role(), Role::Audience);
}
