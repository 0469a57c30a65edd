//! Division rows and their queries.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::b2b::user_filter::DIVISION_TYPES;
use crate::commerce::jobs::SYNC_ACTIVE;
use crate::db::list::{Conditions, ListFilter, ListSource, Window, list_page};
use crate::db::{Db, Query, Target, Tx};
use crate::http::filters::{FilterParser, FromQuery};
use crate::http::time::{self, timestamp};

const COLUMNS: &str = "id, name, division_type, parent_id, erp_code, is_active, extra_data, created_date, modified_date";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DivisionRow {
    pub id: i64,
    pub name: String,
    pub division_type: String,
    pub parent_id: Option<i64>,
    pub erp_code: Option<String>,
    pub is_active: bool,
    pub extra_data: sqlx::types::Json<serde_json::Value>,
    pub created_date: DateTime<Utc>,
    pub modified_date: DateTime<Utc>,
}

/// A division as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DivisionOut {
    pub id: i64,
    pub name: String,
    /// `main` or `sub`.
    pub division_type: String,
    /// Id of the main division of a sub division.
    pub parent: Option<i64>,
    pub erp_code: Option<String>,
    pub is_active: bool,
    #[schema(value_type = Object)]
    pub extra_data: serde_json::Value,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub created_date: DateTime<Utc>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub modified_date: DateTime<Utc>,
}

impl From<DivisionRow> for DivisionOut {
    fn from(r: DivisionRow) -> Self {
        DivisionOut {
            id: r.id,
            name: r.name,
            division_type: r.division_type,
            parent: r.parent_id,
            erp_code: r.erp_code,
            is_active: r.is_active,
            extra_data: r.extra_data.0,
            created_date: r.created_date,
            modified_date: r.modified_date,
        }
    }
}

/// The writable fields, complete (PATCH merges into the stored row first).
#[derive(Clone, Debug)]
pub struct DivisionFields {
    pub name: String,
    pub division_type: String,
    pub parent_id: Option<i64>,
    pub erp_code: Option<String>,
    pub is_active: bool,
    pub extra_data: serde_json::Value,
}

const SOURCE: ListSource = ListSource::new("divisions", COLUMNS, "id");

/// The list filters: `name`, `erp_code` (case-insensitive contains), `division_type`, `is_active`.
#[derive(Debug, Default)]
pub struct DivisionFilter {
    pub name: Option<String>,
    pub erp_code: Option<String>,
    pub division_type: Option<&'static str>,
    pub is_active: Option<bool>,
    /// The main division of sub-divisions (`parent`).
    pub parent: Option<i64>,
}

impl FromQuery for DivisionFilter {
    fn from_query(p: &mut FilterParser<'_>) -> Self {
        DivisionFilter {
            name: p.text("name"),
            erp_code: p.text("erp_code"),
            division_type: p.choice("division_type", DIVISION_TYPES),
            is_active: p.boolean("is_active"),
            parent: p.integer("parent"),
        }
    }
}

impl ListFilter for DivisionFilter {
    fn apply(&self, c: &mut Conditions<'_>) {
        c.contains("name", self.name.as_deref())
            .contains("erp_code", self.erp_code.as_deref())
            .eq("division_type", self.division_type)
            .eq("is_active", self.is_active)
            .eq("parent_id", self.parent);
    }
}

pub async fn by_id<'a>(
    target: impl Into<Target<'a>>,
    id: i64,
) -> Result<Option<DivisionRow>, sqlx::Error> {
    Query::new(format!("SELECT {COLUMNS} FROM divisions WHERE id = $1"))
        .bind(id)
        .fetch_optional(target)
        .await
}

pub async fn list(
    db: &Db,
    filter: &DivisionFilter,
    window: Window,
) -> Result<(i64, Vec<DivisionRow>), sqlx::Error> {
    list_page(db, &SOURCE, window, filter).await
}

/// The caller's division and, for a main division, its subs.
pub async fn own_and_subs(
    db: &Db,
    division: i64,
    window: Window,
) -> Result<(i64, Vec<DivisionRow>), sqlx::Error> {
    list_page(db, &SOURCE, window, &OwnAndSubs(division)).await
}

/// A division and the divisions whose parent it is.
struct OwnAndSubs(i64);

impl ListFilter for OwnAndSubs {
    fn apply(&self, c: &mut Conditions<'_>) {
        c.raw("", self.0, " IN (id, parent_id)");
    }
}

pub async fn insert(tx: &mut Tx, f: &DivisionFields) -> Result<i64, sqlx::Error> {
    let now = time::now();
    Query::new(
        "INSERT INTO divisions (name, division_type, parent_id, erp_code, is_active, extra_data, created_date, modified_date) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(f.name.as_str())
    .bind(f.division_type.as_str())
    .bind(f.parent_id)
    .bind(f.erp_code.clone())
    .bind(f.is_active)
    .bind(f.extra_data.clone())
    .bind(now)
    .scalar(tx)
    .await
}

pub async fn update(tx: &mut Tx, id: i64, f: &DivisionFields) -> Result<(), sqlx::Error> {
    Query::new(
        "UPDATE divisions SET name = $1, division_type = $2, parent_id = $3, erp_code = $4, is_active = $5, \
         extra_data = $6, modified_date = $7 WHERE id = $8",
    )
    .bind(f.name.as_str())
    .bind(f.division_type.as_str())
    .bind(f.parent_id)
    .bind(f.erp_code.clone())
    .bind(f.is_active)
    .bind(f.extra_data.clone())
    .bind(time::now())
    .bind(id)
    .execute(tx)
    .await
    .map(|_| ())
}

pub async fn has_subs<'a>(target: impl Into<Target<'a>>, id: i64) -> Result<bool, sqlx::Error> {
    let n: i64 = Query::new("SELECT COUNT(*) FROM divisions WHERE parent_id = $1")
        .bind(id)
        .scalar(target)
        .await?;
    Ok(n > 0)
}

pub async fn in_use(tx: &mut Tx, id: i64) -> Result<bool, sqlx::Error> {
    let n: i64 = Query::new(
        "SELECT (SELECT COUNT(*) FROM divisions WHERE parent_id = $1) + (SELECT COUNT(*) FROM users WHERE division_id = $1)",
    )
    .bind(id)
    .scalar(tx)
    .await?;
    Ok(n > 0)
}

pub async fn delete(tx: &mut Tx, id: i64) -> Result<(), sqlx::Error> {
    Query::new("DELETE FROM divisions WHERE id = $1")
        .bind(id)
        .execute(tx)
        .await
        .map(|_| ())
}

pub async fn set_active(tx: &mut Tx, id: i64, active: bool) -> Result<(), sqlx::Error> {
    Query::new("UPDATE divisions SET is_active = $1, modified_date = $2 WHERE id = $3")
        .bind(active)
        .bind(time::now())
        .bind(id)
        .execute(tx)
        .await
        .map(|_| ())
}

/// Deactivates the division's active users and, when Commerce is in use, queues one durable
/// sync job per user that Commerce knows, all in the caller's transaction: a large division
/// costs two statements here, and the Commerce calls happen in the background.
pub async fn deactivate_users(
    tx: &mut Tx,
    division: i64,
    sync_commerce: bool,
) -> Result<u64, sqlx::Error> {
    if sync_commerce {
        let now = time::now();
        Query::new(
            "INSERT INTO jobs (kind, payload, status, attempts, max_attempts, run_at, created_at, updated_at, request_id) \
             SELECT $1, '{\"user_id\":' || id || '}', 'queued', 0, $2, $3, $3, $3, $5 FROM users \
             WHERE division_id = $4 AND is_active = TRUE AND remote_id IS NOT NULL",
        )
        .bind(SYNC_ACTIVE)
        .bind(crate::jobs::NewJob::new(SYNC_ACTIVE, serde_json::Value::Null).max_attempts)
        .bind(now)
        .bind(division)
        .bind(crate::http::current_request_id())
        .execute(&mut *tx)
        .await?;
    }
    Query::new("UPDATE users SET is_active = FALSE WHERE division_id = $1 AND is_active = TRUE")
        .bind(division)
        .execute(tx)
        .await
}
