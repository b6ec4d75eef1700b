//! The Redis side of a cluster: key names and the few atomic scripts everything goes through.
//!
//! | key | value | life |
//! | --- | --- | --- |
//! | `mprtc:node:{id}` | the node's internal `host:port` | the node's lease, renewed every third of it |
//! | `mprtc:nodes` | the node ids, scored by when their lease ends | members dropped once past |
//! | `mprtc:owner:{app}:{room}` | `{node}:{epoch}` of the room's owner | the lease, renewed by the owner only |
//! | `mprtc:epoch:{app}:{room}` | the room's last epoch (`INCR`) | a day after the last claim |
//! | `mprtc:state:{app}:{room}` | the room's state, a hash (`state.rs`) | written by the owner only; [`super::state::STATE_TTL_MS`] past the lease after the last write |
//! | `mprtc:kicks:{app}:{room}` | uid -> the second of its kick, a hash (`kicks.rs`) | a day past the last kick (outlives the room) |
//!
//! Every write that depends on who owns a room is one Lua script that compares the owner
//! value first, so a node whose lease ran out cannot renew, or release, a room another node
//! has claimed since: the value it holds names an older epoch (fencing).

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Script;

use super::ClusterError;

/// How long one Redis call may take before the node treats Redis as unreachable.
const CALL_DEADLINE: Duration = Duration::from_secs(2);
/// Owner keys renewed by one script call: a node with many rooms renews in batches, none of
/// which holds Redis for long.
pub const RENEW_BATCH: usize = 256;
/// How long a room's epoch counter outlives its last claim (ms).
const EPOCH_TTL_MS: u64 = 24 * 3600 * 1000;

/// The most nodes one registry answer lists.
const MAX_NODES: usize = 256;

/// Registers (or renews) a node and answers the addresses of every live node. The entries of
/// other nodes are read by name (`mprtc:node:` + id): a single Redis, not Redis Cluster.
const REGISTER: &str = r"
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[4]) - 1)) do
  local a = redis.call('GET', 'mprtc:node:' .. id)
  if a then out[#out + 1] = a end
end
return out
";

/// Claims the room if nobody owns it, or renews it if this node does; either way answers the
/// owner value now in force. (A node that reads its own value confirms its lease as of this
/// call only because the call renewed it.)
const CLAIM: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur then
  if string.sub(cur, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. ':' then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
  end
  return cur
end
local e = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local v = ARGV[1] .. ':' .. e
redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
return v
";

/// Renews each owner key that still holds the value given for it; 1 or 0 per key.
const RENEW: &str = r"
local out = {}
for i, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[i + 1] then
    redis.call('PEXPIRE', k, ARGV[1])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
";

/// Deletes the owner key only if it still holds the given value, and with it the room's
/// state (`state.rs`) when that is named too (the room ended).
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  if KEYS[2] then redis.call('DEL', KEYS[2]) end
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// A node's handle on Redis: one multiplexed connection that reconnects by itself.
#[derive(Clone)]
pub struct Store {
    pub(super) con: ConnectionManager,
    register: std::sync::Arc<Script>,
    claim: std::sync::Arc<Script>,
    renew: std::sync::Arc<Script>,
    release: std::sync::Arc<Script>,
}

/// The sorted set of node ids.
const NODES: &str = "mprtc:nodes";

pub(super) fn owner_key(app: &str, room: &str) -> String {
    format!("mprtc:owner:{app}:{room}")
}

fn node_key(id: &str) -> String {
    format!("mprtc:node:{id}")
}

/// Runs one Redis call under [`CALL_DEADLINE`], its failure typed.
pub(super) async fn call<T>(
    f: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, ClusterError> {
    match tokio::time::timeout(CALL_DEADLINE, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ClusterError::Store(e.to_string())),
        Err(_) => Err(ClusterError::Store("no answer within 2 s".into())),
    }
}

impl Store {
    /// A store on `url`; nothing is connected until the first call, so a node starts (and
    /// says in `/readyz` why it is not ready) while Redis is down.
    pub fn open(url: &str) -> Result<Self, ClusterError> {
        let client =
            redis::Client::open(url).map_err(|e| ClusterError::BadRedisUrl(e.to_string()))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(CALL_DEADLINE))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let con = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| ClusterError::BadRedisUrl(e.to_string()))?;
        Ok(Self {
            con,
            register: Script::new(REGISTER).into(),
            claim: Script::new(CLAIM).into(),
            renew: Script::new(RENEW).into(),
            release: Script::new(RELEASE).into(),
        })
    }

    /// Writes (or renews) this node's registry entry for `lease_ms`: the addresses of the
    /// live nodes, this one included.
    pub async fn register(
        &self,
        node: &str,
        authority: &str,
        lease_ms: u64,
    ) -> Result<Vec<String>, ClusterError> {
        let mut con = self.con.clone();
        let mut inv = self.register.prepare_invoke();
        inv.key(node_key(node))
            .key(NODES)
            .arg(node)
            .arg(authority)
            .arg(lease_ms)
            .arg(MAX_NODES);
        call(inv.invoke_async::<Vec<String>>(&mut con)).await
    }

    /// Removes this node's registry entry (it is stopping).
    pub async fn unregister(&self, node: &str) -> Result<(), ClusterError> {
        let mut con = self.con.clone();
        let mut pipe = redis::pipe();
        pipe.cmd("DEL")
            .arg(node_key(node))
            .cmd("ZREM")
            .arg(NODES)
            .arg(node);
        call(pipe.query_async::<()>(&mut con)).await
    }

    /// The registered internal address of node `id`, if it is alive.
    pub async fn node_addr(&self, id: &str) -> Result<Option<String>, ClusterError> {
        let mut con = self.con.clone();
        let cmd = redis::cmd("GET").arg(node_key(id)).clone();
        call(cmd.query_async::<Option<String>>(&mut con)).await
    }

    /// The owner value of a room now, if any node owns it.
    pub async fn owner(&self, app: &str, room: &str) -> Result<Option<String>, ClusterError> {
        let mut con = self.con.clone();
        let cmd = redis::cmd("GET").arg(owner_key(app, room)).clone();
        call(cmd.query_async::<Option<String>>(&mut con)).await
    }

    /// Claims `app`/`room` for `node` with a new epoch unless someone owns it; the owner value
    /// in force after the call (this node's if the claim went through).
    pub async fn claim(
        &self,
        app: &str,
        room: &str,
        node: &str,
        lease_ms: u64,
    ) -> Result<String, ClusterError> {
        let mut con = self.con.clone();
        let mut inv = self.claim.prepare_invoke();
        inv.key(owner_key(app, room))
            .key(format!("mprtc:epoch:{app}:{room}"))
            .arg(node)
            .arg(lease_ms)
            .arg(EPOCH_TTL_MS);
        call(inv.invoke_async::<String>(&mut con)).await
    }

    /// Renews the owner keys of `rooms` (each with the value this node holds for it), at most
    /// [`RENEW_BATCH`] per call: whether each still was this node's.
    pub async fn renew(
        &self,
        rooms: &[(&(String, String), &str)],
        lease_ms: u64,
    ) -> Result<Vec<bool>, ClusterError> {
        let mut held = Vec::with_capacity(rooms.len());
        for batch in rooms.chunks(RENEW_BATCH) {
            let mut con = self.con.clone();
            let mut inv = self.renew.prepare_invoke();
            inv.arg(lease_ms);
            for ((app, room), value) in batch {
                inv.key(owner_key(app, room)).arg(*value);
            }
            let r = call(inv.invoke_async::<Vec<i64>>(&mut con)).await?;
            held.extend(r.into_iter().map(|v| v == 1));
        }
        Ok(held)
    }

    /// Gives up `app`/`room` if `value` still owns it; its state goes too if it `ended`
    /// (a node that stops keeps it, for the node that takes the room over).
    pub async fn release(
        &self,
        app: &str,
        room: &str,
        value: &str,
        ended: bool,
    ) -> Result<(), ClusterError> {
        let mut con = self.con.clone();
        let mut inv = self.release.prepare_invoke();
        inv.key(owner_key(app, room)).arg(value);
        if ended {
            inv.key(super::state::state_key(app, room));
        }
        call(inv.invoke_async::<i64>(&mut con)).await.map(|_| ())
    }
}
