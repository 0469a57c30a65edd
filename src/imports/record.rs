//! The `imports` table (one row per uploaded file, found by its cache key) and the refused
//! rows of each (`import_errors`).

use chrono::{DateTime, Utc};

use crate::auth::Caller;
use crate::db::{Db, Query, Tx};
use crate::exports::record::{Owner, Status};
use crate::http::time;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ImportRow {
    pub id: i64,
    pub cache_key: String,
    pub owner_kind: String,
    pub owner_id: Option<i64>,
    /// What the rows are: `users`.
    pub target: String,
    pub mode: String,
    pub dry_run: bool,
    pub file_path: String,
    status: String,
    pub reason: Option<String>,
    /// JSON array of the warnings (unknown columns).
    pub warnings: String,
    pub rows_total: Option<i64>,
    /// Data rows whose batch has committed; a resumed import skips them.
    pub rows_done: i64,
    pub created: i64,
    pub updated: i64,
    pub failed: i64,
    pub expires_at: DateTime<Utc>,
}

impl ImportRow {
    pub fn status(&self) -> Status {
        match self.status.as_str() {
            "processing" => Status::Processing,
            "completed" => Status::Completed,
            "failed" => Status::Failed,
            _ => Status::Waiting,
        }
    }

    pub fn visible_to(&self, caller: &Caller) -> bool {
        let owner = Owner::of(caller);
        caller.is_superuser() || (self.owner_kind == owner.kind && self.owner_id == owner.id)
    }

    pub fn upsert(&self) -> bool {
        self.mode == "upsert"
    }
}

const COLUMNS: &str = "id, cache_key, owner_kind, owner_id, target, mode, dry_run, file_path, \
    status, reason, warnings, rows_total, rows_done, created, updated, failed, expires_at";

pub struct NewImport<'a> {
    pub cache_key: &'a str,
    pub owner: Owner,
    pub target: &'a str,
    pub upsert: bool,
    pub dry_run: bool,
    pub file_path: &'a str,
    pub warnings: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(tx: &mut Tx, new: NewImport<'_>) -> Result<i64, sqlx::Error> {
    Query::new(
        "INSERT INTO imports (cache_key, owner_kind, owner_id, target, mode, dry_run, file_path, \
         status, warnings, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'waiting', $8, $9, $10) RETURNING id",
    )
    .bind(new.cache_key)
    .bind(new.owner.kind)
    .bind(new.owner.id)
    .bind(new.target)
    .bind(if new.upsert { "upsert" } else { "create" })
    .bind(new.dry_run)
    .bind(new.file_path)
    .bind(new.warnings)
    .bind(time::now())
    .bind(new.expires_at)
    .scalar(tx)
    .await
}

pub async fn by_key(db: &Db, cache_key: &str) -> Result<Option<ImportRow>, sqlx::Error> {
    Query::new(format!(
        "SELECT {COLUMNS} FROM imports WHERE cache_key = $1"
    ))
    .bind(cache_key)
    .fetch_optional(db)
    .await
}

/// An attempt starts (or resumes): the rows' count once known.
pub async fn start(db: &Db, id: i64, rows_total: i64) -> Result<(), sqlx::Error> {
    Query::new("UPDATE imports SET status = 'processing', rows_total = $1 WHERE id = $2")
        .bind(rows_total)
        .bind(id)
        .execute(db)
        .await
        .map(|_| ())
}

/// The upload's path after it was converted (an XLSX file becomes CSV).
pub async fn set_file_path(db: &Db, id: i64, path: &str) -> Result<(), sqlx::Error> {
    Query::new("UPDATE imports SET file_path = $1 WHERE id = $2")
        .bind(path)
        .bind(id)
        .execute(db)
        .await
        .map(|_| ())
}

/// What one batch did; saved in the batch's own transaction.
#[derive(Debug, Default, Clone, Copy)]
pub struct BatchCounts {
    pub rows: i64,
    pub created: i64,
    pub updated: i64,
    pub failed: i64,
}

pub async fn add_batch(tx: &mut Tx, id: i64, c: BatchCounts) -> Result<(), sqlx::Error> {
    Query::new(
        "UPDATE imports SET rows_done = rows_done + $1, created = created + $2, \
         updated = updated + $3, failed = failed + $4 WHERE id = $5",
    )
    .bind(c.rows)
    .bind(c.created)
    .bind(c.updated)
    .bind(c.failed)
    .bind(id)
    .execute(tx)
    .await
    .map(|_| ())
}

pub async fn add_error(
    tx: &mut Tx,
    id: i64,
    row: i64,
    field: &str,
    message: &str,
) -> Result<(), sqlx::Error> {
    Query::new(
        "INSERT INTO import_errors (import_id, row_number, field, message) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(row)
    .bind(field)
    .bind(message)
    .execute(tx)
    .await
    .map(|_| ())
}

/// The counts an import ended with.
#[derive(Debug, sqlx::FromRow)]
pub struct Finished {
    pub rows_total: Option<i64>,
    pub rows_done: i64,
    pub created: i64,
    pub updated: i64,
    pub failed: i64,
}

/// Marks the import `completed` (no `reason`) or `failed`; returns its final counts.
pub async fn finish(tx: &mut Tx, id: i64, reason: Option<&str>) -> Result<Finished, sqlx::Error> {
    Query::new(
        "UPDATE imports SET status = $1, reason = $2 WHERE id = $3 \
         RETURNING rows_total, rows_done, created, updated, failed",
    )
    .bind(if reason.is_some() {
        "failed"
    } else {
        "completed"
    })
    .bind(reason)
    .bind(id)
    .fetch_one(tx)
    .await
}

/// One refused row of the report.
#[derive(Debug, sqlx::FromRow)]
pub struct ErrorRow {
    pub id: i64,
    pub row_number: i64,
    pub field: String,
    pub message: String,
}

/// The report's rows after `after` (keyset), in the order they were found.
pub async fn errors_after(
    db: &Db,
    import_id: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<ErrorRow>, sqlx::Error> {
    Query::new(
        "SELECT id, row_number, field, message FROM import_errors \
         WHERE import_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(import_id)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}
