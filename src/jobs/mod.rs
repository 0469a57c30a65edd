//! Durable background jobs in the application's own database.
//!
//! Written small by hand: a job must be inserted in the same transaction as the change that
//! needs it, on SQLite and PostgreSQL alike, and the queue crates that cover both backends
//! were too young to trust. A job is claimed with one `UPDATE … RETURNING` (with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent kadro processes never take the same
//! row), held under a lease that the worker extends while it runs, retried with capped
//! exponential backoff, and taken again by anyone once a dead worker's lease has expired.

pub mod worker;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::db::{Db, Query, Target};
use crate::http::{current_request_id, time};

/// How a failed job is retried.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// Delay before attempt `attempts + 1`: base · 2^(attempts − 1), at most `cap`.
    pub fn delay(&self, attempts: i64) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        self.base
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.cap)
    }
}

/// A job to enqueue.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub kind: &'static str,
    pub payload: Value,
    pub max_attempts: i64,
    /// How long after now the job first becomes due.
    pub delay: Duration,
}

impl NewJob {
    pub fn new(kind: &'static str, payload: Value) -> Self {
        Self {
            kind,
            payload,
            max_attempts: 25,
            delay: Duration::ZERO,
        }
    }

    /// The job first becomes due after `delay`.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A job claimed by a worker.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
    pub max_attempts: i64,
    /// The request that queued the job, if any: the worker's `job` span names it.
    pub request_id: Option<String>,
}

/// Inserts a job; pass the transaction of the change that needs it. The job keeps the id of
/// the request being handled ([`current_request_id`]), so its logs can be traced back.
pub async fn enqueue<'a>(target: impl Into<Target<'a>>, job: NewJob) -> Result<i64, sqlx::Error> {
    let now = time::now();
    Query::new(
        "INSERT INTO jobs (kind, payload, status, attempts, max_attempts, run_at, created_at, updated_at, request_id) \
         VALUES ($1, $2, 'queued', 0, $3, $4, $5, $5, $6) RETURNING id",
    )
    .bind(job.kind)
    .bind(job.payload.to_string())
    .bind(job.max_attempts)
    .bind(now + chrono::Duration::from_std(job.delay).unwrap_or_default())
    .bind(now)
    .bind(current_request_id())
    .scalar(target)
    .await
}

/// Removes a job that has not started yet (its work became unnecessary); false when it is
/// already running or finished.
pub async fn cancel<'a>(target: impl Into<Target<'a>>, id: i64) -> Result<bool, sqlx::Error> {
    let n = Query::new("DELETE FROM jobs WHERE id = $1 AND status = 'queued'")
        .bind(id)
        .execute(target)
        .await?;
    Ok(n == 1)
}

/// Claims the next due job for `worker` until `now + lease`: a queued job whose time has come,
/// or a running job whose worker's lease has expired.
pub async fn claim_next(
    db: &Db,
    worker: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Option<ClaimedJob>, sqlx::Error> {
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
    let sql = format!(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $1, \
         locked_until = $2, updated_at = $3 \
         WHERE id = (SELECT id FROM jobs \
            WHERE (status = 'queued' AND run_at <= $3) OR (status = 'running' AND locked_until < $3) \
            ORDER BY run_at, id LIMIT 1 {}) \
         RETURNING id, kind, payload, attempts, max_attempts, request_id",
        db.dialect().skip_locked()
    );
    Query::new(sql)
        .bind(worker)
        .bind(until)
        .bind(now)
        .fetch_optional(db)
        .await
}

/// Claims the job `id` for `worker` as [`claim_next`] would (when it is due, or its lease has
/// expired): a command that queued a job runs it itself without taking any other.
pub async fn claim_job(
    db: &Db,
    id: i64,
    worker: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Option<ClaimedJob>, sqlx::Error> {
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
    Query::new(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = $1, \
         locked_until = $2, updated_at = $3 \
         WHERE id = $4 AND ((status = 'queued' AND run_at <= $3) \
            OR (status = 'running' AND locked_until < $3)) \
         RETURNING id, kind, payload, attempts, max_attempts, request_id",
    )
    .bind(worker)
    .bind(until)
    .bind(now)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Extends the lease of a job this worker still holds; false when it lost it.
pub async fn extend_lease(
    db: &Db,
    id: i64,
    worker: &str,
    until: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let n = Query::new(
        "UPDATE jobs SET locked_until = $1 WHERE id = $2 AND locked_by = $3 AND status = 'running'",
    )
    .bind(until)
    .bind(id)
    .bind(worker)
    .execute(db)
    .await?;
    Ok(n == 1)
}

/// Marks a job done.
pub async fn complete(db: &Db, id: i64, worker: &str) -> Result<(), sqlx::Error> {
    Query::new(
        "UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, last_error = NULL, \
         updated_at = $1 WHERE id = $2 AND locked_by = $3",
    )
    .bind(time::now())
    .bind(id)
    .bind(worker)
    .execute(db)
    .await
    .map(|_| ())
}

/// Records a failed attempt: queued again after the backoff, or `failed` when out of attempts
/// (or when the error is permanent).
pub async fn fail(
    db: &Db,
    job: &ClaimedJob,
    worker: &str,
    error: &str,
    permanent: bool,
    policy: RetryPolicy,
) -> Result<(), sqlx::Error> {
    let now = time::now();
    let give_up = permanent || job.attempts >= job.max_attempts;
    let delay = chrono::Duration::from_std(policy.delay(job.attempts)).unwrap_or_default();
    Query::new(
        "UPDATE jobs SET status = $1, run_at = $2, last_error = $3, locked_by = NULL, \
         locked_until = NULL, updated_at = $4 WHERE id = $5 AND locked_by = $6",
    )
    .bind(if give_up { "failed" } else { "queued" })
    .bind(now + delay)
    .bind(error.chars().take(2000).collect::<String>())
    .bind(now)
    .bind(job.id)
    .bind(worker)
    .execute(db)
    .await
    .map(|_| ())
}

/// Gives a job back untouched (shutdown): it runs again at once, and the attempt is not counted.
pub async fn release(db: &Db, id: i64, worker: &str) -> Result<(), sqlx::Error> {
    Query::new(
        "UPDATE jobs SET status = 'queued', attempts = attempts - 1, locked_by = NULL, \
         locked_until = NULL, updated_at = $1 WHERE id = $2 AND locked_by = $3 AND status = 'running'",
    )
    .bind(time::now())
    .bind(id)
    .bind(worker)
    .execute(db)
    .await
    .map(|_| ())
}

/// Jobs waiting or running, for `/metrics`.
pub async fn queue_depth(db: &Db) -> Result<i64, sqlx::Error> {
    Query::new("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")
        .scalar(db)
        .await
}

/// Jobs queued or running, by kind.
pub async fn queue_depth_by_kind(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Depth {
        kind: String,
        n: i64,
    }
    let rows: Vec<Depth> = Query::new(
        "SELECT kind, COUNT(*) AS n FROM jobs WHERE status IN ('queued', 'running') GROUP BY kind",
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|d| (d.kind, d.n)).collect())
}

/// Removes finished jobs older than `before` (the periodic cleanup keeps the table small).
pub async fn purge_finished(db: &Db, before: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    Query::new("DELETE FROM jobs WHERE status IN ('done', 'failed') AND updated_at < $1")
        .bind(before)
        .execute(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(60),
        };
        assert_eq!(p.delay(1), Duration::from_secs(2));
        assert_eq!(p.delay(2), Duration::from_secs(4));
        assert_eq!(p.delay(5), Duration::from_secs(32));
        assert_eq!(p.delay(6), Duration::from_secs(60));
        assert_eq!(p.delay(60), Duration::from_secs(60));
    }
}
