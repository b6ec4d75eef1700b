//! The kick memory of a room, kept in Redis apart from its state so that it outlives the room.
//!
//! A server-API kick bars the tokens issued up to it for a day (`KICK_MEMORY_MS`), on one node
//! whether or not the room goes on. In a cluster the room's state (`state.rs`) carries the
//! memory while the room lives, but the state goes when the room ends: a member kicked as the
//! last one in its room could then come back with its old token through another node, which
//! opens the room afresh. So each kick is also written to `mprtc:kicks:{app}:{room}` (uid ->
//! the kick's unix second), which lives a day past its last kick, and a node that claims a
//! room reads it first. Writes only add bars, so they are not fenced: a node that lost the
//! room can at worst bar a member it kicked itself.

use std::sync::LazyLock;

use redis::Script;

use super::store::{call, Store};
use super::ClusterError;
use crate::signaling::hub::KICK_MEMORY_MS;

/// The most kicks read back for one room: the memory is the hub's, bounded there; a room with
/// more in Redis (a bug, or someone writing to Redis) is read as far as this.
pub const MAX_KICKS_READ: usize = 4096;

/// Answers at most ARGV[1] uid/second pairs of the hash.
static READ: LazyLock<Script> = LazyLock::new(|| Script::new(READ_LUA));
const READ_LUA: &str = r"
local out = {}
local cursor = '0'
repeat
  local r = redis.call('HSCAN', KEYS[1], cursor, 'COUNT', 256)
  cursor = r[1]
  for i = 1, #r[2], 2 do
    if #out >= 2 * tonumber(ARGV[1]) then return out end
    out[#out + 1] = r[2][i]
    out[#out + 1] = r[2][i + 1]
  end
until cursor == '0'
return out
";

fn kicks_key(app: &str, room: &str) -> String {
    format!("mprtc:kicks:{app}:{room}")
}

impl Store {
    /// Adds `kicks` (uid, unix second) to the room's memory and makes it live a day from now.
    pub async fn remember_kicks(
        &self,
        app: &str,
        room: &str,
        kicks: &[(u64, u64)],
    ) -> Result<(), ClusterError> {
        if kicks.is_empty() {
            return Ok(());
        }
        let key = kicks_key(app, room);
        let mut pipe = redis::pipe();
        let hset = pipe.cmd("HSET").arg(&key);
        for (uid, at) in kicks {
            hset.arg(uid).arg(at);
        }
        pipe.cmd("PEXPIRE").arg(&key).arg(KICK_MEMORY_MS);
        let mut con = self.con.clone();
        call(pipe.query_async::<()>(&mut con)).await
    }

    /// The room's kick memory (at most [`MAX_KICKS_READ`]); entries that are not two numbers
    /// are skipped.
    pub async fn kicks(&self, app: &str, room: &str) -> Result<Vec<(u64, u64)>, ClusterError> {
        let mut inv = READ.prepare_invoke();
        inv.key(kicks_key(app, room)).arg(MAX_KICKS_READ);
        let mut con = self.con.clone();
        let flat = call(inv.invoke_async::<Vec<String>>(&mut con)).await?;
        Ok(flat
            .chunks_exact(2)
            .filter_map(|p| Some((p[0].parse().ok()?, p[1].parse().ok()?)))
            .collect())
    }
}
