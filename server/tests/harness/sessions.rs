//! Sessions the server ends: replaced, kicked, and the room closed.

use mprtc::core::{AppEvent, OpValue};
use mprtc::protocol::{ErrorCode, KickReason, LeaveReason};

use crate::support::*;

#[test]
fn the_server_ends_sessions_replaced_kicked_and_closed() {
    let mut net = Net::new(3);
    net.join(0, "r", 1).unwrap();
    net.join(1, "r", 2).unwrap();
    for i in 0..2 {
        net.events(i);
    }
    // uid 1 joins again on another connection: the old session is told and closed.
    let old_sid = net.peers[0].sid.unwrap();
    assert_eq!(net.join(2, "r", 1), Ok(OpValue::Done));
    let ev = net.events(0);
    assert!(
        ev.contains(&AppEvent::Kicked {
            reason: KickReason::Replaced
        }),
        "{ev:?}"
    );
    assert!(
        !ev.iter().any(|e| matches!(e, AppEvent::Disconnect { .. })),
        "not a disconnect: {ev:?}"
    );
    assert!(!net.peers[0].core.is_joined());
    assert!(net.closes.contains(&old_sid));
    assert_eq!(
        net.events(1),
        vec![
            AppEvent::ClientLeave {
                uid: 1,
                reason: LeaveReason::Kicked
            },
            AppEvent::ClientJoin { uid: 1 },
        ]
    );
    // The server API kicks uid 2.
    let mut out = Vec::new();
    assert_eq!(
        net.hub
            .api_kick("dbg", "r", 99, net.now, &mut out)
            .unwrap_err()
            .code,
        ErrorCode::NoSuchMember
    );
    net.hub.api_kick("dbg", "r", 2, net.now, &mut out).unwrap();
    deliver(&mut net, out);
    assert!(net.events(1).contains(&AppEvent::Kicked {
        reason: KickReason::Kicked
    }));
    assert!(net.events(2).contains(&AppEvent::ClientLeave {
        uid: 2,
        reason: LeaveReason::Kicked
    }));
    // The server API closes the room with a task in it: members hear it, the task ends.
    net.run(2, |c, now| c.add_tasks(now, &tasks_req("t1", &[1])))
        .unwrap();
    net.tasks.clear();
    let mut out = Vec::new();
    net.hub
        .api_close_room("dbg", "r", net.now, &mut out)
        .unwrap();
    deliver(&mut net, out);
    assert!(net.events(2).contains(&AppEvent::LiveRoomClose));
    assert!(!net.peers[2].core.is_joined());
    assert_eq!(net.tasks.len(), 1);
    assert_eq!(net.hub.room_count(), 0);
    let mut out = Vec::new();
    assert_eq!(
        net.hub
            .api_close_room("dbg", "r", net.now, &mut out)
            .unwrap_err()
            .code,
        ErrorCode::NoSuchRoom
    );
    // The room can be joined afresh.
    assert_eq!(net.join(1, "r", 2), Ok(OpValue::Done));
}
