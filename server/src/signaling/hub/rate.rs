//! The per-connection request budget: a token bucket.
//!
//! Too small for a rate-limiting library to pay off: one bucket per connection, refilled from
//! the time the hub is given (no clock of its own), with the one twist the hub needs — it says
//! whether a refusal is the first of its excess, so that a flood is told once and then dropped.

/// Requests a connection may still send: refilled at `rate` per second, holding at most `rate`
/// (so bursts up to one second's worth). A new bucket is empty and last refilled at time 0, so
/// it is full by the first request of a server that has run for a second.
#[derive(Debug, Default)]
pub(super) struct TokenBucket {
    tokens: f64,
    refilled_ms: u64,
    /// The connection went over the rate and was told so: until the bucket refills, further
    /// frames are dropped unanswered, so a flood cannot make the server write for it.
    limited: bool,
}

/// What [`TokenBucket::take`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Take {
    /// A token was taken: handle the request.
    Taken,
    /// Over the rate. `first`: the first refusal since the connection was last within it,
    /// which is answered; the rest are dropped unanswered.
    Refused { first: bool },
}

impl TokenBucket {
    /// Refill for the time since the last call, then take one token if there is one.
    pub(super) fn take(&mut self, rate: f64, now_ms: u64) -> Take {
        let elapsed = now_ms.saturating_sub(self.refilled_ms) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * rate).min(rate);
        self.refilled_ms = now_ms;
        if self.tokens < 1.0 {
            let first = !std::mem::replace(&mut self.limited, true);
            return Take::Refused { first };
        }
        self.limited = false;
        self.tokens -= 1.0;
        Take::Taken
    }
}

/// A room's budget for one kind of fan-out (room messages, extra info changes) and each of its
/// members': every such request is a frame to every other member, so both are bounded. The
/// member's budget is taken first, so one member's flood is refused without spending the
/// room's.
#[derive(Debug, Default)]
pub(super) struct RoomRates {
    room: TokenBucket,
    members: std::collections::HashMap<u64, TokenBucket>,
}

impl RoomRates {
    /// Takes one from `uid`'s budget (`member_rate` a second) and the room's (`room_rate`);
    /// whether both had one.
    pub(super) fn take(&mut self, uid: u64, member_rate: f64, room_rate: f64, now_ms: u64) -> bool {
        let refused = |t: Take| matches!(t, Take::Refused { .. });
        let member = self.members.entry(uid).or_default();
        !(refused(member.take(member_rate, now_ms)) || refused(self.room.take(room_rate, now_ms)))
    }

    /// Drops the budgets of members `stays` says have left.
    pub(super) fn keep_members(&mut self, stays: impl Fn(u64) -> bool) {
        self.members.retain(|uid, _| stays(*uid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_to_the_rate_then_refuses_once_and_refills() {
        let mut b = TokenBucket::default();
        for _ in 0..3 {
            assert_eq!(b.take(3.0, 1_000), Take::Taken);
        }
        assert_eq!(b.take(3.0, 1_000), Take::Refused { first: true });
        assert_eq!(b.take(3.0, 1_100), Take::Refused { first: false });
        // A third of a second later one token is back, and the next excess is told again.
        assert_eq!(b.take(3.0, 1_434), Take::Taken);
        assert_eq!(b.take(3.0, 1_434), Take::Refused { first: true });
    }
}
