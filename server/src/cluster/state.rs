//! A room's state in Redis: what a node taking the room over needs for its members to resume.
//!
//! One hash per room, `mprtc:state:{app}:{room}`: field `room` holds the room's own record
//! (media id, tasks, kicks) and `m:{uid}` each member's (see
//! `crate::signaling::hub::persist`). Only the owner writes it, each write one script that
//! first checks the owner key still holds this node's `{node}:{epoch}` (fencing, as for the
//! lease), and a write touches only the fields that changed. The key expires
//! [`STATE_TTL_MS`] past the lease after the last write, so a dead cluster leaves nothing.
//! What is read back is bounded before it leaves Redis: a hash with more fields than a room
//! may hold members, or a field larger than a record may be, is refused, typed.

use std::sync::LazyLock;

use redis::Script;

use super::store::{call, owner_key, Store};
use super::ClusterError;
use crate::signaling::hub::RoomDelta;

/// How long a room's state outlives its lease after the last write (ms): long enough for a
/// node to take the room over after its owner died, short enough that nothing stays long.
pub const STATE_TTL_MS: u64 = 5 * 60 * 1000;
/// The largest field read back: a room record's bound (members' are smaller).
const MAX_FIELD_BYTES: usize = crate::signaling::hub::MAX_ROOM_BYTES;
/// The most fields read back: the largest room any setting allows, and its record.
const MAX_FIELDS: usize = 100_001;

/// The field of the room's own record.
const ROOM_FIELD: &str = "room";

/// The key of a room's state.
pub fn state_key(app: &str, room: &str) -> String {
    format!("mprtc:state:{app}:{room}")
}

/// Writes changed fields and removes gone ones, only while `KEYS[1]` holds `ARGV[1]`; then
/// extends the key's life (`ARGV[2]` ms). `ARGV[3]` fields are set, from `ARGV[4]` on as
/// field/value pairs; the arguments after them are fields to delete. A key of another type
/// (written by anything but a node) is replaced. Field by field: no argument list unpacked
/// whole, whatever the room's size.
const COMMIT: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local t = redis.call('TYPE', KEYS[2]).ok
if t ~= 'hash' and t ~= 'none' then redis.call('DEL', KEYS[2]) end
local n = tonumber(ARGV[3])
for j = 0, n - 1 do
  redis.call('HSET', KEYS[2], ARGV[4 + 2 * j], ARGV[5 + 2 * j])
end
for j = 4 + 2 * n, #ARGV do
  redis.call('HDEL', KEYS[2], ARGV[j])
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1
";

/// Reads a room's state, bounded: `{'ok', field, value, ...}`, `{'none'}`, or the reason
/// it is refused (`bad_type`, `too_many`, `too_big`), checked before anything is sent.
const LOAD: &str = r"
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'none' then return {'none'} end
if t ~= 'hash' then return {'bad_type'} end
if redis.call('HLEN', KEYS[1]) > tonumber(ARGV[1]) then return {'too_many'} end
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if redis.call('HSTRLEN', KEYS[1], f) > tonumber(ARGV[2]) then return {'too_big'} end
end
local all = redis.call('HGETALL', KEYS[1])
table.insert(all, 1, 'ok')
return all
";

/// Deletes a room's state while `KEYS[1]` holds `ARGV[1]`.
const DROP: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[2])
end
return 0
";

static COMMIT_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(COMMIT));
static LOAD_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(LOAD));
static DROP_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(DROP));

/// A room's state as read: its record and its members' records.
#[derive(Debug)]
pub struct Loaded {
    pub room: String,
    pub members: Vec<String>,
}

impl Store {
    /// Writes `delta` of `app`/`room` if `owner` (this node's value) still owns it, extending
    /// the state's life to `ttl_ms`: whether it did (false: the room is another node's now).
    pub async fn commit(
        &self,
        (app, room): (&str, &str),
        owner: &str,
        delta: &RoomDelta,
        ttl_ms: u64,
    ) -> Result<bool, ClusterError> {
        let mut con = self.con.clone();
        let mut inv = COMMIT_SCRIPT.prepare_invoke();
        inv.key(owner_key(app, room)).key(state_key(app, room));
        let sets = delta.members.len() + usize::from(delta.room.is_some());
        inv.arg(owner).arg(ttl_ms).arg(sets);
        if let Some(r) = &delta.room {
            inv.arg(ROOM_FIELD).arg(r.as_str());
        }
        for (uid, rec) in &delta.members {
            inv.arg(format!("m:{uid}")).arg(rec.as_str());
        }
        for uid in &delta.gone {
            inv.arg(format!("m:{uid}"));
        }
        call(inv.invoke_async::<i64>(&mut con))
            .await
            .map(|r| r == 1)
    }

    /// The state of `app`/`room`, if any: bounded, and its fields sorted out (room record,
    /// members), or why it is refused.
    pub async fn load(&self, app: &str, room: &str) -> Result<Option<Loaded>, ClusterError> {
        let mut con = self.con.clone();
        let mut inv = LOAD_SCRIPT.prepare_invoke();
        inv.key(state_key(app, room))
            .arg(MAX_FIELDS)
            .arg(MAX_FIELD_BYTES);
        let all = call(inv.invoke_async::<Vec<Vec<u8>>>(&mut con)).await?;
        loaded(all)
    }

    /// Deletes the state of `app`/`room` if `owner` still owns it (it was refused).
    pub async fn drop_state(&self, app: &str, room: &str, owner: &str) -> Result<(), ClusterError> {
        let mut con = self.con.clone();
        let mut inv = DROP_SCRIPT.prepare_invoke();
        inv.key(owner_key(app, room))
            .key(state_key(app, room))
            .arg(owner);
        call(inv.invoke_async::<i64>(&mut con)).await.map(|_| ())
    }
}

/// The load script's answer sorted out.
fn loaded(all: Vec<Vec<u8>>) -> Result<Option<Loaded>, ClusterError> {
    let mut it = all.into_iter();
    match it.next().as_deref() {
        Some(b"ok") => {}
        Some(b"none") => return Ok(None),
        Some(b"bad_type") => return Err(ClusterError::BadState("not a hash")),
        Some(b"too_many") => return Err(ClusterError::BadState("too many fields")),
        Some(b"too_big") => return Err(ClusterError::BadState("a field is too large")),
        _ => return Err(ClusterError::BadState("unexpected answer")),
    }
    let text = |b: Vec<u8>| String::from_utf8(b).map_err(|_| ClusterError::BadState("not UTF-8"));
    let (mut room, mut members) = (None, Vec::new());
    while let (Some(f), Some(v)) = (it.next(), it.next()) {
        match f.as_slice() {
            b"room" => room = Some(text(v)?),
            f if f.starts_with(b"m:") => members.push(text(v)?),
            _ => return Err(ClusterError::BadState("an unknown field")),
        }
    }
    let room = room.ok_or(ClusterError::BadState("no room record"))?;
    Ok(Some(Loaded { room, members }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }

    #[test]
    fn answers_sort_out_or_are_refused_typed() {
        let ok = loaded(vec![b("ok"), b("room"), b("{}"), b("m:1"), b("{\"a\":1}")]).unwrap();
        let ok = ok.expect("some");
        assert_eq!((ok.room.as_str(), ok.members.len()), ("{}", 1));
        assert!(loaded(vec![b("none")]).unwrap().is_none());
        for bad in [
            vec![b("too_big")],
            vec![b("bad_type")],
            vec![],
            vec![b("ok"), b("m:1"), b("{}")],
            vec![b("ok"), b("room"), vec![0xff, 0xfe]],
            vec![b("ok"), b("room"), b("{}"), b("x"), b("{}")],
        ] {
            let e = loaded(bad).unwrap_err();
            assert_eq!(e.code(), "cluster.bad_state");
        }
    }
}
