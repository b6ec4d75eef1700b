//! Push tasks through the real hub: refused with the field, following the room, kept across a
//! replaced session.

use mprtc::core::{AppEvent, Client, Error, OpId, OpValue};
use mprtc::protocol::{ErrorCode, KickReason, Media, Role};
use mprtc_server::media::MediaEvent;

use crate::support::*;

/// The SDK forwards task objects as the app gave them: the server is where they are typed and
/// checked, and its refusal names the field, whether the shape or a rule is wrong.
#[test]
fn tasks_of_the_wrong_shape_or_breaking_a_rule_are_refused_by_the_server_with_the_field() {
    let mut net = Net::new(1);
    net.join(0, "r", 1).unwrap();
    let mut refuse = |f: &dyn Fn(&mut Client, u64) -> Result<OpId, Error>| {
        let e = net.run(0, f).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTask, "{e:?}");
        (e.field.unwrap_or_default(), e.message)
    };
    let mut wide: serde_json::Value = serde_json::from_str(&tasks_req("t1", &[1])).unwrap();
    wide["rtmpTasks"][0]["layout"]["canvas"]["width"] = serde_json::json!("1280px");
    assert_eq!(
        refuse(&|c, now| c.add_tasks(now, &wide.to_string())),
        (
            "rtmpTasks[0].layout.canvas.width".into(),
            "rtmpTasks[0].layout.canvas.width: expected an integer from 0 to 4294967295".into()
        )
    );
    let mut no_layout: serde_json::Value = serde_json::from_str(&tasks_req("t1", &[1])).unwrap();
    no_layout["rtmpTasks"][0]
        .as_object_mut()
        .unwrap()
        .remove("layout");
    assert_eq!(
        refuse(&|c, now| c.update_tasks(now, &no_layout.to_string())).0,
        "rtmpTasks[0].layout"
    );
    assert_eq!(
        refuse(&|c, now| c.add_tasks(now, r#"{"rtmpTasks": {}}"#)).0,
        "rtmpTasks"
    );
    let mut too_wide: serde_json::Value = serde_json::from_str(&tasks_req("t1", &[1])).unwrap();
    too_wide["rtmpTasks"][0]["layout"]["users"][0]["width"] = serde_json::json!(2000);
    assert_eq!(
        refuse(&|c, now| c.add_tasks(now, &too_wide.to_string())),
        (
            "rtmpTasks[0].layout.users[0].width".into(),
            "rtmpTasks[0].layout.users[0].width must be 1 to 1280 (the canvas width)".into()
        )
    );
    assert_eq!(
        refuse(&|c, now| c.delete_tasks(now, r#"{"taskIds": ["bad id"]}"#)).0,
        "taskIds[0]"
    );
    assert!(net.tasks.is_empty(), "nothing was started");
}

#[test]
fn tasks_follow_the_room() {
    use mprtc_server::tasks::{FailCode, Failure, TaskState};
    let mut net = Net::new(2);
    net.join(0, "r", 1).unwrap();
    net.join(1, "r", 2).unwrap();
    net.events(0);
    net.events(1);
    net.run(0, |c, now| c.add_tasks(now, &tasks_req("t1", &[1, 2])))
        .unwrap();
    let (key, spec) = net.tasks.pop().unwrap();
    assert_eq!((key.room.as_str(), key.task_id.as_str()), ("r", "t1"));
    assert!(
        spec.unwrap().inputs.is_empty(),
        "nobody is live yet: the canvas shows"
    );
    // a second add of the same id, an update of an unknown one
    assert_eq!(
        net.run(0, |c, now| c.add_tasks(now, &tasks_req("t1", &[1])))
            .unwrap_err()
            .code,
        ErrorCode::TaskExists
    );
    assert_eq!(
        net.run(0, |c, now| c.update_tasks(now, &tasks_req("t9", &[1])))
            .unwrap_err()
            .code,
        ErrorCode::NoSuchTask
    );
    // member 1 goes live: the task gets its stream
    let url = net.publish(0, Media::BOTH);
    let (mroom, _) = media_room_of(&url);
    net.tasks.clear();
    net.media(MediaEvent::PublishStarted {
        room: mroom.clone(),
        uid: 1,
    });
    let (_, spec) = net.tasks.pop().expect("inputs changed");
    let spec = spec.unwrap();
    let users = &spec.task.layout.users;
    assert!(
        users[0].push_audio && users[0].push_video,
        "uid 1 is live with both"
    );
    assert!(
        !users[1].push_audio && !users[1].push_video,
        "uid 2 has nothing to mix"
    );
    let inputs = spec.inputs;
    assert_eq!(inputs.iter().map(|i| i.uid).collect::<Vec<_>>(), vec![1]);
    assert!(inputs[0].url.contains(&format!("{mroom}.1?k=play")));
    // update replaces the whole config
    net.run(0, |c, now| c.update_tasks(now, &tasks_req("t1", &[2])))
        .unwrap();
    let (_, spec) = net.tasks.pop().unwrap();
    let spec = spec.unwrap();
    assert_eq!(spec.task.layout.users.len(), 1);
    assert!(spec.inputs.is_empty(), "uid 2 is not live");
    // statuses reach every member once, in order
    let mut out = Vec::new();
    net.hub.task_state(
        &key,
        TaskState::Failed(Failure::new(FailCode::ConnectFailed, "no route")),
        &mut out,
    );
    net.hub.task_state(&key, TaskState::Pushing, &mut out);
    net.hub.task_state(&key, TaskState::Pushing, &mut out);
    deliver(&mut net, out);
    for i in 0..2 {
        let codes: Vec<u16> = net
            .events(i)
            .into_iter()
            .filter_map(|e| match e {
                AppEvent::RtmpTasksStatus { code, .. } => Some(code),
                _ => None,
            })
            .collect();
        assert_eq!(codes, vec![506, 505], "peer {i}");
    }
    // an audience member may not manage tasks
    net.run(1, |c, now| c.set_role(now, Role::Audience))
        .unwrap();
    assert_eq!(
        net.run(1, |c, now| c.delete_tasks(now, r#"{"taskIds": ["t1"]}"#))
            .unwrap_err()
            .code,
        ErrorCode::PermissionDenied
    );
    // the room ends: its tasks end with it
    net.tasks.clear();
    net.run(0, |c, now| c.leave(now)).unwrap();
    net.run(1, |c, now| c.leave(now)).unwrap();
    assert_eq!(net.tasks, vec![(key, None)]);
}

#[test]
fn a_lone_host_replacing_its_session_keeps_the_room_and_its_tasks() {
    let mut net = Net::new(2);
    net.join(0, "r", 1).unwrap();
    net.run(0, |c, now| c.add_tasks(now, &tasks_req("t1", &[1])))
        .unwrap();
    net.tasks.clear();
    // The page is reopened: the same uid joins on a new connection while the old one lingers.
    assert_eq!(net.join(1, "r", 1), Ok(OpValue::Done));
    assert!(net.events(0).contains(&AppEvent::Kicked {
        reason: KickReason::Replaced
    }));
    assert!(
        net.tasks.iter().all(|(_, spec)| spec.is_some()),
        "no task was stopped: {:?}",
        net.tasks
    );
    assert_eq!(net.hub.api_list_tasks("dbg", "r").unwrap().len(), 1);
}
