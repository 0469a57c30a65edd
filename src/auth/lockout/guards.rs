//! The `login_guards` table: one row per account (or login name with no account) holding its
//! failures, locks and lock end; claims are short write transactions, so the count holds
//! across processes.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::policy::{FORGET_AFTER, Guard, LockoutPolicy, claim_at};
use crate::audit::{self, Actor, Event};
use crate::auth::token::AccountKind;
use crate::db::{Db, Query};
use crate::http::time;

/// The `login_guards` key of an account.
pub fn account_key(kind: AccountKind, id: i64) -> String {
    format!("{}:{id}", kind.as_str())
}

/// The `login_guards` key of a login name that matches no account.
pub(super) fn name_key(kind: AccountKind, login: &str) -> String {
    format!("{}?{}", kind.as_str(), login.trim().to_lowercase())
}

/// Claims a slot for one attempt on `account`; false: the account is locked.
pub(super) async fn claim(
    db: &Db,
    account: &str,
    policy: &LockoutPolicy,
) -> Result<bool, sqlx::Error> {
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
    // One statement creates the row or locks the existing one, and returns it either way: a
    // separate insert then `SELECT … FOR UPDATE` finds no row when a correct password's reset
    // deletes it in between (PostgreSQL skips a row deleted while it waited for its lock).
    let guard: Guard = Query::new(
        "INSERT INTO login_guards (account, failures, locks, updated_at) VALUES ($1, 0, 0, $2) \
         ON CONFLICT (account) DO UPDATE SET account = excluded.account \
         RETURNING failures, locks, locked_until, updated_at",
    )
    .bind(account)
    .bind(now)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_without_an_account_fold_case() {
        assert_eq!(
            name_key(AccountKind::User, " Root@Example.COM "),
            "user?root@example.com"
        );
        assert_eq!(account_key(AccountKind::Staff, 4), "staff:4");
    }
}
