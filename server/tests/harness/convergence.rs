//! Seeded random flows: every client's view of the room converges on the server's.

use std::collections::HashMap;

use mprtc::protocol::{Media, Role};
use mprtc_server::media::MediaEvent;

use crate::common::{AUDIO, VIDEO};
use crate::support::*;

/// Many seeded random sequences of API calls: afterwards every client's view of the room agrees
/// with every other's, and every operation settled exactly once.
#[test]
fn random_flows_converge() {
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _run in 0..300 {
        let mut net = Net::new(4);
        let mut rooms = HashMap::new();
        for _step in 0..40 {
            let i = (next() % 4) as usize;
            let uid = i as u64 + 1;
            let media = match next() % 3 {
                0 => AUDIO,
                1 => VIDEO,
                _ => Media::BOTH,
            };
            let _ = match next() % 8 {
                0 | 1 => net.join(i, "r", uid).map(|_| rooms.insert(i, ())),
                2 => net.run(i, |c, now| c.leave(now)).map(|_| rooms.remove(&i)),
                3 => net.run(i, |c, now| c.publish(now, media)).map(|_| None),
                4 => net.run(i, |c, now| c.unpublish(now, media)).map(|_| None),
                5 => {
                    let target = next() % 4 + 1;
                    net.run(i, |c, now| c.subscribe(now, target, media))
                        .map(|_| None)
                }
                6 => {
                    let role = if next() % 2 == 0 {
                        Role::Audience
                    } else {
                        Role::Broadcaster
                    };
                    net.run(i, |c, now| c.set_role(now, role)).map(|_| None)
                }
                _ => {
                    // media starts or stops for a random member of the room
                    let who = next() % 4 + 1;
                    let mroom = net.hub_media_room();
                    if let Some(m) = mroom {
                        if next() % 2 == 0 {
                            net.media(MediaEvent::PublishStarted { room: m, uid: who });
                        } else {
                            net.media(MediaEvent::PublishStopped { room: m, uid: who });
                        }
                    }
                    Ok(None)
                }
            };
            for p in &net.peers {
                assert!(p.results.is_empty(), "every op settled and was collected");
            }
        }
        // Every member's view of the others equals the server's truth: same members, same
        // live media, same roles.
        let truth: Vec<(u64, Role, Media)> = net
            .hub
            .snapshot("dbg", "r")
            .iter()
            .map(|m| (m.uid, m.role, m.live))
            .collect();
        for (i, p) in net.peers.iter().enumerate() {
            let me = i as u64 + 1;
            if !p.core.is_joined() {
                assert!(
                    truth.iter().all(|t| t.0 != me),
                    "uid {me} left but the server still has it"
                );
                continue;
            }
            let view: Vec<(u64, Role, Media)> =
                p.core.members().map(|(u, r)| (u, r.role, r.live)).collect();
            let expect: Vec<(u64, Role, Media)> =
                truth.iter().copied().filter(|t| t.0 != me).collect();
            assert_eq!(view, expect, "uid {me}'s view differs from the server's");
        }
    }
}
