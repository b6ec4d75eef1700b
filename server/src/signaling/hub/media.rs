//! What the media server reports: a pusher admitted or gone makes its stream live or not for
//! the room; a pusher the room does not expect is stopped.

use super::*;

impl Hub {
    /// The media server admitted or lost a pusher (or a play): streams go live or stop for the
    /// room, and the push tasks that show them follow.
    pub fn media_event(&mut self, ev: MediaEvent, now_ms: u64, out: &mut Vec<HubOut>) {
        let media_room = match &ev {
            MediaEvent::PublishStarted { room, .. } | MediaEvent::PublishStopped { room, .. } => {
                Some(room.clone())
            }
            _ => None,
        };
        let went_live = match &ev {
            MediaEvent::PublishStarted { room, uid } => Some((room.clone(), *uid)),
            _ => None,
        };
        self.media_event_inner(ev, out);
        if let Some((room, uid)) = went_live {
            self.record_on_publish(&room, uid, now_ms, out);
        }
        if let Some(key) = media_room.and_then(|m| self.by_media.get(&m).cloned()) {
            self.refresh_tasks(&key, now_ms, out);
        }
    }

    fn media_event_inner(&mut self, ev: MediaEvent, out: &mut Vec<HubOut>) {
        match ev {
            MediaEvent::PublishStarted { room, uid } => {
                let Some(key) = self.by_media.get(&room).cloned() else {
                    out.push(HubOut::KickPublisher {
                        media_room: room,
                        uid,
                    });
                    return;
                };
                let r = self
                    .rooms
                    .get_mut(&key)
                    .expect("by_media points at live rooms");
                match r.members.get_mut(&uid) {
                    Some(m) if !m.declared.is_empty() => {
                        if !m.pushing {
                            m.pushing = true;
                            let ev = Event::StreamAdded {
                                uid,
                                media: m.declared,
                                stream: m.stream.clone(),
                            };
                            Self::broadcast(r, Some(uid), &ev, out);
                        }
                    }
                    // A pusher with a still-valid URL whose member left or stopped publishing.
                    _ => out.push(HubOut::KickPublisher {
                        media_room: room,
                        uid,
                    }),
                }
            }
            MediaEvent::PublishStopped { room, uid } => {
                let Some(key) = self.by_media.get(&room) else {
                    return;
                };
                let r = self
                    .rooms
                    .get_mut(key)
                    .expect("by_media points at live rooms");
                if let Some(m) = r.members.get_mut(&uid) {
                    if m.pushing {
                        m.pushing = false;
                        let media = m.declared;
                        if !media.is_empty() {
                            Self::broadcast(
                                r,
                                Some(uid),
                                &Event::StreamRemoved { uid, media },
                                out,
                            );
                        }
                    }
                }
            }
            MediaEvent::PlayStarted { .. } | MediaEvent::PlayStopped { .. } => {}
        }
    }
}
