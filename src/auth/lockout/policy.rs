//! The lockout's rule, without storage: how an attempt claims a slot of its account, when
//! that locks the account and for how long, and when old failures are forgotten.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Config;

/// The longest a lock lasts, however often it doubled (unless the first lock is longer).
const LONGEST_LOCK: Duration = Duration::from_secs(15 * 60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Slots before a lock; 0 turns the lockout off.
    pub max_failures: u32,
    pub first_lock: Duration,
}

impl LockoutPolicy {
    pub fn from_config(config: &Config) -> Self {
        Self {
            max_failures: config.login_max_failures,
            first_lock: Duration::from_secs(config.login_lockout_seconds),
        }
    }

    /// How long the lock after `earlier` locks lasts.
    fn lock_length(&self, earlier: i64) -> Duration {
        let doublings = u32::try_from(earlier.clamp(0, 20)).unwrap_or(20);
        self.first_lock
            .saturating_mul(1 << doublings)
            .min(LONGEST_LOCK.max(self.first_lock))
    }
}

/// An account's row in `login_guards`.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub(super) struct Guard {
    /// Slots claimed since the last success or lock.
    pub(super) failures: i64,
    /// Locks since the last success or unlock (each doubles the next).
    pub(super) locks: i64,
    pub(super) locked_until: Option<DateTime<Utc>>,
    /// The last attempt.
    pub(super) updated_at: DateTime<Utc>,
}

/// Failures and locks are forgotten this long after an account's last attempt (when no lock is
/// in force), so a few typos a month apart never add up to a lock.
pub const FORGET_AFTER: chrono::Duration = chrono::Duration::hours(12);

/// Claims a slot for one attempt at `now`: the new state, and whether the password may be
/// checked. Pure, so every case is unit-tested.
pub(super) fn claim_at(
    mut guard: Guard,
    now: DateTime<Utc>,
    policy: &LockoutPolicy,
) -> (Guard, bool) {
    let in_force = guard.locked_until.is_some_and(|until| until > now);
    if !in_force && now - guard.updated_at >= FORGET_AFTER {
        guard.failures = 0;
        guard.locks = 0;
        guard.locked_until = None;
    }
    guard.updated_at = now;
    if let Some(until) = guard.locked_until {
        if until > now {
            return (guard, false);
        }
        guard.locked_until = None;
        guard.failures = 0;
    }
    let lock = |guard: &mut Guard| {
        let length = policy.lock_length(guard.locks);
        let length = chrono::Duration::from_std(length).unwrap_or(chrono::Duration::MAX);
        guard.locked_until = Some(now + length);
        guard.locks += 1;
        guard.failures = 0;
    };
    let max = i64::from(policy.max_failures);
    if guard.failures >= max {
        // Only when the limit was lowered since: lock now.
        lock(&mut guard);
        return (guard, false);
    }
    guard.failures += 1;
    if guard.failures >= max {
        // The last slot: locked unless this very attempt turns out right.
        lock(&mut guard);
    }
    (guard, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::time;

    fn policy(max: u32, first: u64) -> LockoutPolicy {
        LockoutPolicy {
            max_failures: max,
            first_lock: Duration::from_secs(first),
        }
    }

    fn fresh() -> Guard {
        Guard {
            failures: 0,
            locks: 0,
            locked_until: None,
            updated_at: time::now(),
        }
    }

    #[test]
    fn the_last_slot_locks_and_the_lock_refuses_until_it_ends() {
        let p = policy(3, 60);
        let t = time::now();
        let mut g = fresh();
        for n in 1..=2 {
            let (next, granted) = claim_at(g, t, &p);
            assert!(granted);
            assert_eq!((next.failures, next.locked_until), (n, None));
            g = next;
        }
        let (g, granted) = claim_at(g, t, &p);
        assert!(granted, "the third attempt is still checked");
        assert_eq!(g.locked_until, Some(t + chrono::Duration::seconds(60)));
        assert_eq!((g.failures, g.locks), (0, 1));
        let (same, granted) = claim_at(g.clone(), t + chrono::Duration::seconds(59), &p);
        assert!(!granted);
        assert_eq!(
            (same.failures, same.locks, same.locked_until),
            (g.failures, g.locks, g.locked_until),
            "a refused attempt changes no count"
        );
        let (after, granted) = claim_at(g, t + chrono::Duration::seconds(60), &p);
        assert!(granted);
        assert_eq!(
            (after.failures, after.locks, after.locked_until),
            (1, 1, None)
        );
    }

    #[test]
    fn locks_double_up_to_fifteen_minutes() {
        let p = policy(5, 60);
        let lengths: Vec<u64> = (0..7).map(|n| p.lock_length(n).as_secs()).collect();
        assert_eq!(lengths, [60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(p.lock_length(i64::MAX).as_secs(), 900);
        // A first lock longer than the cap is kept as configured.
        assert_eq!(policy(5, 3600).lock_length(3).as_secs(), 3600);
    }

    #[test]
    fn a_lowered_limit_locks_at_once() {
        let g = Guard {
            failures: 7,
            ..fresh()
        };
        let (g, granted) = claim_at(g, time::now(), &policy(5, 60));
        assert!(!granted);
        assert!(g.locked_until.is_some());
    }

    #[test]
    fn failures_and_locks_are_forgotten_after_a_quiet_spell() {
        let p = policy(3, 60);
        let t = time::now();
        let old = Guard {
            failures: 2,
            locks: 4,
            locked_until: Some(t - chrono::Duration::hours(13)),
            updated_at: t - chrono::Duration::hours(13),
        };
        let (g, granted) = claim_at(old.clone(), t, &p);
        assert!(granted);
        assert_eq!(
            (g.failures, g.locks, g.locked_until, g.updated_at),
            (1, 0, None, t)
        );
        // Within the spell the counts stand: the next failure locks, for 2^4 minutes' cap.
        let recent = Guard {
            updated_at: t - chrono::Duration::hours(11),
            locked_until: None,
            ..old.clone()
        };
        let (g, granted) = claim_at(recent, t, &p);
        assert!(granted);
        assert_eq!(g.locked_until, Some(t + chrono::Duration::seconds(900)));
        // A lock in force is never forgotten.
        let locked = Guard {
            locked_until: Some(t + chrono::Duration::seconds(5)),
            ..old
        };
        assert!(!claim_at(locked, t, &p).1);
    }
}
