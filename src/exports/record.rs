//! The `exports` table: one row per requested file, found by its cache key.

use chrono::{DateTime, Utc};

use crate::auth::Caller;
use crate::db::{Db, Query, Tx};
use crate::http::time;

/// Where an export stands; the `status` of `?status_cache_key=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Waiting,
    Processing,
    Completed,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Processing => "processing",
            Status::Completed => "completed",
            Status::Failed => "failed",
        }
    }

    fn parse(value: &str) -> Status {
        match value {
            "processing" => Status::Processing,
            "completed" => Status::Completed,
            "failed" => Status::Failed,
            _ => Status::Waiting,
        }
    }
}

/// Who asked for an export; only they (or a superuser) may see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub kind: &'static str,
    pub id: Option<i64>,
}

impl Owner {
    pub fn of(caller: &Caller) -> Owner {
        match caller {
            Caller::Service => Owner {
                kind: "service",
                id: None,
            },
            Caller::User(u) => Owner {
                kind: "user",
                id: Some(u.id),
            },
            Caller::Staff(s) => Owner {
                kind: "staff",
                id: Some(s.id),
            },
        }
    }
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ExportRow {
    pub id: i64,
    pub cache_key: String,
    pub owner_kind: String,
    pub owner_id: Option<i64>,
    pub list: String,
    pub format: String,
    /// JSON array of the requested field names.
    pub fields: String,
    /// JSON of the list's parameters (its filters, a caller's scope).
    pub filter: String,
    status: String,
    pub reason: Option<String>,
    pub rows_written: i64,
    pub rows_total: Option<i64>,
    pub file_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl ExportRow {
    pub fn status(&self) -> Status {
        Status::parse(&self.status)
    }

    pub fn visible_to(&self, caller: &Caller) -> bool {
        let owner = Owner::of(caller);
        caller.is_superuser() || (self.owner_kind == owner.kind && self.owner_id == owner.id)
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }
}

const COLUMNS: &str = "id, cache_key, owner_kind, owner_id, list, format, fields, filter, status, \
    reason, rows_written, rows_total, file_name, created_at, expires_at";

/// What a new export starts with.
pub struct NewExport<'a> {
    pub cache_key: &'a str,
    pub owner: Owner,
    pub list: &'a str,
    pub format: &'a str,
    pub fields: String,
    pub filter: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(tx: &mut Tx, new: NewExport<'_>) -> Result<i64, sqlx::Error> {
    Query::new(
        "INSERT INTO exports (cache_key, owner_kind, owner_id, list, format, fields, filter, \
         status, rows_written, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'waiting', 0, $8, $9) RETURNING id",
    )
    .bind(new.cache_key)
    .bind(new.owner.kind)
    .bind(new.owner.id)
    .bind(new.list)
    .bind(new.format)
    .bind(new.fields)
    .bind(new.filter)
    .bind(time::now())
    .bind(new.expires_at)
    .scalar(tx)
    .await
}

pub async fn by_key(db: &Db, cache_key: &str) -> Result<Option<ExportRow>, sqlx::Error> {
    Query::new(format!(
        "SELECT {COLUMNS} FROM exports WHERE cache_key = $1"
    ))
    .bind(cache_key)
    .fetch_optional(db)
    .await
}

/// The newest exports `caller` may see (all of them for a superuser), newest first.
pub async fn recent(db: &Db, caller: &Caller, limit: i64) -> Result<Vec<ExportRow>, sqlx::Error> {
    if caller.is_superuser() {
        return Query::new(format!(
            "SELECT {COLUMNS} FROM exports ORDER BY id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(db)
        .await;
    }
    let owner = Owner::of(caller);
    Query::new(format!(
        "SELECT {COLUMNS} FROM exports WHERE owner_kind = $1 AND owner_id = $2 \
         ORDER BY id DESC LIMIT $3"
    ))
    .bind(owner.kind)
    .bind(owner.id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// An attempt starts (again) from scratch.
pub async fn start(db: &Db, id: i64) -> Result<(), sqlx::Error> {
    Query::new(
        "UPDATE exports SET status = 'processing', reason = NULL, rows_written = 0, \
         rows_total = NULL, file_name = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(db)
    .await
    .map(|_| ())
}

pub async fn set_total(db: &Db, id: i64, total: i64) -> Result<(), sqlx::Error> {
    Query::new("UPDATE exports SET rows_total = $1 WHERE id = $2")
        .bind(total)
        .bind(id)
        .execute(db)
        .await
        .map(|_| ())
}

pub async fn progress(db: &Db, id: i64, rows_written: i64) -> Result<(), sqlx::Error> {
    Query::new("UPDATE exports SET rows_written = $1 WHERE id = $2")
        .bind(rows_written)
        .bind(id)
        .execute(db)
        .await
        .map(|_| ())
}

pub async fn complete(
    db: &Db,
    id: i64,
    rows_written: i64,
    file_name: &str,
) -> Result<(), sqlx::Error> {
    Query::new(
        "UPDATE exports SET status = 'completed', reason = NULL, rows_written = $1, \
         rows_total = $1, file_name = $2 WHERE id = $3",
    )
    .bind(rows_written)
    .bind(file_name)
    .bind(id)
    .execute(db)
    .await
    .map(|_| ())
}

/// The attempt failed and another follows: the export waits again.
pub async fn retry_later(db: &Db, id: i64) -> Result<(), sqlx::Error> {
    Query::new("UPDATE exports SET status = 'waiting', rows_written = 0 WHERE id = $1")
        .bind(id)
        .execute(db)
        .await
        .map(|_| ())
}

/// Out of attempts: no file, and the reason the client is shown.
pub async fn fail(db: &Db, id: i64, reason: &str) -> Result<(), sqlx::Error> {
    Query::new(
        "UPDATE exports SET status = 'failed', reason = $1, rows_written = 0, file_name = NULL \
         WHERE id = $2",
    )
    .bind(reason)
    .bind(id)
    .execute(db)
    .await
    .map(|_| ())
}

/// An expired export, as the cleanup needs it.
#[derive(Debug, sqlx::FromRow)]
pub struct Expired {
    pub id: i64,
    pub cache_key: String,
    pub format: String,
    pub file_name: Option<String>,
}

/// Up to `limit` exports whose time ran out before `now`.
pub async fn expired(db: &Db, now: DateTime<Utc>, limit: i64) -> Result<Vec<Expired>, sqlx::Error> {
    Query::new(
        "SELECT id, cache_key, format, file_name FROM exports WHERE expires_at <= $1 \
         ORDER BY expires_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await
}

pub async fn delete(db: &Db, id: i64) -> Result<(), sqlx::Error> {
    Query::new("DELETE FROM exports WHERE id = $1")
        .bind(id)
        .execute(db)
        .await
        .map(|_| ())
}
