//! Room messages in virtual time: `sendMessage` goes out as `send-message` and resolves with
//! the server's id and time; a `message` event reaches the app once and in order (a gap is
//! repaired by a resume, as for every event); bad input fails at once with 1001, without a
//! request; a message the server does not answer times out like any request.

use super::*;
use crate::protocol::frame::encode_event;

fn message(id: u64, from: u64, text: &str) -> Event {
    Event::Message {
        id,
        kind: MessageKind::Barrage,
        from,
        text: text.into(),
        ts: 1_700_000_000_000 + id,
    }
}

#[test]
fn a_message_is_sent_and_resolves_with_its_id_and_time() {
    let mut c = joined(vec![member(2, Media::NONE)]);
    let op = c
        .send_message(10, MessageKind::Command, "go".into(), vec![2])
        .unwrap();
    let (id, kind, body) = sent(&drain(&mut c)).remove(0);
    assert_eq!(kind, RequestKind::SendMessage);
    assert_eq!(
        body,
        serde_json::json!({"kind": "command", "text": "go", "to": [2]})
    );
    c.handle_socket_message(11, &encode_ok(id, &SendMessageOk { id: 7, ts: 99 }));
    assert_eq!(
        drain(&mut c),
        vec![Output::Resolve {
            op,
            value: OpValue::Message { id: 7, ts: 99 }
        }]
    );
}

#[test]
fn messages_reach_the_app_once_in_order_and_a_gap_resumes() {
    let mut c = joined(vec![member(2, Media::NONE)]);
    c.handle_socket_message(10, &encode_event(1, &message(1, 2, "a")));
    c.handle_socket_message(11, &encode_event(2, &message(2, 2, "b")));
    // The same frame again (a replay after a resume overlapping what was seen) is not news.
    c.handle_socket_message(12, &encode_event(2, &message(2, 2, "b")));
    let got = events(&drain(&mut c));
    assert_eq!(
        got,
        vec![
            AppEvent::Message {
                id: 1,
                kind: MessageKind::Barrage,
                uid: 2,
                text: "a".into(),
                ts: 1_700_000_000_001
            },
            AppEvent::Message {
                id: 2,
                kind: MessageKind::Barrage,
                uid: 2,
                text: "b".into(),
                ts: 1_700_000_000_002
            },
        ]
    );
    // seq 4 after 2: one event was missed. The core does not pass 4 on; it reconnects and asks
    // the server for everything after 2.
    c.handle_socket_message(13, &encode_event(4, &message(4, 2, "d")));
    let outs = drain(&mut c);
    assert!(!events(&outs)
        .iter()
        .any(|e| matches!(e, AppEvent::Message { .. })));
    assert!(
        outs.iter().any(|o| matches!(o, Output::Close { .. })),
        "a gap drops the connection to resume: {outs:?}"
    );
}

#[test]
fn bad_messages_fail_at_once_without_a_request() {
    let mut c = joined(vec![]);
    let too_long = "x".repeat(MAX_MESSAGE_BYTES + 1);
    let targets = (2..=2 + MAX_MESSAGE_TARGETS as u64).collect::<Vec<_>>();
    for (kind, text, to) in [
        (MessageKind::Broadcast, String::new(), vec![]),
        (MessageKind::Broadcast, too_long, vec![]),
        (MessageKind::Broadcast, "hi".to_string(), vec![2]),
        (MessageKind::Command, "hi".to_string(), targets),
    ] {
        let e = c.send_message(1, kind, text, to).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
    }
    assert_eq!(sent(&drain(&mut c)), vec![]);
    // Exactly the limit is fine.
    c.send_message(
        2,
        MessageKind::Broadcast,
        "x".repeat(MAX_MESSAGE_BYTES),
        vec![],
    )
    .unwrap();
    // Not in a room: 4xxx not_joined, as for every room call.
    let mut fresh = client();
    let e = fresh
        .send_message(1, MessageKind::Broadcast, "hi".into(), vec![])
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotJoined);
}

#[test]
fn an_unanswered_message_times_out_like_any_request() {
    let mut c = joined(vec![]);
    let op = c
        .send_message(10, MessageKind::Broadcast, "hi".into(), vec![])
        .unwrap();
    drain(&mut c);
    let deadline = c.poll_timeout().unwrap();
    c.handle_timeout(deadline);
    let outs = drain(&mut c);
    assert!(
        outs.iter().any(|o| matches!(o, Output::Reject { op: o2, error } if *o2 == op && error.code == ErrorCode::Timeout)),
        "{outs:?}"
    );
}

#[test]
fn extra_info_goes_out_and_comes_in() {
    let mut c = joined(vec![member(2, Media::NONE)]);
    let op = c.set_extra_info(10, None, "cam".into()).unwrap();
    let (id, kind, body) = sent(&drain(&mut c)).remove(0);
    assert_eq!(kind, RequestKind::SetExtraInfo);
    assert_eq!(body, serde_json::json!({"value": "cam"}));
    c.handle_socket_message(11, &encode_ok(id, &serde_json::json!({})));
    let done = drain(&mut c);
    assert!(
        matches!(&done[..], [Output::Resolve { op: o, value: OpValue::Done }] if *o == op),
        "{done:?}"
    );
    let ev = Event::ExtraInfo {
        uid: 2,
        key: Some("topic".into()),
        value: "rust".into(),
        ts: 5,
    };
    c.handle_socket_message(12, &encode_event(1, &ev));
    assert_eq!(
        events(&drain(&mut c)),
        vec![AppEvent::ExtraInfo {
            uid: 2,
            key: Some("topic".into()),
            value: "rust".into(),
            ts: 5
        }]
    );
    for (key, value) in [
        (Some(String::new()), "x".to_string()),
        (Some("k".repeat(MAX_INFO_KEY_BYTES + 1)), "x".to_string()),
        (None, "v".repeat(MAX_INFO_VALUE_BYTES + 1)),
    ] {
        let e = c.set_extra_info(13, key, value).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
    }
}
