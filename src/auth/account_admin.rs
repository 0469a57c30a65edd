//! What an administrator does with an account's logins, for B2B accounts and Instore staffs
//! alike: list and revoke its tokens, and lift a login lock. The contexts route these under
//! `/api/v1/users/{id}/…` and `/api/v1/staffs/{id}/…` with their own permission checks.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::lockout;
use super::token::AccountKind;
use crate::audit::{self, Event};
use crate::db::list::{self, Conditions, ListFilter, ListSource, Window};
use crate::db::{Db, Query};
use crate::http::error::{ApiError, ApiResult};
use crate::http::time;
use crate::state::AppState;

/// A token as its account's list shows it: never the key (only its hash is stored anyway).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    pub id: i64,
    #[serde(serialize_with = "time::timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub created_date: DateTime<Utc>,
    /// The last request made with it, to the minute (written at most once a minute).
    #[serde(serialize_with = "time::optional_timestamp")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used: Option<DateTime<Utc>>,
    /// The `User-Agent` of the login that issued it.
    pub user_agent: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
pub struct TokenRow {
    id: i64,
    created_at: DateTime<Utc>,
    last_used: Option<DateTime<Utc>>,
    user_agent: Option<String>,
}

impl From<TokenRow> for TokenOut {
    fn from(row: TokenRow) -> Self {
        TokenOut {
            id: row.id,
            created_date: row.created_at,
            last_used: row.last_used,
            user_agent: row.user_agent,
        }
    }
}

const TOKENS: ListSource =
    ListSource::new("api_tokens", "id, created_at, last_used, user_agent", "id");

/// The tokens of one account.
struct OfAccount {
    kind: AccountKind,
    id: i64,
}

impl ListFilter for OfAccount {
    fn apply(&self, c: &mut Conditions<'_>) {
        c.eq("account_kind", Some(self.kind.as_str()))
            .eq("account_id", Some(self.id));
    }
}

/// Whether the account exists (any state): the endpoints answer 404 otherwise.
async fn exists(db: &Db, kind: AccountKind, id: i64) -> ApiResult<()> {
    let table = match kind {
        AccountKind::User => "users",
        AccountKind::Staff => "staffs",
    };
    let found: i64 = Query::new(format!("SELECT COUNT(*) FROM {table} WHERE id = $1"))
        .bind(id)
        .scalar(db)
        .await?;
    if found == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(())
}

/// One page of an account's tokens, oldest first.
pub async fn tokens(
    db: &Db,
    kind: AccountKind,
    id: i64,
    window: Window,
) -> ApiResult<(i64, Vec<TokenRow>)> {
    exists(db, kind, id).await?;
    Ok(list::list_page(db, &TOKENS, window, &OfAccount { kind, id }).await?)
}

/// Revokes every token of an account; cached callers are forgotten at once.
pub async fn revoke_all(state: &AppState, kind: AccountKind, id: i64) -> ApiResult<()> {
    exists(&state.db, kind, id).await?;
    let mut tx = state.db.begin().await?;
    let removed = Query::new("DELETE FROM api_tokens WHERE account_kind = $1 AND account_id = $2")
        .bind(kind.as_str())
        .bind(id)
        .execute(&mut tx)
        .await?;
    let event = Event::new("token.revoke", kind.as_str(), id);
    let removed = i64::try_from(removed).unwrap_or(i64::MAX);
    audit::record(&mut tx, event.change("revoked_count", Value::Null, removed)).await?;
    tx.commit().await?;
    state.auth_cache.forget_all();
    Ok(())
}

/// Revokes one token of an account; 404 when the account has no such token.
pub async fn revoke(state: &AppState, kind: AccountKind, id: i64, token_id: i64) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    let removed = Query::new(
        "DELETE FROM api_tokens WHERE id = $1 AND account_kind = $2 AND account_id = $3",
    )
    .bind(token_id)
    .bind(kind.as_str())
    .bind(id)
    .execute(&mut tx)
    .await?;
    if removed == 0 {
        return Err(ApiError::NotFound);
    }
    let event = Event::new("token.revoke", kind.as_str(), id);
    audit::record(&mut tx, event.change("revoked_id", Value::Null, token_id)).await?;
    tx.commit().await?;
    state.auth_cache.forget_all();
    Ok(())
}

/// Lifts an account's login lock and forgets its failures and earlier locks.
pub async fn unlock(db: &Db, kind: AccountKind, id: i64) -> ApiResult<()> {
    exists(db, kind, id).await?;
    let mut tx = db.begin().await?;
    Query::new("DELETE FROM login_guards WHERE account = $1")
        .bind(lockout::account_key(kind, id))
        .execute(&mut tx)
        .await?;
    audit::record(&mut tx, Event::new("auth.unlock", kind.as_str(), id)).await?;
    tx.commit().await?;
    Ok(())
}
