//! The outbox: one delivery per active webhook that subscribes to an audit event, written by
//! [`queue`] in the transaction of the change (so a rolled-back change sends nothing), then
//! attempted by the job workers until a 2xx or for 24 hours.
//!
//! Deliveries for one object (a webhook, a target type and id) go out in order: a delivery
//! queued while an earlier one for the same object is unfinished is `waiting`, and becomes
//! `pending` (with its job) when the earlier one is delivered or has failed. [`queue`] reads
//! what is ahead with it locked, so this holds under concurrent commits on PostgreSQL too.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::types::{DeliveryFilter, DeliveryRow};
use super::{DELIVER_JOB, SCHEDULE};
use crate::audit::{self, Event, actions};
use crate::db::list::{self, ListSource};
use crate::db::{Db, Query, Tx};
use crate::http::error::{ApiError, ApiResult};
use crate::http::time;
use crate::jobs::{self, NewJob};

const DELIVERY_COLUMNS: &str = "id, event_id, action, status, attempts, last_status_code, \
    last_error, last_attempt_date, next_attempt_date, created_date";
const DELIVERIES: ListSource = ListSource::new("webhook_deliveries", DELIVERY_COLUMNS, "id DESC");

/// An audit event as it was recorded: what its deliveries announce.
#[derive(Debug)]
pub struct Occurrence {
    pub event_id: i64,
    pub action: &'static str,
    pub created_date: DateTime<Utc>,
    pub target_type: &'static str,
    pub target_id: Option<i64>,
    /// The event's changes, secrets already dropped.
    pub changes: Map<String, Value>,
}

impl Occurrence {
    /// The body every webhook receives: the event, and in `data` what it changed.
    pub fn payload(&self) -> Value {
        json!({
            "id": self.event_id,
            "type": self.action,
            "created_date": time::format(&self.created_date),
            "data": {"id": self.target_id, "type": self.target_type, "changes": self.changes},
        })
    }
}

/// Queues a delivery of `event` for every active webhook that subscribes to its action, in
/// the caller's transaction. Without subscribers this is one statement that inserts nothing.
///
/// Whether an unfinished delivery for the object is ahead is read with those deliveries locked
/// (`FOR UPDATE` on PostgreSQL): when a worker is finishing the one ahead, this waits for its
/// commit and sees it finished (so the new delivery is `pending`), or the worker's release of
/// the next waiting delivery runs after this commit and finds it. Either way no delivery is
/// left `waiting` with nothing ahead of it. SQLite's single writer already orders the two.
pub async fn queue(tx: &mut Tx, event: &Occurrence) -> Result<(), sqlx::Error> {
    let [exact, prefix, all] = actions::patterns_of(event.action);
    let queued: Vec<(i64, String)> = Query::new(format!(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, action, target_type, target_id, \
         payload, status, attempts, created_date, next_attempt_date) \
         SELECT w.id, $1, $2, $3, $4, $5, \
           CASE WHEN EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = w.id \
             AND d.target_type = $3 AND d.target_id = $4 AND d.status IN ('waiting', 'pending') \
             {lock}) \
           THEN 'waiting' ELSE 'pending' END, 0, $6, $6 \
         FROM webhooks w WHERE w.is_active = TRUE AND EXISTS (SELECT 1 FROM webhook_events e \
           WHERE e.webhook_id = w.id AND e.pattern IN ($7, $8, $9)) \
         RETURNING id, status",
        lock = tx.dialect().for_update(),
    ))
    .bind(event.event_id)
    .bind(event.action)
    .bind(event.target_type)
    .bind(event.target_id)
    .bind(event.payload().to_string())
    .bind(event.created_date)
    .bind(exact)
    .bind(prefix)
    .bind(all)
    .fetch_all(&mut *tx)
    .await?;
    for (id, status) in queued {
        if status == "pending" {
            schedule(tx, id, Duration::ZERO).await?;
        }
    }
    Ok(())
}

/// Queues the job of a delivery's next attempt, due after `delay`.
async fn schedule(tx: &mut Tx, delivery: i64, delay: Duration) -> Result<(), sqlx::Error> {
    jobs::enqueue(
        &mut *tx,
        NewJob::new(DELIVER_JOB, json!({ "delivery_id": delivery })).after(delay),
    )
    .await?;
    Ok(())
}

/// A delivery about to be attempted, with its webhook (no `Debug`: it holds the secret).
#[derive(sqlx::FromRow)]
pub struct Due {
    pub id: i64,
    pub webhook_id: i64,
    pub event_id: i64,
    pub target_type: String,
    pub target_id: Option<i64>,
    pub payload: String,
    pub status: String,
    pub attempts: i64,
    pub created_date: DateTime<Utc>,
    pub url: String,
    pub secret: String,
    pub is_active: bool,
}

pub async fn due(db: &Db, delivery: i64) -> Result<Option<Due>, sqlx::Error> {
    Query::new(
        "SELECT d.id, d.webhook_id, d.event_id, d.target_type, d.target_id, d.payload, d.status, \
         d.attempts, d.created_date, w.url, w.secret, w.is_active \
         FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = $1",
    )
    .bind(delivery)
    .fetch_optional(db)
    .await
}

/// How one attempt ended.
#[derive(Debug)]
pub struct Outcome {
    /// The answer's status, when one came.
    pub status_code: Option<u16>,
    /// Why it failed; `None` for a 2xx.
    pub error: Option<String>,
}

/// Records an attempt: delivered on a 2xx; otherwise the next attempt after the backoff, or
/// `failed` once that would be past 24 hours. A finished delivery lets the next one for the
/// same object go. The webhook's failures in a row are counted; reaching `disable_after`
/// (when not 0) deactivates it ([`disable`]).
pub async fn record_attempt(
    db: &Db,
    d: &Due,
    outcome: &Outcome,
    disable_after: u32,
) -> Result<(), sqlx::Error> {
    let now = time::now();
    let attempts = d.attempts + 1;
    let next = now + chrono::Duration::from_std(SCHEDULE.delay(attempts)).unwrap_or_default();
    let give_up = next > d.created_date + chrono::Duration::hours(super::RETRY_HOURS);
    let status = match (&outcome.error, give_up) {
        (None, _) => "delivered",
        (Some(_), true) => "failed",
        (Some(_), false) => "pending",
    };
    let mut tx = db.begin().await?;
    Query::new(
        "UPDATE webhook_deliveries SET status = $1, attempts = $2, last_status_code = $3, \
         last_error = $4, last_attempt_date = $5, next_attempt_date = $6 WHERE id = $7",
    )
    .bind(status)
    .bind(attempts)
    .bind(outcome.status_code.map(i64::from))
    .bind(outcome.error.clone())
    .bind(now)
    .bind((status == "pending").then_some(next))
    .bind(d.id)
    .execute(&mut tx)
    .await?;
    if status == "pending" {
        schedule(&mut tx, d.id, SCHEDULE.delay(attempts)).await?;
    } else {
        release_next(&mut tx, d).await?;
    }
    let failures: i64 = Query::new(
        "UPDATE webhooks SET failures = CASE WHEN $1 THEN 0 ELSE failures + 1 END \
         WHERE id = $2 RETURNING failures",
    )
    .bind(outcome.error.is_none())
    .bind(d.webhook_id)
    .scalar_optional(&mut tx)
    .await?
    .unwrap_or_default();
    if disable_after > 0 && failures >= i64::from(disable_after) {
        disable(&mut tx, d.webhook_id, failures).await?;
    }
    tx.commit().await
}

/// Deactivates a webhook that failed `failures` times in a row: its unfinished deliveries
/// are marked failed, and the audit log (and the webhooks subscribed to it) is told.
async fn disable(tx: &mut Tx, webhook: i64, failures: i64) -> Result<(), sqlx::Error> {
    let changed = Query::new(
        "UPDATE webhooks SET is_active = FALSE, modified_date = $1 \
         WHERE id = $2 AND is_active = TRUE",
    )
    .bind(time::now())
    .bind(webhook)
    .execute(&mut *tx)
    .await?;
    if changed == 0 {
        return Ok(());
    }
    Query::new(
        "UPDATE webhook_deliveries SET status = 'failed', next_attempt_date = NULL, \
         last_error = COALESCE(last_error, $1) \
         WHERE webhook_id = $2 AND status IN ('waiting', 'pending')",
    )
    .bind(DISABLED)
    .bind(webhook)
    .execute(&mut *tx)
    .await?;
    let event = Event::new("webhook.disable", "webhook", webhook)
        .change("is_active", true, false)
        .change("failures", Value::Null, failures);
    audit::record(tx, event).await
}

/// Why the unfinished deliveries of a webhook deactivated for its failures were dropped.
const DISABLED: &str = "The webhook was deactivated after failing repeatedly.";

/// Marks a delivery failed without an attempt (its webhook was deactivated).
pub async fn abandon(db: &Db, d: &Due, why: &str) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    Query::new(
        "UPDATE webhook_deliveries SET status = 'failed', last_error = $1, \
         next_attempt_date = NULL WHERE id = $2",
    )
    .bind(why)
    .bind(d.id)
    .execute(&mut tx)
    .await?;
    release_next(&mut tx, d).await?;
    tx.commit_bookkeeping().await
}

/// Lets the earliest waiting delivery for the same webhook and object go.
async fn release_next(tx: &mut Tx, d: &Due) -> Result<(), sqlx::Error> {
    let Some(target_id) = d.target_id else {
        return Ok(());
    };
    let next: Option<i64> = Query::new(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_date = $1 \
         WHERE id = (SELECT MIN(id) FROM webhook_deliveries WHERE webhook_id = $2 \
           AND target_type = $3 AND target_id = $4 AND status = 'waiting') RETURNING id",
    )
    .bind(time::now())
    .bind(d.webhook_id)
    .bind(d.target_type.as_str())
    .bind(target_id)
    .scalar_optional(&mut *tx)
    .await?;
    if let Some(next) = next {
        schedule(tx, next, Duration::ZERO).await?;
    }
    Ok(())
}

/// Lets go the waiting deliveries with nothing unfinished ahead of them any more. [`queue`]'s
/// lock leaves none such; this periodic cleanup stays as a safety net. Returns how many.
pub async fn release_stranded(db: &Db) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin().await?;
    let released: Vec<i64> = Query::new(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_date = $1 \
         WHERE status = 'waiting' AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
           WHERE e.webhook_id = webhook_deliveries.webhook_id \
           AND e.target_type = webhook_deliveries.target_type \
           AND e.target_id = webhook_deliveries.target_id \
           AND e.id < webhook_deliveries.id AND e.status IN ('waiting', 'pending')) \
         RETURNING id",
    )
    .bind(time::now())
    .scalars(&mut tx)
    .await?;
    for &id in &released {
        schedule(&mut tx, id, Duration::ZERO).await?;
    }
    tx.commit_bookkeeping().await?;
    Ok(released.len() as u64)
}

/// Deletes the finished deliveries queued before `cutoff` (they follow the audit log's
/// retention); how many.
pub async fn purge_before(db: &Db, cutoff: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    Query::new(
        "DELETE FROM webhook_deliveries WHERE status IN ('delivered', 'failed') \
         AND created_date < $1",
    )
    .bind(cutoff)
    .execute_bookkeeping(db)
    .await
}

/// One page of a webhook's deliveries, newest first; 404 for an unknown webhook.
pub async fn page(
    db: &Db,
    filter: &DeliveryFilter,
    window: list::Window,
) -> ApiResult<(i64, Vec<DeliveryRow>)> {
    exists(db, filter.webhook_id).await?;
    Ok(list::list_page(db, &DELIVERIES, window, filter).await?)
}

async fn exists(db: &Db, webhook: i64) -> ApiResult<()> {
    let found: Option<i64> = Query::new("SELECT id FROM webhooks WHERE id = $1")
        .bind(webhook)
        .scalar_optional(db)
        .await?;
    found.map(|_| ()).ok_or(ApiError::NotFound)
}

/// Queues the event of a delivery again for its webhook, as a new delivery with the same
/// body and `Kadro-Event-Id` (after any unfinished delivery for the same object).
pub async fn redeliver(db: &Db, webhook: i64, delivery: i64) -> ApiResult<DeliveryRow> {
    let mut tx = db.begin().await?;
    let active: Option<bool> = Query::new(
        "SELECT w.is_active FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
         WHERE d.id = $1 AND d.webhook_id = $2",
    )
    .bind(delivery)
    .bind(webhook)
    .scalar_optional(&mut tx)
    .await?;
    match active {
        None => return Err(ApiError::NotFound),
        Some(false) => return Err(ApiError::BadRequest("The webhook is not active.".into())),
        Some(true) => {}
    }
    // Locked as in `queue`, for the same reason.
    let (id, status): (i64, String) = Query::new(format!(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, action, target_type, target_id, \
         payload, status, attempts, created_date, next_attempt_date) \
         SELECT o.webhook_id, o.event_id, o.action, o.target_type, o.target_id, o.payload, \
           CASE WHEN EXISTS (SELECT 1 FROM webhook_deliveries d \
             WHERE d.webhook_id = o.webhook_id AND d.target_type = o.target_type \
             AND d.target_id = o.target_id AND d.status IN ('waiting', 'pending') {lock}) \
           THEN 'waiting' ELSE 'pending' END, 0, $2, $2 \
         FROM webhook_deliveries o WHERE o.id = $1 RETURNING id, status",
        lock = tx.dialect().for_update(),
    ))
    .bind(delivery)
    .bind(time::now())
    .fetch_one(&mut tx)
    .await?;
    if status == "pending" {
        schedule(&mut tx, id, Duration::ZERO).await?;
    }
    let event =
        Event::new("webhook.redeliver", "webhook", webhook).change("delivery", delivery, id);
    audit::record(&mut tx, event).await?;
    let row: DeliveryRow = Query::new(format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}
