//! [`HubCounters`]: what the hub counts for `/metrics`, as plain numbers.
//!
//! The hub stays sans-IO and knows nothing of a metrics library: it bumps these fields where
//! the things happen (a resume, a fresh rejoin, a detached member given up, a join refused),
//! and the shell reads a copy under the lock it already holds when it is scraped.

use std::collections::BTreeMap;

/// Totals since the hub started. Each only grows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubCounters {
    /// Joins admitted, resumes and fresh joins alike.
    pub joins: u64,
    /// Rejoins that got their old session back, with the events they missed.
    pub resumed: u64,
    /// Rejoins that asked to resume and were given a fresh session instead (the session was
    /// gone or had lost events they missed): their client gets a snapshot.
    pub rejoined_fresh: u64,
    /// Detached members whose resume window ran out: they left for good.
    pub expired: u64,
    /// Refused joins by the numeric error code. Bounded by the protocol's few codes, never by
    /// anything a peer chooses, so it is safe as a metric label.
    pub refused_joins: BTreeMap<u16, u64>,
}
