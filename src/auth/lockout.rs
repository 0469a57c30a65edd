//! Per-account brute-force protection of both logins, kept in the database (`login_guards`) so
//! it holds across processes.
//!
//! Before a password is hashed, the attempt claims a slot of its account in one short write
//! transaction (the row locked on PostgreSQL, the writer's turn on SQLite). An account has
//! `KADRO_LOGIN_MAX_FAILURES` slots; the claim of the last one locks the account for
//! `KADRO_LOGIN_LOCKOUT_SECONDS` (doubling with each further lock, up to 15 minutes), and a
//! correct password lifts the lock and forgets every count. So however many attempts run in
//! parallel, at most that many passwords are evaluated before the lock, and an attempt
//! that dies half-way (a crash, a dropped connection) still counts as a failure.
//!
//! A locked account answers exactly as a wrong password does. A login name that matches no
//! account is guarded under the name itself, so it gets locked (and stops costing a hash) just
//! like a real account: the answers and their timing do not tell whether an account exists.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::token::AccountKind;
use crate::audit::{self, Actor, Event};
use crate::config::Config;
use crate::db::{Db, Query};
use crate::http::error::{ApiError, ApiResult};
use crate::http::time;
use crate::state::AppState;

/// The same answer for an unknown account, a wrong password, an inactive or a locked account.
pub const BAD_CREDENTIALS: &str = "Unable to log in with provided credentials.";

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
struct Guard {
    /// Slots claimed since the last success or lock.
    failures: i64,
    /// Locks since the last success or unlock (each doubles the next).
    locks: i64,
    locked_until: Option<DateTime<Utc>>,
    /// The last attempt.
    updated_at: DateTime<Utc>,
}

/// Failures and locks are forgotten this long after an account's last attempt (when no lock is
/// in force), so a few typos a month apart never add up to a lock.
pub const FORGET_AFTER: chrono::Duration = chrono::Duration::hours(12);

/// Claims a slot for one attempt at `now`: the new state, and whether the password may be
/// checked. Pure, so every case is unit-tested.
fn claim_at(mut guard: Guard, now: DateTime<Utc>, policy: &LockoutPolicy) -> (Guard, bool) {
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

/// The `login_guards` key of an account.
pub fn account_key(kind: AccountKind, id: i64) -> String {
    format!("{}:{id}", kind.as_str())
}

/// The `login_guards` key of a login name that matches no account.
fn name_key(kind: AccountKind, login: &str) -> String {
    format!("{}?{}", kind.as_str(), login.trim().to_lowercase())
}

/// Claims a slot for one attempt on `account`; false: the account is locked.
async fn claim(db: &Db, account: &str, policy: &LockoutPolicy) -> Result<bool, sqlx::Error> {
    let now = time::now();
    // A lock in force refuses with one read: a storm on a locked account costs no writes.
    // (Reading a lock just lifted only refuses one attempt that could have gone on.)
    let locked_until: Option<Option<DateTime<Utc>>> =
        Query::new("SELECT locked_until FROM login_guards WHERE account = $1")
            .bind(account)
            .scalar_optional(db)
            .await?;
    if locked_until.flatten().is_some_and(|until| until > now) {
        return Ok(false);
    }
    let mut tx = db.begin().await?;
    Query::new(
        "INSERT INTO login_guards (account, failures, locks, updated_at) VALUES ($1, 0, 0, $2) \
         ON CONFLICT (account) DO NOTHING",
    )
    .bind(account)
    .bind(now)
    .execute(&mut tx)
    .await?;
    let guard: Guard = Query::new(format!(
        "SELECT failures, locks, locked_until, updated_at FROM login_guards WHERE account = $1 {}",
        db.dialect().for_update()
    ))
    .bind(account)
    .fetch_one(&mut tx)
    .await?;
    let locks_before = guard.locks;
    let (guard, granted) = claim_at(guard, now, policy);
    if guard.locks > locks_before {
        // Names that match no account stay out of the logs (they may be anyone's typo).
        let account = if account.contains('?') {
            "unknown name"
        } else {
            account
        };
        tracing::warn!(account, until = %time::format(&guard.locked_until.unwrap_or(now)), "login locked");
        let (kind, id) = target_of(account);
        metrics::counter!("kadro_login_lockouts_total", "kind" => kind).increment(1);
        let until = guard.locked_until.map(|t| time::format(&t));
        let event = Event::on("auth.locked", kind, id).by(Actor::Service);
        audit::record(&mut tx, event.change("locked_until", Value::Null, until)).await?;
    }
    Query::new(
        "UPDATE login_guards SET failures = $2, locks = $3, locked_until = $4, updated_at = $5 \
         WHERE account = $1",
    )
    .bind(account)
    .bind(guard.failures)
    .bind(guard.locks)
    .bind(guard.locked_until)
    .bind(now)
    .execute(&mut tx)
    .await?;
    // Login guards change nothing a token grants: the token cache keeps its entries.
    tx.commit_bookkeeping().await?;
    Ok(granted)
}

/// The audit target of a guard's key: `user:12` → (`user`, 12); a name with no account has
/// its kind only.
fn target_of(key: &str) -> (&'static str, Option<i64>) {
    let kind = if key.starts_with("staff") {
        "staff"
    } else {
        "user"
    };
    let id = key.split_once(':').and_then(|(_, id)| id.parse().ok());
    (kind, id)
}

/// Records a failed login on its own (the request's transaction, if any, rolls back).
async fn record_failure(db: &Db, kind: AccountKind, login: &str, id: Option<i64>) -> ApiResult<()> {
    metrics::counter!("kadro_login_failures_total", "kind" => kind.as_str()).increment(1);
    let mut event = Event::on("auth.login_failed", kind.as_str(), id).by(Actor::Anonymous);
    let name = ["email:", "username:"]
        .iter()
        .find_map(|p| login.strip_prefix(p));
    event.actor_email = Some(name.unwrap_or(login).to_owned());
    audit::record_alone(db, event).await?;
    Ok(())
}

/// Forgets an account's failures and locks (a correct password, or an unlock).
pub async fn reset(db: &Db, account: &str) -> Result<(), sqlx::Error> {
    Query::new("DELETE FROM login_guards WHERE account = $1")
        .bind(account)
        .execute_bookkeeping(db)
        .await
        .map(|_| ())
}

/// Deletes the rows of accounts and names idle for [`FORGET_AFTER`] with no lock in force at
/// `now` (they would be forgotten at their next attempt anyway); how many went.
pub async fn forget_idle(db: &Db, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    Query::new(
        "DELETE FROM login_guards WHERE updated_at <= $1 AND (locked_until IS NULL OR locked_until <= $2)",
    )
    .bind(now - FORGET_AFTER)
    .bind(now)
    .execute_bookkeeping(db)
    .await
}

/// An account a login names, as the login reads it.
#[derive(Debug, sqlx::FromRow)]
pub struct LoginAccount {
    pub id: i64,
    pub password_hash: String,
    pub is_active: bool,
}

/// Checks a login's password under the lockout: the account's id when the password is right,
/// the account active and not locked; otherwise the one 400 of every failed login. An unknown
/// account costs the same hash as a wrong password.
pub async fn check_password(
    state: &AppState,
    kind: AccountKind,
    login: &str,
    found: Option<LoginAccount>,
    password: String,
) -> ApiResult<i64> {
    let bad = || ApiError::field("non_field_errors", BAD_CREDENTIALS);
    let policy = LockoutPolicy::from_config(&state.config);
    let key = match &found {
        Some(account) => account_key(kind, account.id),
        None => name_key(kind, login),
    };
    if policy.max_failures > 0 && !claim(&state.db, &key, &policy).await? {
        record_failure(&state.db, kind, login, found.map(|a| a.id)).await?;
        return Err(bad());
    }
    let (id, hash, active) = match found {
        Some(a) => (Some(a.id), Some(a.password_hash), a.is_active),
        None => (None, None, false),
    };
    let legacy = hash.clone().filter(|h| super::legacy::is_legacy(h));
    let plain = legacy.as_ref().map(|_| password.clone());
    let matches = state.passwords.verify(password, hash).await?;
    match id {
        Some(id) if matches => {
            if policy.max_failures > 0 {
                reset(&state.db, &key).await?;
            }
            if let (Some(old), Some(plain)) = (legacy, plain) {
                rehash(state, kind, id, &old, plain).await?;
            }
            if active {
                return Ok(id);
            }
        }
        _ => {}
    }
    record_failure(&state.db, kind, login, id).await?;
    Err(bad())
}

/// Replaces an imported (legacy) hash by kadro's Argon2id after a successful login; a
/// concurrent change of the password wins.
async fn rehash(
    state: &AppState,
    kind: AccountKind,
    id: i64,
    old: &str,
    password: String,
) -> ApiResult<()> {
    let new = state.passwords.hash(password).await?;
    let table = match kind {
        AccountKind::User => "users",
        AccountKind::Staff => "staffs",
    };
    let mut tx = state.db.begin().await?;
    Query::new(format!(
        "UPDATE {table} SET password_hash = $1 WHERE id = $2 AND password_hash = $3"
    ))
    .bind(new)
    .bind(id)
    .bind(old)
    .execute(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn names_without_an_account_fold_case() {
        assert_eq!(
            name_key(AccountKind::User, " Root@Example.COM "),
            "user?root@example.com"
        );
        assert_eq!(account_key(AccountKind::Staff, 4), "staff:4");
    }
}
