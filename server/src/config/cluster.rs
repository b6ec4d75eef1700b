//! The cluster settings: none of them without `redis_url`; with it, an address to advertise
//! and a secret long enough that node-to-node calls cannot be forged by guessing.

use super::{parse_http_base, ConfigError, Secret, MIN_MEDIA_SECRET};
use crate::cluster::ClusterConfig;

/// The default lease: a killed node's rooms are taken over within this.
pub const DEFAULT_LEASE_MS: u64 = 6_000;

/// `Some` cluster when `redis_url` is given, checked; `None` otherwise.
pub(super) fn resolve_cluster(
    redis_url: Option<Secret>,
    advertise: Option<String>,
    secret: Option<Secret>,
    lease_ms: Option<u64>,
) -> Result<Option<ClusterConfig>, ConfigError> {
    let Some(redis_url) = redis_url else {
        // A cluster setting without Redis is a deployment that believes it is a cluster
        // and is not: said at start, not found out when a node is lost.
        let given = [
            ("cluster_advertise", advertise.is_some()),
            ("cluster_secret", secret.is_some()),
            ("cluster_lease_ms", lease_ms.is_some()),
        ];
        return match given.iter().find(|(_, g)| *g) {
            Some((name, _)) => Err(ConfigError::ClusterWithoutRedis(name)),
            None => Ok(None),
        };
    };
    let url = redis_url.expose();
    let scheme_ok = ["redis://", "rediss://", "unix://"]
        .iter()
        .any(|p| url.starts_with(p));
    if !scheme_ok || url.contains(char::is_whitespace) {
        return Err(ConfigError::BadRedisUrl);
    }
    let advertise = advertise.ok_or(ConfigError::ClusterSettingMissing("cluster_advertise"))?;
    let authority = parse_http_base(&advertise)
        .filter(|b| b.path.is_empty())
        .map(|b| b.authority)
        .ok_or_else(|| ConfigError::BadClusterAdvertise(advertise.clone()))?;
    let secret = secret.ok_or(ConfigError::ClusterSettingMissing("cluster_secret"))?;
    if secret.len() < MIN_MEDIA_SECRET {
        return Err(ConfigError::BadClusterSecret(secret.len()));
    }
    let lease_ms = lease_ms.unwrap_or(DEFAULT_LEASE_MS);
    if !(1_000..=60_000).contains(&lease_ms) {
        return Err(ConfigError::BadClusterLease);
    }
    Ok(Some(ClusterConfig {
        redis_url,
        advertise: authority,
        secret,
        lease_ms,
    }))
}
