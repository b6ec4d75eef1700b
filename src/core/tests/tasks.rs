//! Push tasks: forwarded as given, checked by the server, statuses in order.

use super::*;
use crate::protocol::frame::{encode_err, encode_event, encode_ok};
use crate::protocol::*;

/// A push-task request body as an app writes it, with one member on the canvas.
fn task_req(id: &str, width: u32) -> String {
    serde_json::json!({"rtmpTasks": [{
        "taskId": id, "streamUrl": "rtmp://cdn/x",
        "layout": {"canvas": {"width": 1280, "height": 720, "color": 0},
                   "users": [{"uid": 2, "x": 0, "y": 0, "width": width, "height": 360}]}
    }]})
    .to_string()
}

/// The core does not rewrite push tasks (the server checks them), and their statuses reach
/// the app in the order the server sent them.
#[test]
fn tasks_go_to_the_server_as_given_and_statuses_arrive_in_order() {
    let mut c = client();
    let e = c.add_tasks(1, &task_req("t1", 640)).unwrap_err();
    assert_eq!(e.code, ErrorCode::NotJoined);
    let mut c = joined(vec![]);
    for not_an_object in ["[]", "null", "", "{\"rtmpTasks\": [", "7"] {
        let e = c.add_tasks(1, not_an_object).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTask, "{not_an_object:?}");
        let e = c.delete_tasks(1, not_an_object).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTask, "{not_an_object:?}");
    }
    assert!(drain(&mut c).is_empty(), "nothing was sent");

    // The server checks the rules; its refusal, with the field, is the app's error.
    let op = c.add_tasks(1, &task_req("t1", 2000)).unwrap();
    let (id, kind, body) = sent(&drain(&mut c)).remove(0);
    assert_eq!(kind, RequestKind::AddTasks);
    assert_eq!(body["rtmpTasks"][0]["layout"]["users"][0]["width"], 2000);
    let refusal = WireError {
        code: ErrorCode::InvalidTask,
        msg: "rtmpTasks[0].layout.users[0].width must be 1 to 1280 (the canvas width)".into(),
        field: Some("rtmpTasks[0].layout.users[0].width".into()),
    };
    c.handle_socket_message(2, &encode_err(Some(id), &refusal));
    match drain(&mut c).as_slice() {
        [Output::Reject { op: o, error }] => {
            assert_eq!(*o, op);
            assert_eq!(error.code, ErrorCode::InvalidTask);
            assert_eq!(error.field, refusal.field);
        }
        other => panic!("{other:?}"),
    }

    let op = c.add_tasks(1, &task_req("t1", 640)).unwrap();
    let (id, kind, body) = sent(&drain(&mut c)).remove(0);
    assert_eq!(kind, RequestKind::AddTasks);
    assert_eq!(body["rtmpTasks"][0]["layout"]["users"][0]["width"], 640);
    c.handle_socket_message(2, &encode_ok(id, &serde_json::json!({})));
    assert_eq!(
        drain(&mut c),
        vec![Output::Resolve {
            op,
            value: OpValue::Done
        }]
    );
    let status = |seq, code: u16| {
        encode_event(
            seq,
            &Event::TaskStatus {
                task_id: "t1".into(),
                code,
                msg: "m".into(),
                stream_url: "rtmp://cdn/x".into(),
            },
        )
    };
    c.handle_socket_message(3, &status(1, 506));
    c.handle_socket_message(3, &status(2, 505));
    c.handle_socket_message(3, &status(2, 505)); // duplicate seq
    c.handle_socket_message(3, &status(3, 511));
    let codes: Vec<u16> = drain(&mut c)
        .into_iter()
        .filter_map(|o| match o {
            Output::Event(AppEvent::RtmpTasksStatus { code, .. }) => Some(code),
            _ => None,
        })
        .collect();
    assert_eq!(codes, vec![506, 505, 511]);
    c.delete_tasks(4, r#"{"taskIds": ["t1"]}"#).unwrap();
    let (_, kind, body) = sent(&drain(&mut c)).remove(0);
    assert_eq!(kind, RequestKind::DeleteTasks);
    assert_eq!(body, serde_json::json!({"taskIds": ["t1"]}));
}
