//! When to try the connection again, and when to stop trying.
//!
//! A pure function of the attempt number, the time since the connection was lost, why the last
//! try failed and a random number the caller supplies, so that tests replay it exactly. The
//! first retry is almost immediate (most drops are a network switch that is over by the time
//! the socket notices); later ones back off exponentially with jitter, so that a thousand
//! phones that lost the same server do not come back in lockstep.

/// Why the connection was lost, or why the last attempt to get it back failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropCause {
    /// The socket closed with this close code (1006 when it just vanished).
    Closed(u16),
    /// Heartbeats went unanswered.
    HeartbeatTimeout,
    /// The socket did not open within the connect timeout.
    ConnectTimeout,
    /// The server did not answer the rejoin in time.
    RejoinTimeout,
    /// The server refused the rejoin with a code that may clear up (overload, internal error).
    RejoinRefused(u16),
    /// An event's `seq` skipped past the next one: the core dropped the connection itself, to
    /// resume from the last event it applied (or, if the hole came back, to join afresh).
    EventGap,
}

impl DropCause {
    /// Close codes that say retrying cannot help: the server refused this client's frames
    /// (policy violation, frame too big) or ended the session.
    fn is_final(self) -> bool {
        matches!(self, DropCause::Closed(1008 | 1009 | 4409))
    }
}

/// Tunables of [`next_retry`]. The defaults suit phones: retry at once, then back off to at most
/// 8 s between tries, and give up after a minute (WeChat suspends a hidden mini-program long
/// before that, and a page still waiting after a minute should tell its user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// The first retry waits a random 0..=`first_ms`.
    pub first_ms: u64,
    /// The second retry waits about this long; each later one doubles it.
    pub base_ms: u64,
    /// No wait is longer than this.
    pub max_delay_ms: u64,
    /// Give up once this much time has passed since the connection was lost. 0 disables
    /// reconnecting: a drop ends the session at once.
    pub give_up_after_ms: u64,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            first_ms: 100,
            base_ms: 500,
            max_delay_ms: 8_000,
            give_up_after_ms: 60_000,
        }
    }
}

/// What to do after a drop or a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Try again after this many milliseconds.
    After(u64),
    /// Stop: the session is over.
    GiveUp(GiveUpReason),
}

/// Why [`next_retry`] said to stop: the client reports each differently (`disconnect` alone,
/// or `reconnectFailed` with the attempts and time spent first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUpReason {
    /// Reconnecting is disabled by the policy.
    Disabled,
    /// The time budget is spent.
    TimeUp {
        /// Retries made.
        attempts: u32,
        /// Since the connection was lost.
        elapsed_ms: u64,
    },
    /// The last failure cannot be cured by trying again.
    Final(DropCause),
}

/// The delay before retry number `attempt` (0 for the first retry after the drop), given
/// `elapsed_ms` since the drop, the `last` cause and a uniformly random `rand`.
pub fn next_retry(
    p: &ReconnectPolicy,
    attempt: u32,
    elapsed_ms: u64,
    last: DropCause,
    rand: u32,
) -> Retry {
    if p.give_up_after_ms == 0 {
        return Retry::GiveUp(GiveUpReason::Disabled);
    }
    if last.is_final() {
        return Retry::GiveUp(GiveUpReason::Final(last));
    }
    // `rand` mod `n + 1`: a number from 0 to `n` (`n` itself is never u64::MAX here, and
    // `checked_rem` keeps a panic path out of the wasm even so).
    let upto = |n: u64| u64::from(rand).checked_rem(n.wrapping_add(1)).unwrap_or(0);
    let delay = if attempt == 0 {
        upto(p.first_ms)
    } else {
        // base, 2·base, 4·base, ... capped; then "equal jitter": half fixed, half random.
        let shift = (attempt - 1).min(20);
        let cap = p.base_ms.saturating_mul(1 << shift).min(p.max_delay_ms);
        cap / 2 + upto(cap - cap / 2)
    };
    if elapsed_ms.saturating_add(delay) > p.give_up_after_ms {
        return Retry::GiveUp(GiveUpReason::TimeUp {
            attempts: attempt,
            elapsed_ms,
        });
    }
    Retry::After(delay)
}

/// A small deterministic generator (xorshift64*), seeded by the driver: the JS shim seeds it
/// from `Math.random`, tests from their seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose whole sequence follows from `seed` (any value, 0 included).
    pub fn new(seed: u64) -> Self {
        // One splitmix64 step, so that neighbouring seeds give unrelated sequences.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Self((z ^ (z >> 31)) | 1)
    }
    /// The next number, uniform over `u32`.
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOSED: DropCause = DropCause::Closed(1006);

    #[test]
    fn first_retry_is_fast_and_jittered() {
        let p = ReconnectPolicy::default();
        let mut seen = std::collections::BTreeSet::new();
        let mut rng = Rng::new(1);
        for _ in 0..500 {
            match next_retry(&p, 0, 0, CLOSED, rng.next_u32()) {
                Retry::After(d) => {
                    assert!(d <= p.first_ms);
                    seen.insert(d);
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(seen.len() > 50, "jitter spreads the first retry: {seen:?}");
    }

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let p = ReconnectPolicy::default();
        for attempt in 1..12u32 {
            let cap = (p.base_ms << (attempt - 1)).min(p.max_delay_ms);
            for rand in [0, 1, 7_777, u32::MAX] {
                let Retry::After(d) = next_retry(&p, attempt, 0, CLOSED, rand) else {
                    panic!("gave up early");
                };
                assert!(
                    d >= cap / 2 && d <= cap,
                    "attempt {attempt}: {d} vs cap {cap}"
                );
            }
        }
    }

    #[test]
    fn gives_up_when_the_budget_is_spent() {
        let p = ReconnectPolicy::default();
        assert_eq!(
            next_retry(&p, 9, 59_000, CLOSED, 4_000),
            Retry::GiveUp(GiveUpReason::TimeUp {
                attempts: 9,
                elapsed_ms: 59_000
            })
        );
        assert!(matches!(
            next_retry(&p, 9, 10_000, CLOSED, 4_000),
            Retry::After(_)
        ));
    }

    #[test]
    fn final_causes_and_disabled_policy_stop_at_once() {
        let p = ReconnectPolicy::default();
        for code in [1008, 1009, 4409] {
            let c = DropCause::Closed(code);
            assert_eq!(
                next_retry(&p, 0, 0, c, 0),
                Retry::GiveUp(GiveUpReason::Final(c))
            );
        }
        for c in [
            DropCause::Closed(1006),
            DropCause::Closed(4408),
            DropCause::HeartbeatTimeout,
            DropCause::ConnectTimeout,
            DropCause::RejoinTimeout,
            DropCause::RejoinRefused(5000),
        ] {
            assert!(matches!(next_retry(&p, 0, 0, c, 0), Retry::After(_)));
        }
        let off = ReconnectPolicy {
            give_up_after_ms: 0,
            ..p
        };
        assert_eq!(
            next_retry(&off, 0, 0, CLOSED, 0),
            Retry::GiveUp(GiveUpReason::Disabled)
        );
    }

    #[test]
    fn same_seed_same_schedule() {
        let p = ReconnectPolicy::default();
        let run = |seed| {
            let mut r = Rng::new(seed);
            (0..8)
                .map(|a| next_retry(&p, a, 0, CLOSED, r.next_u32()))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }
}
