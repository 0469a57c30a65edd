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

mod guards;
mod policy;

pub use guards::{account_key, forget_idle, reset};
pub use policy::{FORGET_AFTER, LockoutPolicy};

use self::guards::{claim, name_key};
use super::token::AccountKind;
use crate::audit::{self, Actor, Event};
use crate::db::{Db, Query};
use crate::http::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The same answer for an unknown account, a wrong password, an inactive or a locked account.
pub const BAD_CREDENTIALS: &str = "Unable to log in with provided credentials.";

/// Why a login failed, as `/metrics` counts it (the client always gets the same answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No account has the login name.
    UnknownAccount,
    WrongPassword,
    /// The right password of a deactivated account.
    Inactive,
    /// Refused before the password was checked: the account is locked.
    Locked,
}

impl Failure {
    /// Every reason, in the order `/metrics` shows them from the start.
    pub const ALL: [Failure; 4] = [
        Failure::UnknownAccount,
        Failure::WrongPassword,
        Failure::Inactive,
        Failure::Locked,
    ];

    /// The `reason` label of `kadro_login_failures_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::UnknownAccount => "unknown_account",
            Failure::WrongPassword => "wrong_password",
            Failure::Inactive => "inactive",
            Failure::Locked => "locked",
        }
    }
}

/// Records a failed login on its own (the request's transaction, if any, rolls back).
async fn record_failure(
    db: &Db,
    kind: AccountKind,
    login: &str,
    id: Option<i64>,
    reason: Failure,
) -> ApiResult<()> {
    metrics::counter!("kadro_login_failures_total", "kind" => kind.as_str(), "reason" => reason.as_str())
        .increment(1);
    let mut event = Event::on("auth.login_failed", kind.as_str(), id).by(Actor::Anonymous);
    let name = ["email:", "username:"]
        .iter()
        .find_map(|p| login.strip_prefix(p));
    event.actor_email = Some(name.unwrap_or(login).to_owned());
    audit::record_alone(db, event).await?;
    Ok(())
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
        let id = found.map(|a| a.id);
        record_failure(&state.db, kind, login, id, Failure::Locked).await?;
        return Err(bad());
    }
    let (id, hash, active) = match found {
        Some(a) => (Some(a.id), Some(a.password_hash), a.is_active),
        None => (None, None, false),
    };
    let legacy = hash.clone().filter(|h| super::legacy::is_legacy(h));
    let plain = legacy.as_ref().map(|_| password.clone());
    let matches = state.passwords.verify(password, hash).await?;
    let reason = match id {
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
            Failure::Inactive
        }
        Some(_) => Failure::WrongPassword,
        None => Failure::UnknownAccount,
    };
    record_failure(&state.db, kind, login, id, reason).await?;
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
