//! API tokens: 160 random bits shown once, stored only as a SHA-256 hash.
//!
//! Tokens carry their full entropy, so a fast hash is enough to make a stolen table useless;
//! Argon2 would only slow every request down.

use crate::audit::Event;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::{Db, Query, Tx};
use crate::http::time;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountKind {
    User,
    Staff,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::User => "user",
            AccountKind::Staff => "staff",
        }
    }
}

/// A fresh token: 20 random bytes as 40 hex characters, like DRF's.
pub fn generate() -> String {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Issues a token for an account inside `tx`; the plain token is returned once.
pub async fn issue(tx: &mut Tx, kind: AccountKind, account_id: i64) -> Result<String, sqlx::Error> {
    issue_for(tx, kind, account_id, None).await
}

/// [`issue`] with its `token.issue` event: a token made outside a login (the command line, the
/// first start; a login's token is its `auth.login`).
pub async fn grant(tx: &mut Tx, kind: AccountKind, account_id: i64) -> Result<String, sqlx::Error> {
    let token = issue(tx, kind, account_id).await?;
    crate::audit::record(tx, Event::new("token.issue", kind.as_str(), account_id)).await?;
    Ok(token)
}

/// [`issue`] for a login, remembering the client's `User-Agent` for the token list.
pub async fn issue_for(
    tx: &mut Tx,
    kind: AccountKind,
    account_id: i64,
    user_agent: Option<&str>,
) -> Result<String, sqlx::Error> {
    let token = generate();
    Query::new(
        "INSERT INTO api_tokens (key_hash, account_kind, account_id, created_at, user_agent) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(digest(&token))
    .bind(kind.as_str())
    .bind(account_id)
    .bind(time::now())
    .bind(user_agent)
    .execute(tx)
    .await?;
    Ok(token)
}

/// How often a token's `last_used` is written at most.
pub const LAST_USED_EVERY: Duration = Duration::from_secs(60);

/// Records that token `id` was used at `now`, unless that was recorded less than
/// [`LAST_USED_EVERY`] ago (by any process): a busy token costs one write a minute.
pub async fn touch(db: &Db, id: i64, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    let every = chrono::Duration::from_std(LAST_USED_EVERY).unwrap_or_default();
    Query::new(
        "UPDATE api_tokens SET last_used = $2 WHERE id = $1 AND (last_used IS NULL OR last_used <= $3)",
    )
    .bind(id)
    .bind(now)
    .bind(now - every)
    .execute_bookkeeping(db)
    .await
    .map(|_| ())
}

/// Revokes one token (a logout: `auth.logout`); true when it existed.
pub async fn revoke(db: &Db, token: &str) -> Result<bool, sqlx::Error> {
    revoke_as(db, token, "auth.logout").await
}

/// Revokes one token, recorded as `action` (`token.revoke` from the command line).
pub async fn revoke_as(db: &Db, token: &str, action: &'static str) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let removed: Option<(i64, String, i64)> = Query::new(
        "DELETE FROM api_tokens WHERE key_hash = $1 RETURNING id, account_kind, account_id",
    )
    .bind(digest(token))
    .fetch_optional(&mut tx)
    .await?;
    if let Some((_, kind, account)) = &removed {
        let target = if kind == "staff" { "staff" } else { "user" };
        crate::audit::record(&mut tx, Event::new(action, target, *account)).await?;
    }
    tx.commit().await?;
    Ok(removed.is_some())
}

/// Revokes every token of an account (deactivation).
pub async fn revoke_all(
    tx: &mut Tx,
    kind: AccountKind,
    account_id: i64,
) -> Result<u64, sqlx::Error> {
    Query::new("DELETE FROM api_tokens WHERE account_kind = $1 AND account_id = $2")
        .bind(kind.as_str())
        .bind(account_id)
        .execute(tx)
        .await
}
