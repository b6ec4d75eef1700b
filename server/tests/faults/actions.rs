//! The flows beyond joins, streams and mutes, so that every event the server sends happens
//! under faults: roles, push tasks and the supervisor's status reports, token renewals and
//! expiry (in the app that needs tokens), kicks by member name and room closes by the API.

use mprtc::protocol::Role;
use mprtc_server::tasks::{FailCode, Failure, TaskState};
use mprtc_server::token::{self, Privileges};

use crate::common::SECRET;
use crate::Sim;

impl Sim {
    /// A join token for peer `i` in the secure app: mostly long-lived, sometimes about to
    /// expire (the warning and the expiry kick happen within a run), sometimes watch-only
    /// (the member joins as audience).
    fn token(&mut self, i: usize) -> Option<String> {
        if self.app != "sec" {
            return None;
        }
        let ttl = if self.rand(8) == 0 {
            45 + self.rand(60)
        } else {
            3_600
        };
        let publish = self.rand(6) != 0;
        Some(self.mint(i, ttl, publish))
    }

    /// A token for peer `i` in the secure app, valid `ttl` seconds from now.
    pub(crate) fn mint(&self, i: usize, ttl: u64, publish: bool) -> String {
        let privileges = Privileges {
            publish,
            ..Privileges::default()
        };
        let uid = self.peers[i].uid;
        let now_s = self.now / 1000;
        token::mint(
            SECRET.as_bytes(),
            self.app,
            "r",
            uid,
            privileges,
            now_s,
            ttl,
        )
    }

    /// Peer `i` joins room "r" (a token with it in the secure app).
    pub(crate) fn join(&mut self, i: usize) {
        let token = self.token(i);
        self.join_with(i, token);
    }

    /// Peer `i` joins room "r" with `token`.
    pub(crate) fn join_with(&mut self, i: usize, token: Option<String>) {
        let (now, uid) = (self.now, self.peers[i].uid);
        if let Ok(op) = self.peers[i].core.join(now, "r", uid, token) {
            self.peers[i].view.clear();
            self.peers[i].muted.clear();
            self.peers[i].ops.insert(op, "join");
        }
        self.drive(i);
    }

    /// One of the rarer things happens.
    pub(crate) fn more(&mut self, i: usize) {
        let now = self.now;
        match self.rand(40) {
            0..=7 => {
                let role = if self.rand(2) == 0 {
                    Role::Audience
                } else {
                    Role::Broadcaster
                };
                self.call(i, "setRole", |c, now| c.set_role(now, role));
            }
            8..=13 => {
                let id = format!("t{}", self.rand(2));
                let uids: Vec<u64> = (1..=4).filter(|_| self.rand(2) == 0).collect();
                let body = tasks_req(&id, &uids);
                self.call(i, "addTasks", |c, now| c.add_tasks(now, &body));
            }
            14..=17 => {
                let body = format!(r#"{{"taskIds": ["t{}"]}}"#, self.rand(2));
                self.call(i, "deleteTasks", |c, now| c.delete_tasks(now, &body));
            }
            18..=27 => {
                // The supervisor reports a compositor's state.
                if self.task_keys.is_empty() {
                    return;
                }
                let n = self.rand(self.task_keys.len() as u64) as usize;
                let key = self.task_keys[n].clone();
                let state = match self.rand(3) {
                    0 => TaskState::Pushing,
                    1 => TaskState::Failed(Failure::new(FailCode::ConnectFailed, "no route")),
                    _ => TaskState::Ended,
                };
                let mut out = Vec::new();
                self.hub.task_state(&key, state, &mut out);
                self.route(out);
            }
            28..=34 => {
                if let Some(t) = self.token(i) {
                    self.call(i, "renewToken", |c, now| c.renew_token(now, t));
                }
            }
            35 | 36 => {
                // The server API kicks the member it names by its decimal uid.
                let who = (1 + self.rand(4)).to_string();
                let mut out = Vec::new();
                let _ = self.hub.api_kick_member(self.app, "r", &who, now, &mut out);
                self.route(out);
            }
            // The server API closes the room: rarely, as it ends every session.
            37 if self.rand(3) == 0 => {
                let mut out = Vec::new();
                let _ = self.hub.api_close_room(self.app, "r", now, &mut out);
                self.route(out);
            }
            _ => {}
        }
    }
}

/// NetEase's `{rtmpTasks: [...]}` with one task `id` showing `uids` side by side.
pub(crate) fn tasks_req(id: &str, uids: &[u64]) -> String {
    let users: Vec<String> = uids
        .iter()
        .zip(0u32..)
        .map(|(u, n)| {
            let x = 320 * n;
            format!(r#"{{"uid":{u},"x":{x},"y":0,"width":320,"height":240}}"#)
        })
        .collect();
    let canvas = r#"{"width":1280,"height":720,"color":0}"#;
    format!(
        r#"{{"rtmpTasks":[{{"taskId":"{id}","streamUrl":"rtmp://cdn/live/x","layout":{{"canvas":{canvas},"users":[{}]}}}}]}}"#,
        users.join(",")
    )
}
